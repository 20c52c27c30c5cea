import Foundation
import TulgaCore
import TulgaDocument
import TulgaFace
import TulgaMRZ

/// The truth `scripts/render-document` writes beside each document.
struct DocumentTruth: Decodable {
    let kind: String
    let files: [String]
    let mrz: [String]
}

/// Reads every generated document in `--dir` and prints, per kind: the share read fully correct
/// (accepted, every MRZ line equal to the truth after correction, a portrait), the share refused
/// with a named reason (and the reasons), the share read wrong but accepted, and the median time
/// per document (decoding, page, zone, OCR, portrait). `--kind id-card|passport` reads one kind only.
func documentsBenchmark(_ options: Options) throws {
    guard let dir = options.directory else { throw FaceError(.invalidArgument, "documents needs --dir DIR (from scripts/render-document)") }
    let reader = DocumentReader(engine: try FaceEngine(config: FaceConfig(modelsDirectory: options.models)), ocr: try MRZReader())
    let names = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".json") }.sorted()
    struct Tally { var total = 0, correct = 0, refused = 0, wrong = 0; var reasons: [String: Int] = [:]; var times: [Double] = []; var wrongItems: [String] = [] }
    var tallies: [String: Tally] = [:]
    for name in names {
        let truth = try JSONDecoder().decode(DocumentTruth.self, from: Data(contentsOf: URL(fileURLWithPath: dir + "/" + name)))
        if let only = options.kind, truth.kind != only { continue }
        let t0 = now()
        let photos = try truth.files.map { try Image(contentsOf: $0) }
        let reading = reader.read(photos, expecting: truth.kind == "passport" ? .passport : .idCard)
        let elapsed = now() - t0
        var tally = tallies[truth.kind, default: Tally()]
        tally.total += 1
        tally.times.append(elapsed)
        if let refusal = reading.refusal {
            tally.refused += 1
            tally.reasons[refusal.errorCode, default: 0] += 1
        } else if reading.mrz?.lines == truth.mrz, reading.portrait != nil {
            tally.correct += 1
        } else {
            tally.wrong += 1
            tally.wrongItems.append(name + ": " + (reading.mrz?.lines.joined(separator: "|") ?? "-"))
        }
        tallies[truth.kind] = tally
    }
    for (kind, t) in tallies.sorted(by: { $0.key < $1.key }) {
        func share(_ n: Int) -> String { String(format: "%.1f%% (%d)", 100 * Double(n) / Double(max(1, t.total)), n) }
        print("\(kind): \(t.total) documents")
        print("  read fully correct     \(share(t.correct))")
        print("  refused, named reason  \(share(t.refused))" + (t.reasons.isEmpty ? "" : "  " + t.reasons.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")))
        print("  read wrong, accepted   \(share(t.wrong))")
        print(String(format: "  median time            %.0f ms per document (p90 %.0f ms)", percentile(t.times, 0.5), percentile(t.times, 0.9)))
        for item in t.wrongItems { print("  wrong: \(item)") }
    }
}
