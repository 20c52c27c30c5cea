import Foundation
import Testing
import TulgaAttempts
import TulgaCore
import TulgaDigitalID
import TulgaFlow
import TulgaIssuance
import TulgaModeration
import TulgaPolicy
import TulgaRegistry
import TulgaStorage
import TulgaTestSupport

/// What a calling system can and cannot do to someone else's phone confirmation and Digital ID.
@Suite("The portal's steps against another calling system: codes, phone changes, the first PIN")
struct PortalSecurityTests {
    @Test("a code belongs to the system that asked for it: another can neither use it nor burn its tries")
    func codesPerSystem() async throws {
        let w = try await World.make()
        let iin = World.iin(21), s = w.service
        try await s.registerPhone(iin: iin, phone: "+77010000021")
        try await s.requestCode(iin: iin, caller: systemA)
        let code = try await w.lastCode(iin)
        // B never asked: it finds no code, and its tries count nothing against A.
        for _ in 0..<4 {
            do { try await s.confirmCode(iin: iin, code: code, caller: systemB); Issue.record("B used A's code") } catch let e as IssuanceError {
                #expect(e.reason.contains("through this system"))
            }
        }
        // B's own code, three wrong entries: B is blocked for the hour; A's code was not replaced.
        try await s.requestCode(iin: iin, caller: systemB)
        let codeB = try await w.lastCode(iin)
        let wrong = try #require(["000000", "000001", "000002"].first { $0 != codeB && $0 != code })
        for _ in 0..<3 { await #expect(throws: IssuanceError(.code, "")) { try await s.confirmCode(iin: iin, code: wrong, caller: systemB) } }
        do { try await s.confirmCode(iin: iin, code: codeB, caller: systemB); Issue.record("B confirmed after 3 wrong") } catch let e as IssuanceError {
            #expect(e.reason.contains("3 wrong codes"))
        }
        try await s.confirmCode(iin: iin, code: code, caller: systemA)
        await w.close()
    }

    @Test("a confirmation through one system does not replace another system's")
    func confirmationsPerSystem() async throws {
        let w = try await World.make()
        let iin = World.iin(26), s = w.service
        try await w.person(iin)   // a Digital ID with a PIN, the phone confirmed through A
        w.clock.advance(61)
        try await w.confirmPhone(iin, caller: systemB)
        _ = try await s.digitalID(iin: iin, pin: "402719", caller: systemA)
        _ = try await s.digitalID(iin: iin, pin: "402719", caller: systemB)
        await #expect(throws: IssuanceError(.code, "")) { _ = try await s.digitalID(iin: iin, pin: "402719", caller: .system("key-c")) }
        await w.close()
    }

    @Test("a changed phone voids the codes and confirmations of the old one and tells it by SMS")
    func phoneChange() async throws {
        let w = try await World.make()
        let iin = World.iin(22), s = w.service
        try await w.person(iin)   // a Digital ID with a PIN, the phone confirmed through A
        try await s.requestCode(iin: iin, caller: systemB)
        let pending = try await w.lastCode(iin)
        let before = try await w.store.outbox(iin: iin).count
        // The same number again changes nothing.
        try await s.registerPhone(iin: iin, phone: "+77010000001", actor: "operator:desk")
        #expect(try await w.store.outbox(iin: iin).count == before)
        _ = try await s.digitalID(iin: iin, pin: "402719", caller: systemA)
        // Another number: the old phone hears of it, and nothing confirmed through it counts.
        try await s.registerPhone(iin: iin, phone: "+77019999999", actor: "operator:desk")
        let notices = try await w.store.outbox(iin: iin).filter { $0.body?.contains("изменён") == true }
        #expect(notices.count == 1 && notices.first?.phone == "+77010000001")
        await #expect(throws: IssuanceError(.code, "")) { _ = try await s.digitalID(iin: iin, pin: "402719", caller: systemA) }
        await #expect(throws: IssuanceError(.code, "")) { try await s.confirmCode(iin: iin, code: pending, caller: systemB) }
        await w.close()
    }

    @Test("the first PIN: only the system that ran the passed verification, within a day of it, once; the record is shown with the PIN after")
    func firstPIN() async throws {
        let w = try await World.make()
        let iin = World.iin(23), s = w.service
        try await w.store.registry.upsert(RegistryEntry(iin: iin, surname: "A", givenName: "B", documentNumber: "N", photo: Data([1])))
        try await s.registerPhone(iin: iin, phone: "+77010000023")
        func pass(_ owner: String?) async throws {
            let t = try await w.store.attempts.begin(iin: iin, owner: owner)
            _ = try await w.store.runner.record(t, outcome: .pass, score: 0.9, livenessPassed: true, reason: "", evidence: Evidence(selfie: nil, reference: nil, livenessReport: nil))
        }
        try await pass(systemA.ownerTag)
        // B holds a fresh phone confirmation (a swapped SIM, say) but never verified the face.
        try await w.confirmPhone(iin, caller: systemB)
        await #expect(throws: DigitalIDError(.invalidState, "")) { try await s.setPIN(iin: iin, pin: "402719", caller: systemB) }
        await #expect(throws: IssuanceError(.digitalID, "")) { _ = try await s.digitalID(iin: iin, pin: nil, caller: systemB) }
        // A, a day and a second later, must verify again.
        w.clock.advance(DigitalIDRecords.pinWindowSeconds + 1)
        try await w.confirmPhone(iin, caller: systemA)
        await #expect(throws: IssuanceError(.digitalID, "")) { _ = try await s.digitalID(iin: iin, pin: nil, caller: systemA) }
        await #expect(throws: DigitalIDError(.invalidState, "")) { try await s.setPIN(iin: iin, pin: "402719", caller: systemA) }
        try await pass(systemA.ownerTag)
        #expect(try await s.digitalID(iin: iin, pin: nil, caller: systemA).record.hasPIN == false)
        try await s.setPIN(iin: iin, pin: "402719", caller: systemA)
        await #expect(throws: DigitalIDError(.conflict, "")) { try await s.setPIN(iin: iin, pin: "503816", caller: systemA) }
        // Once set, the record needs the PIN.
        await #expect(throws: IssuanceError(.pin, "")) { _ = try await s.digitalID(iin: iin, pin: nil, caller: systemA) }
        await #expect(throws: IssuanceError(.pin, "")) { _ = try await s.digitalID(iin: iin, pin: "999998", caller: systemA) }
        #expect(try await s.digitalID(iin: iin, pin: "402719", caller: systemA).record.hasPIN)
        // A kiosk's verification (no calling system) leaves the first PIN to staff.
        let other = World.iin(24)
        try await w.store.registry.upsert(RegistryEntry(iin: other, surname: "C", givenName: "D", documentNumber: "M", photo: Data([1])))
        try await s.registerPhone(iin: other, phone: "+77010000024")
        let t = try await w.store.attempts.begin(iin: other)
        _ = try await w.store.runner.record(t, outcome: .pass, score: 0.9, livenessPassed: true, reason: "", evidence: Evidence(selfie: nil, reference: nil, livenessReport: nil))
        try await w.confirmPhone(other, caller: systemA)
        await #expect(throws: DigitalIDError(.invalidState, "")) { try await s.setPIN(iin: other, pin: "402719", caller: systemA) }
        w.clock.advance(1)
        try await w.confirmPhone(other, caller: .staff("desk"))
        try await s.setPIN(iin: other, pin: "402719", caller: .staff("desk"))
        await w.close()
    }

    @Test("a consent names a scope some service asks for")
    func consentScopeAndReference() async throws {
        #expect(throws: DigitalIDError(.invalidScope, "")) { try ConsentRules.checkGrant(scope: "admin.everything", seconds: 60, status: .active) }
        try ConsentRules.checkGrant(scope: Consent.caIdentityScope, seconds: 60, status: .active)
        let w = try await World.make()
        let iin = World.iin(25)
        try await w.person(iin)
        await #expect(throws: DigitalIDError(.invalidScope, "")) { _ = try await w.store.digitalIDs.grantConsent(iin: iin, scope: "x", seconds: 60) }
        await w.close()
    }
}
