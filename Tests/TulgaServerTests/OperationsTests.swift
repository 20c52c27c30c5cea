import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import Logging
import TulgaConfig
import TulgaCore
import TulgaCrypto
import TulgaFace
import TulgaMail
import TulgaFlow
import TulgaIssuance
import TulgaStorage
import TulgaTestSupport
@testable import TulgaServer

/// The probes: live answers while the process does; ready names each thing that stops the work.
@Suite("Health probes")
struct OperationsTests {
    static func ready(_ client: some TestClientProtocol, _ path: String = "/health/ready") async throws -> (Int, String, [String: String]) {
        try await client.execute(uri: path, method: .get) { r in
            let object = try decode(r.body)
            return (Int(r.status.code), object["status"] as? String ?? "", object["checks"] as? [String: String] ?? [:])
        }
    }

    @Test("live answers (and /health, the earlier path); ready checks database, models, keys and outbox, all ok on a fresh service")
    func fresh() async throws {
        let f = try await Fixture.make()
        try await f.app.test(.router) { client in
            try await client.execute(uri: "/health/live", method: .get) { (r: TestResponse) async throws in
                #expect(r.status == .ok)
                #expect(try decode(r.body)["status"] as? String == "live")
            }
            let (status, word, checks) = try await Self.ready(client)
            #expect(status == 200 && word == "ready")
            #expect(checks == ["database": "ok", "models": "ok", "keys": "ok", "outbox": "ok"])
            #expect(try await Self.ready(client, "/health").1 == "live")
        }
        await f.store.database.close()
    }

    @Test("an SMS waiting past readyOutboxMaxAgeSeconds makes it 503 until the gateway takes it")
    func stuckOutbox() async throws {
        var server = ServerConfig()
        server.readyOutboxMaxAgeSeconds = 600
        let f = try await Fixture.make(server: server)
        try await f.store.issuance.registerPhone(iin: Fixture.linIIN, phone: "+77010000001", actor: "operator:desk")
        try await f.store.issuance.requestCode(iin: Fixture.linIIN)
        try await f.app.test(.router) { client in
            f.clock.advance(600)
            #expect(try await Self.ready(client).0 == 200)   // at the limit, not past it
            f.clock.advance(1)
            let (status, word, checks) = try await Self.ready(client)
            #expect(status == 503 && word == "not ready")
            // The answer names the failing check; the reason is for the log.
            #expect(checks == ["database": "ok", "models": "ok", "keys": "ok", "outbox": "failing"])
            #expect(await Readiness(env: f.env).outbox() == "the oldest SMS has waited 601 s for the gateway (limit 600 s)")
            try await f.store.markSMSSent(try await f.store.pendingSMS().map(\.id))
            #expect(try await Self.ready(client).0 == 200)
        }
        await f.store.database.close()
    }

    @Test("a pending e-mail counts only on a node that delivers e-mail: there it makes it 503 past the limit")
    func stuckMail() async throws {
        var server = ServerConfig()
        server.readyOutboxMaxAgeSeconds = 600
        let f = try await Fixture.make(server: server)
        let key = f.store.keys.outbox, at = f.clock.now()
        try await f.store.database.transaction { db in
            try Outbox.enqueueMail(db, key: key, iin: Fixture.linIIN, address: "lin@example.kz", language: .en,
                                   subject: Message(.smsCode, ["code": "1"]), body: Message(.smsCode, ["code": "1"]), at: at)
        }
        f.clock.advance(601)
        // Mail not enabled here: e-mails wait for `tulga mail send-pending` by design.
        try await f.app.test(.router) { client in
            let status = try await Self.ready(client).0
            #expect(status == 200)
        }
        var mail = MailSettings()
        (mail.enabled, mail.starttls, mail.from, mail.port) = (true, false, "noreply@example.kz", 25)
        let delivering = try ServerEnvironment(config: server, records: f.store, face: FaceConfig(modelsDirectory: Paths.root + "/Models"),
                                               liveness: f.liveness, bands: f.bands, files: ServiceFiles(mail: try SMTPClient(settings: mail)))
        try await buildApplication(delivering, logger: Logger(label: "test")).test(.router) { client in
            let (status, _, checks) = try await Self.ready(client)
            #expect(status == 503 && checks["outbox"] == "failing")
            #expect(await Readiness(env: delivering).outbox() == "the oldest e-mail has waited 601 s for the SMTP server (limit 600 s)")
        }
        await f.store.database.close()
    }

    @Test("a key file or the CA's issuing key gone from disk makes it 503, naming the file")
    func missingKeys() async throws {
        let f = try await Fixture.make()
        try await f.app.test(.router) { client in
            try FileManager.default.removeItem(atPath: f.dir + "/keys/outbox.key")
            try FileManager.default.removeItem(atPath: f.dir + "/ca/issuing.key")
            let (status, _, checks) = try await Self.ready(client)
            #expect(status == 503 && checks["keys"] == "failing")
            #expect(Readiness(env: f.env).keys() == "missing: outbox.key, CA issuing.key")
        }
        await f.store.database.close()
    }

    @Test("a closed database makes it 503; the outbox is then not checked; live still answers")
    func closedDatabase() async throws {
        let f = try await Fixture.make()
        await f.store.database.close()
        try await f.app.test(.router) { client in
            let (status, _, checks) = try await Self.ready(client)
            #expect(status == 503 && checks["database"] == "failing" && checks["outbox"] == "failing")
            let reasons = await Readiness(env: f.env).run()
            #expect(reasons.first { $0.name == "database" }?.problem?.hasPrefix("the database did not answer") == true)
            #expect(reasons.first { $0.name == "outbox" }?.problem == "not checked: the database did not answer")
            try await client.execute(uri: "/health/live", method: .get) { #expect($0.status == .ok) }
        }
    }

    @Test("a database call that ignores cancellation still gives the probe an answer: timed out")
    func timeout() async throws {
        let f = try await Fixture.make()
        // The work waits for a gate only the test opens, after the answer, and cancellation does not reach it.
        let (gate, open) = AsyncStream.makeStream(of: Void.self)
        let outcome = await Readiness(env: f.env).firstOf(seconds: 0.01) {
            await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                Task { for await _ in gate {}; done.resume() }
            }
        }
        open.finish()
        guard case .timedOut = outcome else { Issue.record("expected a time-out, got \(outcome)"); return }
        await f.store.database.close()
    }
}
