import Foundation
import Logging
import Testing
import TulgaAttempts
import TulgaRegistry
import TulgaStorage
import TulgaLegalEntities
import TulgaCore
import TulgaFlow
import TulgaIssuance
import TulgaKeyStore
import TulgaPKI
import TulgaTestSupport

@Suite("The service centre: in person only after five failures, 30-day expiry, renewal while valid")
struct InPersonTests {
    @Test("an in-person application needs five recorded failures, like tulga inperson accept")
    func gate() async throws {
        let w = try await World.make()
        let iin = World.iin(20), s = w.service
        let desk = try w.keyStore("desk")
        let requests = try w.requests(desk, iin: iin)
        func apply() async throws -> ApplicationView {
            try await s.applyInPerson(iin: iin, surname: "Beisenova", givenName: "Aigerim", operator: "op7", requests: requests)
        }
        await #expect(throws: IssuanceError(.inPersonLocked, "")) { _ = try await apply() }
        try await w.fail(iin, times: 4)
        await #expect(throws: IssuanceError(.inPersonLocked, "")) { _ = try await apply() }
        try await w.fail(iin, times: 1)
        let app = try await apply()
        #expect(app.status == .new && app.statusTitle == "Новая заявка" && app.channel == .inPerson)
        let issued = try await s.confirmInPerson(app.number, operator: "op7")
        #expect(issued.status == .issued)
        // No remote-identification policy on keys confirmed at a desk.
        let certs = try await s.install(app.number, caller: .staff("operator:op7"))
        let text = try openssl(["x509", "-noout", "-text"], stdin: certs.auth).out
        #expect(text.contains("1.2.398.3.3.4.1.1") && !text.contains("1.2.398.3.3.4.3.2.1"))

        _ = try desk.install(certs.byPurpose, chainPEM: certs.chain)

        // Renewal while valid: new requests signed for by the holder's current SIGN key, issued at
        // once, the old ones superseded. Owning the application (the desk, an admin) is not enough.
        let fresh = try w.requests(desk, iin: iin)
        let message = HolderProof.message(application: app.number, auth: fresh.auth.keyID, sign: fresh.sign.keyID)
        let forged: [(String, Data)] = [
            ("no proof", Data()), ("garbage", Data(repeating: 7, count: 256)),
            ("the AUTH key's signature", try desk.sign(message, certificatePEM: certs.auth)),
            ("a proof for other keys", try desk.sign(HolderProof.message(application: app.number, auth: fresh.sign.keyID, sign: fresh.auth.keyID),
                                                   certificatePEM: certs.sign)),
            ("a proof for another application", try desk.sign(HolderProof.message(application: "0000-0000-0000-0000-0000-0000-0000", auth: fresh.auth.keyID,
                                                                                  sign: fresh.sign.keyID), certificatePEM: certs.sign)),
        ]
        for (what, proof) in forged {
            await #expect(throws: IssuanceError(.holderProof, ""), "\(what)") {
                _ = try await s.renew(app.number, requests: fresh, proof: proof, caller: .staff("admin:root"))
            }
        }
        // The signature checks with openssl too: SHA-256 under the SIGN certificate's key.
        let proof = try desk.sign(message, certificatePEM: certs.sign)
        let signCert = try writeFile(w.dir, "sign.pem", certs.sign), signature = w.dir + "/proof.bin", signed = w.dir + "/message.txt"
        try proof.write(to: URL(fileURLWithPath: signature))
        try message.write(to: URL(fileURLWithPath: signed))
        let key = try openssl(["x509", "-in", signCert, "-noout", "-pubkey", "-out", w.dir + "/sign.pub"])
        #expect(key.status == 0)
        #expect(try openssl(["dgst", "-sha256", "-verify", w.dir + "/sign.pub", "-signature", signature, signed]).out.contains("Verified OK"))
        let renewed = try await s.renew(app.number, requests: fresh, proof: proof, caller: .staff("operator:op7"))
        #expect(renewed.status == .issued && renewed.replaces == app.number && renewed.channel == .inPerson)
        #expect(try await s.status(app.number, caller: .staff("x")).status == .revoked)
        // The old keys never come back, not even with a valid proof.
        await #expect(throws: IssuanceError(.keyReused, "")) {
            _ = try await s.applyInPerson(iin: iin, surname: "Beisenova", givenName: "Aigerim", operator: "op7", requests: requests)
        }
        // Past the certificate's end, no renewal.
        let renewedCerts = try await s.install(renewed.number, caller: .staff("operator:op7"))
        _ = try desk.install(renewedCerts.byPurpose, chainPEM: renewedCerts.chain)
        w.clock.advance(400 * 86400)
        let late = try w.requests(desk, iin: iin)
        let lateProof = try desk.sign(HolderProof.message(application: renewed.number, auth: late.auth.keyID, sign: late.sign.keyID),
                                      certificatePEM: renewedCerts.sign)
        await #expect(throws: IssuanceError(.renewal, "")) {
            _ = try await s.renew(renewed.number, requests: late, proof: lateProof, caller: .staff("operator:op7"))
        }
        await w.close()
    }

    @Test("not confirmed in 30 days: refused at once, marked by the background service")
    func expiry() async throws {
        let w = try await World.make()
        let iin = World.iin(21), s = w.service
        try await w.fail(iin, times: 5)
        let requests = try w.requests(w.keyStore("desk"), iin: iin)
        let desk = Caller.staff("operator:op7")
        let app = try await s.applyInPerson(iin: iin, surname: "Nurlanov", givenName: "Daulet", operator: "op7", requests: requests)
        w.clock.advance(29 * 86400)
        #expect(try await s.status(app.number, caller: desk).status == .new)
        w.clock.advance(2 * 86400)
        await #expect(throws: IssuanceError(.state, "")) { _ = try await s.confirmInPerson(app.number, operator: "op7") }
        #expect(try await s.status(app.number, caller: desk).status == .expired)
        // The background service marks it without anyone reading it; the test waits on its pass, not on time.
        let (passes, continuation) = AsyncStream<Int>.makeStream()
        let service = BackgroundWork.applicationExpiry(w.store, every: .seconds(3600), logger: Logger(label: "test")) { continuation.yield($0) }
        let task = Task { try await service.run() }
        var pass = passes.makeAsyncIterator()
        #expect(await pass.next() == 1)
        task.cancel()
        #expect(try await w.store.auditEntries(subject: app.number).last?.action == "application.expired")
        // The expired application's keys are not offered again: a key goes in one application only.
        await #expect(throws: IssuanceError(.keyReused, "")) {
            _ = try await s.applyInPerson(iin: iin, surname: "Nurlanov", givenName: "Daulet", operator: "op7", requests: requests)
        }
        let second = try await s.applyInPerson(iin: iin, surname: "Nurlanov", givenName: "Daulet", operator: "op7",
                                               requests: try w.requests(w.keyStore("again"), iin: iin))
        #expect(try await s.confirmInPerson(second.number, operator: "op7").status == .issued)
        await #expect(throws: IssuanceError(.notFound, "")) { _ = try await s.status("0000-0000-0000-0000-0000-0000-0000", caller: desk) }
        await w.close()
    }
}
