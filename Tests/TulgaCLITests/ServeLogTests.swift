import Foundation
import Testing
import TulgaTestSupport

/// `tulga serve` as an operator runs it: its log lines and its probes, over a real socket.
@Suite("tulga serve: JSON log lines and the probes")
struct ServeLogTests {
    /// Reads `handle` until `text` appears; everything read, or `nil` if the writer closed first.
    static func read(until text: String, _ handle: FileHandle) -> String? {
        var seen = ""
        while !seen.contains(text) {
            let chunk = handle.availableData
            if chunk.isEmpty { return nil }
            seen += String(decoding: chunk, as: UTF8.self)
        }
        return seen
    }

    /// curl's standard output (`-s` added).
    static func curl(_ args: [String]) throws -> String { try TulgaTestSupport.curl(args) }

    @Test("--log-format json: every line on standard error is one object with time, level, label, message; an unknown TULGA_LOG_FORMAT is refused")
    func jsonLines() throws {
        let w = try Workspace()
        let refused = try w.run(["serve", "--port", "1"], env: ["TULGA_LOG_FORMAT": "yaml"])
        #expect(refused.status != 0 && refused.stderr.contains("TULGA_LOG_FORMAT must be text or json"), "\(refused.stderr)")
        #expect(try w.run(["registry", "import", "--csv", w.dir + "/registry.csv", "--photos", w.dir + "/photos"]).status == 0)
        let port = Int.random(in: 20000...40000)
        let server = Process()
        server.executableURL = URL(fileURLWithPath: CLI.binary)
        server.arguments = ["serve", "--port", "\(port)", "--log-format", "json"] + w.storeArgs
        server.environment = ProcessInfo.processInfo.environment.merging(["LOG_LEVEL": "debug"]) { $1 }
        server.currentDirectoryURL = URL(fileURLWithPath: w.dir)
        let log = Pipe()
        server.standardError = log
        try server.run()
        let started = try #require(Self.read(until: "listening", log.fileHandleForReading))
        #expect(try Self.curl(["http://127.0.0.1:\(port)/health/live"]).contains("\"live\""))
        let ready = try Self.curl(["-w", " %{http_code}", "http://127.0.0.1:\(port)/health/ready"])
        #expect(ready.contains("\"status\":\"ready\"") && ready.hasSuffix(" 200"), "\(ready)")
        #expect(try Self.curl(["-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", "http://127.0.0.1:\(port)/v1/verifications",
                               "-d", #"{"iin":"850314300013"}"#]) == "401")
        server.terminate()
        let rest = String(decoding: log.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        server.waitUntilExit()
        let lines = (started + rest).split(separator: "\n")
        var routes: [String] = [], warnings: [[String: Any]] = []
        for line in lines {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "\(line)")
            #expect((object["time"] as? String)?.range(of: #"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$"#, options: .regularExpression) != nil)
            #expect(["trace", "debug", "info", "notice", "warning", "error", "critical"].contains(object["level"] as? String ?? ""))
            #expect(object["label"] is String && object["message"] is String)
            if object["message"] as? String == "request", let route = (object["fields"] as? [String: Any])?["route"] as? String { routes.append(route) }
            if object["level"] as? String == "warning", (object["message"] as? String)?.contains("ca.publicBaseURL is empty") == true { warnings.append(object) }
        }
        #expect(routes == ["/health/live", "/health/ready", "/v1/verifications"], "\(routes)")
        // --port moved this process only: the CA's derived public URL is not what other commands derive, and it says so.
        let fields = warnings.first?["fields"] as? [String: Any]
        #expect(warnings.count == 1 && fields?["serving"] as? String == "http://127.0.0.1:\(port)" && fields?["configured"] as? String == "http://127.0.0.1:8080",
                "\(warnings)")
        #expect(!(started + rest).contains("850314300013"))
        #expect(server.terminationStatus == 0)
    }
}
