import Foundation
import Testing
import TulgaCore
import TulgaCrypto
import TulgaFlow
import TulgaIssuance
import TulgaKeyStore
import TulgaPKI
import TulgaStorage
import TulgaTestSupport

@Suite("Sign-in records on SQLite and PostgreSQL")
struct SignInRecordsTests {
    @Test("a sign-in from a folder key; one challenge presented twice at once is used once", arguments: Backend.allCases)
    func signIn(backend: Backend) async throws {
        let w = try await World.make(backend)
        let iin = World.iin(66), s = w.service
        try await w.person(iin)
        let keys = try w.keyStore("signin")
        let app = try await s.applyRemote(iin: iin, pin: "402719", agreement: UserAgreement.version, requests: try w.requests(keys, iin: iin), caller: systemA)
        let certs = try await s.install(app.number, caller: systemA)
        _ = try keys.install(certs.byPurpose, chainPEM: certs.chain)
        w.clock.advance(61)
        let c = try await s.signInChallenge(caller: systemA)
        let signature = try keys.signSignIn(challenge: c.challenge, audience: c.audience, certificatePEM: certs.auth)
        // Two presentations of one challenge race: exactly one goes on to the code.
        let outcomes = await withTaskGroup(of: PendingSignIn?.self) { group in
            for _ in 0..<2 {
                group.addTask { try? await s.signIn(challenge: c.challenge, certificatePEM: certs.auth, signature: signature, caller: systemA) }
            }
            return await group.reduce(into: [PendingSignIn]()) { if let p = $1 { $0.append(p) } }
        }
        #expect(outcomes.count == 1)
        let pending = try #require(outcomes.first)
        let rows = try await w.store.database.transaction { db in try db.query("SELECT login_hash FROM signin_pending", []) }
        #expect(rows.count == 1 && rows.first?["login_hash"].text == sha256Hex(pending.login))
        let session = try await s.confirmSignIn(login: pending.login, code: try await w.lastCode(iin), caller: systemA)
        #expect(try await s.session(token: try #require(session.token), caller: systemA).serial == session.serial)
        await w.close()
    }
}
