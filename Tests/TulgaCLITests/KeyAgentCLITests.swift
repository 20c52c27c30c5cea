import Foundation
import Testing
import TulgaTestSupport

/// `tulga keys agent` as an applicant runs it: a process, its first line, a page talking to it, SIGTERM.
@Suite("tulga keys agent: the process")
struct KeyAgentCLITests {
    @Test("--help says what it refuses; a bad --origin is refused before listening")
    func help() throws {
        let help = try CLI.run(["keys", "agent", "--help"])
        #expect(help.status == 0)
        // Read as one line: ArgumentParser wraps the text to the terminal's width.
        let text = help.stdout.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        for phrase in ["ws://127.0.0.1:PORT/ only", "Refuses the upgrade (403)", "a missing Origin too", "at most 64 KiB", "(1003)", "keys_exist",
                       "$TULGA_KEY_PASSWORD", "--token-module", "a second request waits for the first", "pending gives the requests",
                       "install writes nothing unless both certificates chain", "audience is the asking page's origin",
                       "without --ca-root the check is one of consistency", "install refuses with certificate_untrusted", "name no local path"] {
            #expect(text.contains(phrase), "\(phrase) missing from --help")
        }
        let bad = try CLI.run(["keys", "agent", "--folder", Temp.dir("tulga-agent-cli"), "--origin", "http://127.0.0.1:8080/app/"])
        #expect(bad.status == 3 && bad.stderr.contains("an origin has no path"), "\(bad.stderr)")
        #expect(try CLI.run(["keys", "agent", "--origin", "http://127.0.0.1:8080"]).stderr.contains("give either --folder or --token-module"))
        // --ca-root must be one root CA certificate, read before listening (keys install checks it the same way).
        let notRoot = Temp.dir("tulga-agent-cli") + "/root.pem"
        try Data("not a certificate".utf8).write(to: URL(fileURLWithPath: notRoot))
        for command in [["keys", "agent"], ["keys", "install", "00000000000001"]] {
            let refused = try CLI.run(command + ["--folder", Temp.dir("tulga-agent-cli"), "--ca-root", notRoot])
            #expect(refused.status == 3 && refused.stderr.contains("--ca-root") && refused.stderr.contains("must hold one PEM certificate"), "\(refused.stderr)")
            #expect(try CLI.run(command + ["--folder", Temp.dir("tulga-agent-cli"), "--ca-root", "/nonexistent/root.pem"]).stderr.contains("cannot read"))
        }
        let installHelp = try CLI.run(["keys", "install", "--help"]).stdout.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        #expect(installHelp.contains("not that the CA is one you trust") && installHelp.contains("--ca-root"), "\(installHelp)")
    }

    @Test("listens on the port it prints, admits only its --origin, answers with the password from the environment, stops on SIGTERM")
    func process() async throws {
        let folder = Temp.dir("tulga-agent-cli") + "/keys"
        let agent = Process()
        agent.executableURL = URL(fileURLWithPath: CLI.binary)
        agent.arguments = ["keys", "agent", "--folder", folder, "--port", "0", "--origin", "http://127.0.0.1:9999", "--json"]
        agent.environment = ProcessInfo.processInfo.environment.merging(["TULGA_KEY_PASSWORD": "Agent12@pass"]) { $1 }
        let out = Pipe(), err = Pipe()
        (agent.standardOutput, agent.standardError) = (out, err)
        try agent.run()
        let first = try #require(ServeLogTests.read(until: "\n", out.fileHandleForReading))
        let started = try #require(try JSONSerialization.jsonObject(with: Data(first.utf8)) as? [String: Any])
        let port = try #require(started["port"] as? Int)
        #expect(started["url"] as? String == "ws://127.0.0.1:\(port)/" && started["storage"] as? String == "folder")
        #expect(started["origins"] as? [String] == ["http://127.0.0.1:9999"])
        #expect(try await WebSocketTestClient.status(port: port, origin: "http://127.0.0.1:8080") == 403)
        let generated = try await WebSocketTestClient.session(port: port, origin: "http://127.0.0.1:9999") { (client) async throws in
            let hello = try await client.call(#"{"id":1,"method":"hello"}"#)
            #expect((hello["result"] as? [String: Any])?["storage"] as? String == "folder")
            let answer = try await client.call(#"{"id":2,"method":"generate","params":{"iin":"850314300013","algorithm":"p256"}}"#)
            return ((answer["result"] as? [String: Any])?["requests"] as? [String: String])?["AUTH"] ?? "\(answer)"
        }
        #expect(generated.hasPrefix("-----BEGIN CERTIFICATE REQUEST-----"), "\(generated)")
        agent.terminate()
        let log = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        agent.waitUntilExit()
        #expect(agent.terminationStatus == 0, "\(log)")
        #expect(log.contains("\"outcome\":\"ok\"") && log.contains("\"method\":\"generate\""), "\(log)")
        #expect(!log.contains("Agent12@pass") && !log.contains("850314300013"))
    }
}
