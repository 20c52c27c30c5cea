import Foundation
import Testing
import TulgaCore
import TulgaCrypto
import TulgaFlow
import TulgaPortal
import TulgaStorage
import TulgaTestSupport

/// The browser portal's sessions (`portal.v1`) on both backends: only the secret's hash stored,
/// binding through the pure rules, expiry on the injected clock, old rows purged as new ones come.
@Suite("Portal session records")
struct PortalRecordsTests {
    @Test("begin, find by the cookie, bind, sign in, end; expiry; purge", arguments: Backend.allCases)
    func lifecycle(backend: Backend) async throws {
        let clock = ManualClock()
        var settings = RecordSettings()
        (settings.portal.sessionIdleSeconds, settings.portal.sessionLifetimeSeconds) = (600, 3600)
        let records = try await Records.scratch(backend, settings: settings, clock: clock)
        let (credential, session) = try await records.portal.begin()
        let row = try await records.database.transaction { db in try db.one("SELECT * FROM portal_sessions WHERE id = ?", [.text(session.id)]) }
        #expect(row?["secret_hash"].text == sha256Hex(credential.secret) && row?["expires_at"].double == clock.now() + 600)
        #expect(try await records.portal.session(credential).id == session.id)
        #expect(PortalCredential(cookie: credential.secret.uppercased()) == nil && PortalCredential(cookie: "ab") == nil)
        await #expect(throws: PortalError(.session, "")) { _ = try await records.portal.session(try PortalCredential()) }
        // Bound by the code asked for; one IIN per session.
        _ = try await records.portal.apply(.codeRequested(iin: "850314300013"), to: session.id)
        await #expect(throws: PortalError(.noCode, "")) { _ = try await records.portal.apply(.codeConfirmed(iin: "850314300023"), to: session.id) }
        let bound = try await records.portal.apply(.codeConfirmed(iin: "850314300013"), to: session.id)
        #expect(bound.iin == "850314300013" && bound.pendingIIN == nil)
        await #expect(throws: PortalError(.iinBound, "")) { _ = try await records.portal.apply(.codeRequested(iin: "850314300023"), to: session.id) }
        let signed = try await records.portal.apply(.signedIn(iin: "850314300013", tokenHash: sha256Hex("token")), to: session.id)
        #expect(try await records.portal.session(credential) == signed)
        #expect(try await records.auditEntries(subject: "850314300013").map(\.action) == ["portal.bind", "portal.signin"])
        // Idle for the idle time: gone. Used within it: lives on, to its lifetime.
        clock.advance(599)
        _ = try await records.portal.session(credential)
        clock.advance(599)
        _ = try await records.portal.session(credential)
        clock.advance(601)
        await #expect(throws: PortalError(.session, "")) { _ = try await records.portal.session(credential) }
        // Ended: refused at once; a day after their end, rows go as new sessions begin.
        let (other, second) = try await records.portal.begin()
        _ = try await records.portal.apply(.ended, to: second.id)
        await #expect(throws: PortalError(.session, "")) { _ = try await records.portal.session(other) }
        clock.advance(86400 + 3600)
        _ = try await records.portal.begin()
        let left = try await records.database.transaction { db in try db.query("SELECT id FROM portal_sessions", []) }
        #expect(left.count == 1 && !left.contains { $0["id"].text == session.id })
        #expect(try await records.verifyAudit().intact)
        await records.database.close()
    }
}
