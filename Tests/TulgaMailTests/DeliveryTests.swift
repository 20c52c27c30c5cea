import Foundation
import Logging
import Testing
import TulgaCore
import TulgaCrypto
import TulgaFlow
import TulgaMail
import TulgaStorage
import TulgaTestSupport

/// The outbox's e-mails through a real aiosmtpd: pending until the server takes them, exactly once.
@Suite("E-mail delivery from the outbox")
struct DeliveryTests {
    static func queue(_ records: Records, iin: String = "900702300011", address: String = "aigerim@example.kz", language: Language = .kk) async throws {
        try await records.database.transaction { db in
            try Outbox.enqueueMail(db, key: records.keys.outbox, iin: iin, address: address, language: language, subject: Message(.mailStatusSubject),
                                   body: Message(.mailStatusBody, ["number": "1111-2222-3333-4444-5555-6666-7777", "status": "x"]), at: records.clock.now())
        }
    }

    static func mail(_ records: Records) async throws -> [OutboxMessage] { try await records.outbox().filter { $0.channel == "email" } }

    @Test("refused, then down, then delivered once: attempts, reasons and next tries recorded; the text sealed until then, then gone",
          arguments: Backend.allCases)
    func retried(backend: Backend) async throws {
        let clock = ManualClock()
        let records = try await Records.scratch(backend, clock: clock)
        try await Self.queue(records)

        // 1. The server refuses (550): pending, one attempt, due in a minute.
        let refusing = try await SMTPTestServer.start(refuse: "550")
        var report = try await records.deliverMail(try SMTPClient(settings: SMTPClientTests.settings(refusing)))
        refusing.stop()
        #expect(report.sent == 0 && report.failed == 1)
        var m = try #require(try await Self.mail(records).first)
        #expect(m.sentAt == nil && m.attempts == 1 && m.nextTryAt == clock.now() + 60)
        #expect(m.lastError?.hasPrefix("mail_refused: MAIL FROM answered 550") == true)
        #expect(m.lastError?.contains("aigerim") == false)
        #expect(m.body?.contains("1111-2222") == true)
        // Not due yet: a pass now tries nothing.
        let down = refusing.port
        report = try await records.deliverMail(try SMTPClient(settings: SMTPClientTests.settings(port: down)))
        #expect(report.sent == 0 && report.failed == 0)

        // 2. A minute later the server is down: two attempts, due in two minutes.
        clock.advance(61)
        report = try await records.deliverMail(try SMTPClient(settings: SMTPClientTests.settings(port: down)))
        #expect(report.failed == 1)
        m = try #require(try await Self.mail(records).first)
        #expect(m.attempts == 2 && m.lastError?.hasPrefix("mail_connect") == true && m.nextTryAt == clock.now() + 120)

        // 3. Then it takes the message, once; a later pass sends nothing more.
        clock.advance(121)
        let server = try await SMTPTestServer.start()
        defer { server.stop() }
        let client = try SMTPClient(settings: SMTPClientTests.settings(server))
        report = try await records.deliverMail(client)
        #expect(report.sent == 1 && report.failed == 0)
        clock.advance(3600)
        report = try await records.deliverMail(client)
        #expect(report.sent == 0)
        let received = try server.received()
        try #require(received.count == 1)
        #expect(received[0].subject == Message(.mailStatusSubject).text(.kk))
        #expect(received[0].body.contains("1111-2222-3333-4444-5555-6666-7777"))
        // Only a receipt stays: no subject, no text, not in the database's bytes either.
        m = try #require(try await Self.mail(records).first)
        #expect(m.sentAt == clock.now() - 3600 && m.body == nil && m.subject == nil && m.attempts == 3 && m.address == "aigerim@example.kz")
        let id = m.id
        let stored = try await records.database.transaction { db in try db.query("SELECT sealed, body FROM outbox WHERE id = ?", [.text(id)]) }
        #expect(stored.first?["sealed"].isNull == true)
        await records.database.close()
    }

    @Test("the SMS hand-off never sees e-mail rows, and e-mail delivery never takes an SMS", arguments: Backend.allCases)
    func channelsApart(backend: Backend) async throws {
        let clock = ManualClock()
        let records = try await Records.scratch(backend, clock: clock)
        try await Self.queue(records)
        try await records.database.transaction { db in
            try Outbox.enqueue(db, key: records.keys.outbox, iin: "900702300011", phone: "+77010000001", language: .ru, message: Message(.smsCode, ["code": "402719"]),
                               at: clock.now())
        }
        let sms = try await records.pendingSMS()
        #expect(sms.count == 1 && sms[0].channel == "sms" && sms[0].phone == "+77010000001")
        let spool = Temp.dir("tulga-spool")
        #expect(try await SMSSpool.handOff(records, to: spool) == 1)
        #expect(try await Self.mail(records).first?.sentAt == nil)

        let server = try await SMTPTestServer.start()
        defer { server.stop() }
        let report = try await records.deliverMail(try SMTPClient(settings: SMTPClientTests.settings(server)))
        #expect(report.sent == 1)
        #expect(try server.received().count == 1)
        #expect(try await records.outbox().allSatisfy { $0.sentAt != nil })
        await records.database.close()
    }

    @Test("the background service delivers when mail is configured", arguments: [Backend.sqlite])
    func background(backend: Backend) async throws {
        let clock = ManualClock()
        let records = try await Records.scratch(backend, clock: clock)
        try await Self.queue(records)
        let server = try await SMTPTestServer.start()
        defer { server.stop() }
        let client = try SMTPClient(settings: SMTPClientTests.settings(server))
        let logger = Logger(label: "test")
        #expect(BackgroundWork.services(records, settings: BackgroundSettings(), logger: logger).allSatisfy { $0.description != "mail-delivery" })
        let services = BackgroundWork.services(records, settings: BackgroundSettings(), files: ServiceFiles(mail: client), logger: logger)
        #expect(services.contains { $0.description == "mail-delivery" })
        // One pass, awaited through onPass rather than time.
        #expect(try await Self.runOnePass(records, client: client) == 1)
        #expect(try server.received().count == 1)
        await records.database.close()
    }

    static func runOnePass(_ records: Records, client: SMTPClient) async throws -> Int {
        let (stream, continuation) = AsyncStream<Int>.makeStream()
        let service = BackgroundWork.mailDelivery(records, client: client, logger: .init(label: "test")) { continuation.yield($0) }
        let task = Task { try await service.run() }
        var first = 0
        for await n in stream { first = n; break }
        task.cancel()
        return first
    }
}
