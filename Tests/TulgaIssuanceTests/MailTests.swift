import Foundation
import Testing
import TulgaCore
import TulgaFlow
import TulgaIssuance
import TulgaMail
import TulgaStorage
import TulgaTestSupport

/// «Вам будет выслан номер заявки»: the number on filing and each status change by e-mail,
/// through the outbox, to a real aiosmtpd.
@Suite("Issuance e-mail: the number and status changes, in the applicant's language")
struct MailTests {
    static func client(_ server: SMTPTestServer) throws -> SMTPClient {
        var s = MailSettings()
        (s.enabled, s.host, s.port, s.from, s.starttls, s.timeoutSeconds) = (true, "127.0.0.1", server.port, "noreply@tulga.kz", false, 600)
        return try SMTPClient(settings: s)
    }

    static func setLanguage(_ w: World, _ iin: String, _ language: Language) async throws {
        try await w.store.database.transaction { db in
            try db.execute("UPDATE applicants SET language = ? WHERE iin = ?", [.text(language.rawValue), .text(iin)])
        }
    }

    @Test("filing sends the number (in Kazakh here); issuing and installing send a status change each", arguments: Backend.allCases)
    func numberAndStatus(backend: Backend) async throws {
        let w = try await World.make(backend)
        let iin = World.iin(41)
        try await w.person(iin)
        try await Self.setLanguage(w, iin, .kk)
        let app = try await w.service.applyRemote(iin: iin, pin: "402719", agreement: UserAgreement.version,
                                                  requests: try w.requests(w.keyStore("mail"), iin: iin), caller: systemA, email: "Aigerim.B@Mail.KZ")
        #expect(app.status == .issued && app.email == "Aigerim.B@mail.kz")
        // Queued with the filing and the issue, sealed: the rows' clear columns never hold the number.
        let queued = try await w.store.outbox(iin: iin).filter { $0.channel == "email" }
        #expect(queued.count == 2 && queued.allSatisfy { $0.address == "Aigerim.B@mail.kz" && $0.sentAt == nil && $0.language == "kk" })
        let clear = try await w.store.database.transaction { db in
            try db.query("SELECT body FROM outbox WHERE channel = 'email' AND sealed IS NOT NULL", []).map { $0["body"].text ?? "" }
        }
        #expect(clear == ["", ""])

        let server = try await SMTPTestServer.start()
        defer { server.stop() }
        let client = try Self.client(server)
        #expect(try await w.store.deliverMail(client).sent == 2)
        _ = try await w.service.install(app.number, caller: systemA)
        #expect(try await w.store.deliverMail(client).sent == 1)
        #expect(try await w.store.deliverMail(client).sent == 0)

        let received = try server.received()
        try #require(received.count == 3)
        #expect(received.allSatisfy { $0.header("x-test-rcpt-to") == "Aigerim.B@mail.kz" })
        #expect(received[0].subject == "ЭЦҚ шығаруға өтінім қабылданды")
        #expect(received[0].body.contains("Өтінім нөмірі: \(app.number)"))
        #expect(received[0].body.contains("Осы электрондық пошта мекенжайына"))
        #expect(received[1].subject == "ЭЦҚ өтінімінің мәртебесі өзгерді")
        #expect(received[1].body == "№ \(app.number) өтінімнің мәртебесі өзгерді: «\(Message(.statusIssued).text(.kk))».")
        #expect(received[2].body.contains(Message(.statusInstalled).text(.kk)))
        // Afterwards only receipts: no text, no subject.
        #expect(try await w.store.outbox(iin: iin).filter { $0.channel == "email" }.allSatisfy { $0.body == nil && $0.subject == nil && $0.sentAt != nil })
        await w.close()
    }

    @Test("a malformed address is refused with invalid_email before anything is filed", arguments: ["not-an-address", "a@b", "x@y.kz\r\nBcc: z@w.kz"])
    func malformed(address: String) async throws {
        let w = try await World.make()
        let iin = World.iin(42)
        try await w.person(iin)
        // Checked before the PIN: a wrong PIN with it is not even looked at.
        await #expect(throws: MailAddressError(.invalid, "")) {
            _ = try await w.service.applyRemote(iin: iin, pin: "000000", agreement: UserAgreement.version,
                                                requests: try w.requests(w.keyStore("bad"), iin: iin), caller: systemA, email: address)
        }
        #expect(try await w.store.outbox(iin: iin).allSatisfy { $0.channel == "sms" })
        #expect(try await w.store.database.transaction { db in try db.query("SELECT number FROM applications WHERE iin = ?", [.text(iin)]) }.isEmpty)
        await w.close()
    }

    @Test("no address, no e-mail")
    func none() async throws {
        let w = try await World.make()
        let iin = World.iin(43)
        try await w.person(iin)
        let app = try await w.service.applyRemote(iin: iin, pin: "402719", agreement: UserAgreement.version,
                                                  requests: try w.requests(w.keyStore("none"), iin: iin), caller: systemA)
        _ = try await w.service.install(app.number, caller: systemA)
        #expect(app.email == nil)
        #expect(try await w.store.outbox(iin: iin).allSatisfy { $0.channel == "sms" })
        await w.close()
    }
}
