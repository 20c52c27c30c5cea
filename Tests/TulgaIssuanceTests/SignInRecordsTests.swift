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
    @Test("the audience is the public URL's origin as a browser writes it in Origin", arguments: [
        ("http://127.0.0.1:8080/pki", "http://127.0.0.1:8080"), ("https://Tulga.Example.KZ:443/pki/", "https://tulga.example.kz"),
        ("http://tulga.kz:80", "http://tulga.kz"), ("https://tulga.kz:8443/x", "https://tulga.kz:8443"), ("http://[::1]:8080/pki", "http://[::1]:8080"),
    ])
    func audience(base: String, origin: String) {
        #expect(IssuanceService.origin(of: base) == origin)
    }

    @Test("no origin in what is not an http(s) URL with a host", arguments: ["", "tulga", "/pki", "ftp://tulga.kz/pki", "http://", "ws://127.0.0.1:8080"])
    func noAudience(base: String) {
        #expect(IssuanceService.origin(of: base) == nil)
    }

    @Test("a sign-in from a folder key; one challenge presented twice at once is used once", arguments: Backend.allCases)
    func signIn(backend: Backend) async throws {
        let w = try await World.make(backend)
        let iin = World.iin(66), s = w.service
        try await w.person(iin)
        let keys = try w.keyStore("signin")
        let app = try await s.applyRemote(iin: iin, pin: "402719", agreement: UserAgreement.version, requests: try w.requests(keys, iin: iin), caller: systemA)
        let certs = try await s.install(app.number, caller: systemA)
        _ = try keys.install(certs.byPurpose, chainPEM: certs.chain, at: w.clock.date)
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
