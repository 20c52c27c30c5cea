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

extension IssuanceService {
    /// A renewal whose proof `store` signs with the key of `auth`.
    func renew(_ number: String, requests: KeyRequests, challenge: String, caller: Caller, signedBy store: any KeyStore, auth: String) async throws -> ApplicationView {
        let message = HolderProof.message(application: number, challenge: challenge, auth: requests.auth.keyID, sign: requests.sign.keyID)
        return try await renew(number, requests: requests, challenge: challenge, proof: try store.sign(message, certificatePEM: auth), caller: caller)
    }
}

@Suite("The service centre: in person only after five failures, 30-day expiry, renewal while valid")
struct InPersonTests {
    @Test("an in-person application needs five recorded failures, like tulga inperson accept")
    func gate() async throws {
        let w = try await World.make()
        let iin = World.iin(20), s = w.service
        let deskKeys = try w.keyStore("desk")
        let requests = try w.requests(deskKeys, iin: iin)
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

        _ = try deskKeys.install(certs.byPurpose, chainPEM: certs.chain, at: w.clock.date)

        // Renewal while valid: the CA's one-time challenge and the new keys, signed with the
        // holder's current AUTH key; issued at once, the old ones superseded. Owning the
        // application (the desk, an admin) is not enough.
        let desk = Caller.staff("operator:op7")
        let fresh = try w.requests(deskKeys, iin: iin)
        let challenge = try await s.renewalChallenge(app.number, caller: desk).challenge
        let message = HolderProof.message(application: app.number, challenge: challenge, auth: fresh.auth.keyID, sign: fresh.sign.keyID)
        let forged: [(String, Data)] = [
            ("no proof", Data()), ("garbage", Data(repeating: 7, count: 256)),
            ("the SIGN key's signature", try deskKeys.sign(message, certificatePEM: certs.sign)),
            ("a proof for other keys", try deskKeys.sign(HolderProof.message(application: app.number, challenge: challenge, auth: fresh.sign.keyID,
                                                                             sign: fresh.auth.keyID), certificatePEM: certs.auth)),
            ("a proof for another application", try deskKeys.sign(HolderProof.message(application: "0000-0000-0000-0000-0000-0000-0000", challenge: challenge,
                                                                                      auth: fresh.auth.keyID, sign: fresh.sign.keyID), certificatePEM: certs.auth)),
        ]
        for (what, proof) in forged {
            await #expect(throws: IssuanceError(.holderProof, ""), "\(what)") {
                _ = try await s.renew(app.number, requests: fresh, challenge: challenge, proof: proof, caller: .staff("admin:root"))
            }
        }
        // A proof for a challenge the CA never gave, or one past its five minutes, is refused too.
        let invented = String(repeating: "ab", count: 32)
        await #expect(throws: IssuanceError(.holderProof, "")) {
            _ = try await s.renew(app.number, requests: fresh, challenge: invented, caller: desk, signedBy: deskKeys, auth: certs.auth)
        }
        w.clock.advance(301)
        await #expect(throws: IssuanceError(.holderProof, "")) {
            _ = try await s.renew(app.number, requests: fresh, challenge: challenge, proof: try deskKeys.sign(message, certificatePEM: certs.auth), caller: desk)
        }
        // A challenge given to the desk is the desk's: another staff caller with a valid proof is refused.
        let forDesk = try await s.renewalChallenge(app.number, caller: desk).challenge
        await #expect(throws: IssuanceError(.holderProof, "")) {
            _ = try await s.renew(app.number, requests: fresh, challenge: forDesk, caller: .staff("admin:root"), signedBy: deskKeys, auth: certs.auth)
        }
        // The signature checks with openssl too: SHA-256 under the AUTH certificate's key.
        let again = try await s.renewalChallenge(app.number, caller: desk).challenge
        let signedMessage = HolderProof.message(application: app.number, challenge: again, auth: fresh.auth.keyID, sign: fresh.sign.keyID)
        let proof = try deskKeys.sign(signedMessage, certificatePEM: certs.auth)
        let authCert = try writeFile(w.dir, "auth.pem", certs.auth), signature = w.dir + "/proof.bin", signed = w.dir + "/message.txt"
        try proof.write(to: URL(fileURLWithPath: signature))
        try signedMessage.write(to: URL(fileURLWithPath: signed))
        #expect(try openssl(["x509", "-in", authCert, "-noout", "-pubkey", "-out", w.dir + "/auth.pub"]).status == 0)
        #expect(try openssl(["dgst", "-sha256", "-verify", w.dir + "/auth.pub", "-signature", signature, signed]).out.contains("Verified OK"))
        let renewed = try await s.renew(app.number, requests: fresh, challenge: again, proof: proof, caller: desk)
        #expect(renewed.status == .issued && renewed.replaces == app.number && renewed.channel == .inPerson)
        #expect(try await s.status(app.number, caller: .staff("x")).status == .revoked)
        // The challenge was used up with it.
        await #expect(throws: IssuanceError(.renewal, "")) { _ = try await s.renewalChallenge(app.number, caller: desk) }
        // The old keys never come back, not even with a valid proof.
        await #expect(throws: IssuanceError(.keyReused, "")) {
            _ = try await s.applyInPerson(iin: iin, surname: "Beisenova", givenName: "Aigerim", operator: "op7", requests: requests)
        }
        let renewedCerts = try await s.install(renewed.number, caller: desk)
        _ = try deskKeys.install(renewedCerts.byPurpose, chainPEM: renewedCerts.chain, at: w.clock.date)
        // A SIGN certificate revoked as compromised: whoever holds the keys renews nothing.
        let serial = try IssuedCertificate(pem: renewedCerts.sign).serialHex
        try await s.revoke(serial: serial, reason: .keyCompromise, actor: "admin:root")
        await #expect(throws: IssuanceError(.renewal, "")) { _ = try await s.renewalChallenge(renewed.number, caller: desk) }
        await w.close()
    }

    @Test("past the certificate's end there is no renewal")
    func lateRenewal() async throws {
        let w = try await World.make()
        let iin = World.iin(23), s = w.service, desk = Caller.staff("operator:op7")
        try await w.fail(iin, times: 5)
        let keys = try w.keyStore("late")
        let app = try await s.applyInPerson(iin: iin, surname: "Late", givenName: "Renewal", operator: "op7", requests: try w.requests(keys, iin: iin))
        _ = try await s.confirmInPerson(app.number, operator: "op7")
        let certs = try await s.install(app.number, caller: desk)
        _ = try keys.install(certs.byPurpose, chainPEM: certs.chain, at: w.clock.date)
        w.clock.advance(400 * 86400)
        await #expect(throws: IssuanceError(.renewal, "")) { _ = try await s.renewalChallenge(app.number, caller: desk) }
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
