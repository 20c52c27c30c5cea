import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Synchronization
import Testing
import TulgaCore
import TulgaCrypto
import TulgaFlow
import TulgaStorage
import TulgaTestSupport
@testable import TulgaServer

/// Log lines kept in memory, as `tulga serve --log-format json` would write them.
final class LogSink: Sendable {
    private let lines = Mutex<[String]>([])
    var all: [String] { lines.withLock { $0 } }
    func logger(clock: any WallClock) -> Logger {
        var logger = Logger(label: "tulga") { [self] label in
            JSONLogHandler(label: label, clock: clock) { line in self.lines.withLock { $0.append(line) } }
        }
        logger.logLevel = .trace
        return logger
    }
}

@Suite("JSON logs, and no secret in any log line", .serialized)
struct LogTests {
    @Test("one object per line: time (UTC, ms), level, label, message, fields; strings escaped; nested fields stay nested")
    func format() throws {
        let sink = LogSink(), clock = ManualClock(1_764_648_000.125)
        var logger = sink.logger(clock: clock)
        logger[metadataKey: "node"] = "n1"
        logger.info("say \"hi\"\n\tthen\u{1}", metadata: ["status": "202", "list": ["a", "b"], "nested": ["k": "v"]])
        logger.debug("plain")
        let lines = sink.all
        #expect(lines.count == 2 && lines.allSatisfy { $0.hasSuffix("}\n") && $0.dropLast().contains("\n") == false })
        let first = try #require(try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any])
        #expect(first["time"] as? String == "2025-12-02T04:00:00.125Z")
        #expect(first["level"] as? String == "info" && first["label"] as? String == "tulga")
        #expect(first["message"] as? String == "say \"hi\"\n\tthen\u{1}")
        let fields = try #require(first["fields"] as? [String: Any])
        #expect(fields["node"] as? String == "n1" && fields["status"] as? String == "202")
        #expect(fields["list"] as? [String] == ["a", "b"] && fields["nested"] as? [String: String] == ["k": "v"])
        let second = try #require(try JSONSerialization.jsonObject(with: Data(lines[1].utf8)) as? [String: Any])
        #expect(second["level"] as? String == "debug" && (second["fields"] as? [String: Any])?["node"] as? String == "n1")
    }

    /// README's walkthrough at trace level, through a real client over loopback, then every line searched
    /// for what must never be logged.
    @Test("the whole walkthrough at trace level: no line holds the IIN, phone, code, PIN, password, application number, an API key, an image, a key or the document's data")
    func noSecretsInLogs() async throws {
        let f = try await Fixture.make(documentStep: true)
        let sink = LogSink()
        let walked = try await f.app(logger: sink.logger(clock: f.clock)).testLive { client in
            let walked = try await WalkthroughTests.walk(client, f)
            // A refused call and a bad body too: their problems are logged by route, not by content.
            try await client.execute(uri: "/v1/digital-id/pin", method: .post, headers: Fixture.headers("issuance"),
                                     body: body(#"{"iin":"850314300013","pin":"999999"}"#)) { #expect($0.status.code >= 400) }
            try await client.execute(uri: "/v1/sms/confirm", method: .post, headers: Fixture.headers("issuance"), body: body("{\"iin\":")) {
                #expect($0.status == .badRequest)
            }
            // A browser's portal session: its cookie and CSRF token, and its code, are never logged either.
            var (browser, _) = try await AppPortalTests.Browser.begin(client)
            try await browser.bind(Fixture.linIIN, f)
            #expect(try await browser.call("/app/api/sms/request", ["iin": Fixture.obamaIIN], csrf: .some("wrong")).code == "csrf")
            return (walked, browser, try await AppPortalTests.lastCode(f, Fixture.linIIN))
        }
        await f.store.database.close()
        let (code, number) = (walked.0.code, walked.0.number)
        let lines = sink.all
        // Every request was logged (by route and status): the search below had something to search.
        #expect(lines.filter { $0.contains("\"message\":\"request\"") }.count >= 12, "\(lines.count) lines")
        for line in lines {
            #expect(try JSONSerialization.jsonObject(with: Data(line.utf8)) is [String: Any], "not one JSON object: \(line)")
        }
        let text = lines.joined()
        let secrets = [Fixture.linIIN, "+77010000001", "77010000001", code, "402719", "999999", "Walk#Pass1", number, walked.1.cookie, walked.1.csrf,
                       sha256Hex(walked.1.cookie), walked.2, Fixture.linCard, "MIRANDA"]
            + Fixture.keys.values.map { String($0) }
        for secret in secrets { #expect(!text.contains(secret), "a log line holds \(secret.prefix(3))…") }
        // No image, PEM block (key, request, certificate) or long encoded blob.
        #expect(!text.contains("-----BEGIN"))
        #expect(text.range(of: "[A-Za-z0-9+/=_-]{120,}", options: .regularExpression) == nil)
    }
}
