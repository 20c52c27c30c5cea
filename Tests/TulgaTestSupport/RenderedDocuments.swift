import Foundation

/// Documents made by scripts/render-document into a temporary folder: never committed.
public enum Generated {
    /// The truth the generator writes beside each document.
    public struct Document: Decodable, Sendable {
        public let kind: String
        /// The photos: the passport page, or the ID card's front then back.
        public let files: [String]
        public let mrz: [String]
        public let iin: String
        /// The fixture face printed as the portrait.
        public let portrait: String?
    }

    /// The day ManualClock starts on, so generated expiry dates agree with the reader's today.
    public static let today = "2027-01-15"

    /// Renders one document; `clean` leaves out the camera's degradation. `person` fixes the data and the
    /// portrait (`--iin`, `--surname`, `--given-names`, `--number`, `--portrait`, each followed by its value).
    public static func render(_ kind: String, variant: String = "normal", seed: Int = 1, clean: Bool = false, today: String = today,
                              person: [String] = []) throws -> Document {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("tulga-documents-\(UUID())").path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = [RepositoryPaths.root + "/scripts/render-document", "--kind", kind, "--out", out, "--seed", String(seed),
                             "--variant", variant, "--today", today, "--faces", RepositoryPaths.shared + "/faces"] + (clean ? ["--clean"] : []) + person
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let path = String(decoding: output, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard process.terminationStatus == 0, !path.isEmpty else { throw RenderFailure() }
        return try JSONDecoder().decode(Document.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
    }

    /// Removes the document's folder.
    public static func remove(_ document: Document) {
        if let first = document.files.first { try? FileManager.default.removeItem(atPath: (first as NSString).deletingLastPathComponent) }
    }

    /// scripts/render-document failed (it says why on standard error).
    public struct RenderFailure: Error {}
}
