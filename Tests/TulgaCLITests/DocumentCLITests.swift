import Foundation
import Testing
import TulgaTestSupport

/// `tulga document read` on documents scripts/render-document makes in a temporary folder.
@Suite("tulga document read", .serialized)
struct DocumentCLITests {
    /// Renders one document and returns its photos and the truth's MRZ lines.
    static func render(_ kind: String, variant: String = "normal", seed: Int) throws -> (files: [String], mrz: [String], folder: String) {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("tulga-cli-documents-\(UUID())").path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = [RepositoryPaths.root + "/scripts/render-document", "--kind", kind, "--out", out, "--seed", String(seed),
                             "--variant", variant, "--faces", RepositoryPaths.shared + "/faces"]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let path = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        process.waitUntilExit()
        let truth = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
        return (try #require(truth["files"] as? [String]), try #require(truth["mrz"] as? [String]), out)
    }

    @Test("an ID card: exit 0, the fields and every check printed")
    func idCard() throws {
        let doc = try Self.render("id-card", seed: 11)
        defer { try? FileManager.default.removeItem(atPath: doc.folder) }
        let r = try CLI.run(["document", "read"] + doc.files + ["--type", "id-card"])
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        #expect(r.stdout.contains("decision   accepted"))
        for check in ["check_digit_document_number", "check_digit_birth_date", "check_digit_expiry_date", "check_digit_composite", "not_expired", "portrait"] {
            #expect(r.stdout.contains("check      ok   \(check)"))
        }
        #expect(r.stdout.contains(doc.mrz[2]))
    }

    @Test("--json for scripts; a refusal exits 2 and names its reason")
    func jsonAndRefusal() throws {
        let doc = try Self.render("passport", variant: "bad-check", seed: 12)
        defer { try? FileManager.default.removeItem(atPath: doc.folder) }
        let r = try CLI.run(["document", "read"] + doc.files + ["--json"])
        #expect(r.status == 2, "\(r.stdout)\(r.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        #expect(json["decision"] as? String == "refused")
        let refusal = try #require(json["refusal"] as? [String: Any])
        #expect(refusal["code"] as? String == "check_digit_document_number")
        let checks = try #require(json["checks"] as? [[String: Any]])
        #expect(checks.contains { $0["name"] as? String == "check_digit_document_number" && $0["passed"] as? Bool == false })
    }

    @Test("the wrong type and a file that is no picture")
    func wrongTypeAndJunk() throws {
        let doc = try Self.render("passport", seed: 13)
        defer { try? FileManager.default.removeItem(atPath: doc.folder) }
        let r = try CLI.run(["document", "read"] + doc.files + ["--type", "id-card"])
        #expect(r.status == 2 && r.stdout.contains("wrong_document_type"), "\(r.stdout)")
        let junk = doc.folder + "/junk.jpg"
        try Data("not a picture".utf8).write(to: URL(fileURLWithPath: junk))
        let j = try CLI.run(["document", "read", junk])
        #expect(j.status == 2 && j.stdout.contains("unsupported_format"), "\(j.stdout)")
        let usage = try CLI.run(["document", "read", junk, "--type", "visa"])
        #expect(usage.status == 3)
    }
}
