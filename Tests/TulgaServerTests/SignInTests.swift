import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
import TulgaConfig
import TulgaCore
import TulgaFlow
import TulgaIssuance
import TulgaKeyStore
import TulgaPKI
import TulgaStorage
import TulgaTestSupport

/// Seed 003, issue 16 part 3: after issuance, signing in with the AUTH key, then a code from 1414,
/// over HTTP alone (the key store signs on "the applicant's computer"). Every refusal has its code.
@Suite("Signing in with the issued key, then an SMS code", .serialized)
struct SignInTests {
    struct Reply { let status: HTTPResponse.Status; let json: [String: Any]; var code: String? { json["code"] as? String } }

    @Test("the CA's public URL: where the service listens unless set (the sign-in audience is the page's origin); set, it must be an http(s) URL")
    func publicBaseURL() throws {
        #expect(Configuration().caSettings.publicBaseURL == "http://127.0.0.1:8080/pki")
        var listening = try Configuration.decode(Data(#"{"server": {"host": "0.0.0.0", "port": 9090}}"#.utf8))
        #expect(listening.caSettings.publicBaseURL == "http://127.0.0.1:9090/pki")
        listening.server.host = "::"
        #expect(listening.caSettings.publicBaseURL == "http://[::1]:9090/pki")
        listening.server.host = "tulga.internal"
        #expect(listening.caSettings.publicBaseURL == "http://tulga.internal:9090/pki")
        let set = try Configuration.decode(Data(#"{"server": {"port": 9090}, "ca": {"publicBaseURL": "https://tulga.example.kz/pki"}}"#.utf8))
        #expect(set.caSettings.publicBaseURL == "https://tulga.example.kz/pki")
        for bad in ["tulga.example.kz", "ftp://tulga.example.kz/pki", "https://"] {
            do {
                _ = try Configuration.decode(Data(#"{"ca": {"publicBaseURL": "\#(bad)"}}"#.utf8))
                Issue.record("accepted \(bad)")
            } catch { #expect("\(error)".contains("ca.publicBaseURL must be an http(s) URL with a host"), "\(error)") }
        }
    }

    struct Portal {
        let client: any TestClientProtocol
        let f: Fixture

        func call(_ uri: String, _ object: [String: Any]? = nil, method: HTTPRequest.Method = .post, key: String = "issuance",
                  token: String? = nil) async throws -> Reply {
            var h = Fixture.headers(key)
            if let token { h[HTTPField.Name("X-Session-Token")!] = token }
            return try await client.execute(uri: uri, method: method, headers: h, body: try object.map(jsonBody)) { r in
                Reply(status: r.status, json: (try? JSONSerialization.jsonObject(with: Data(r.body.readableBytesView)) as? [String: Any]) ?? [:])
            }
        }

        func challenge(key: String = "issuance") async throws -> (challenge: String, audience: String) {
            let r = try await call("/v1/signin/challenge", key: key)
            #expect(r.status == .created)
            let challenge = try #require(r.json["challenge"] as? String), audience = try #require(r.json["audience"] as? String)
            #expect(challenge.count == 64 && audience == "http://127.0.0.1:18080")
            return (challenge, audience)
        }

        func present(_ challenge: String, certificate: String, signature: Data, key: String = "issuance") async throws -> Reply {
            try await call("/v1/signin/certificate", ["challenge": challenge, "certificate": certificate, "signature": signature.base64EncodedString(),
                                                      "language": "en"], key: key)
        }

        /// The code the phone received last.
        func lastCode() async throws -> String {
            let sms = try #require(try await f.store.outbox(iin: Fixture.linIIN).last?.body)
            #expect(sms.contains("1414"))
            return String(try #require(sms.split(separator: " ").first { $0.count >= 6 && $0.prefix(6).allSatisfy(\.isNumber) }).prefix(6))
        }

        /// Challenge, signature by the AUTH key, code: a session token.
        func signIn(_ store: FolderKeyStore, _ certs: IssuedCertificates) async throws -> String {
            f.clock.advance(61)   // the SMS rule: a new code a minute after the last one
            let c = try await challenge()
            let r = try await present(c.challenge, certificate: certs.auth,
                                      signature: try store.signSignIn(challenge: c.challenge, audience: c.audience, certificatePEM: certs.auth))
            #expect(r.status == .accepted, "\(r.json)")
            let login = try #require(r.json["login"] as? String)
            let opened = try await call("/v1/signin/confirm", ["login": login, "code": try await lastCode()])
            #expect(opened.status == .created, "\(opened.json)")
            return try #require(opened.json["token"] as? String)
        }
    }

    @Test("the whole sign-in; the steps belong to the key that began them; a token works until sign-out or expiry; wrong codes; an expired certificate")
    func journey() async throws {
        let f = try await Fixture.make()
        try await f.app.test(.router) { client in
            let (_, _, store, certs) = try await WalkthroughTests.walk(client, f)
            let p = Portal(client: client, f: f)
            f.clock.advance(61)
            let c = try await p.challenge()
            let signature = try store.signSignIn(challenge: c.challenge, audience: c.audience, certificatePEM: certs.auth)
            // Another calling system cannot use this challenge (nor burn it).
            #expect(try await p.present(c.challenge, certificate: certs.auth, signature: signature, key: "issuance2").code == "signin_challenge")
            let pending = try await p.present(c.challenge, certificate: certs.auth, signature: signature)
            #expect(pending.status == .accepted && pending.json["iin"] as? String == Fixture.linIIN, "\(pending.json)")
            let login = try #require(pending.json["login"] as? String), code = try await p.lastCode()
            // Used once.
            #expect(try await p.present(c.challenge, certificate: certs.auth, signature: signature).code == "signin_challenge")
            // Another system cannot confirm this sign-in, even with the right code.
            #expect(try await p.call("/v1/signin/confirm", ["login": login, "code": code], key: "issuance2").code == "signin_pending")
            let opened = try await p.call("/v1/signin/confirm", ["login": login, "code": code])
            #expect(opened.status == .created && opened.json["iin"] as? String == Fixture.linIIN)
            let token = try #require(opened.json["token"] as? String)
            #expect(token.count == 64)
            // The sign-in is finished: its code opens nothing twice.
            #expect(try await p.call("/v1/signin/confirm", ["login": login, "code": code]).code == "signin_pending")
            // The session: for this key only, never without the header.
            let shown = try await p.call("/v1/signin/session", method: .get, token: token)
            #expect(shown.status == .ok && shown.json["iin"] as? String == Fixture.linIIN && shown.json["token"] == nil)
            #expect(try await p.call("/v1/signin/session", method: .get, key: "issuance2", token: token).code == "session_invalid")
            let none = try await p.call("/v1/signin/session", method: .get)
            #expect(none.status == .unauthorized && none.code == "session_invalid")
            // Sign-out ends it at once.
            #expect(try await p.call("/v1/signin/signout", key: "issuance2", token: token).code == "session_invalid")
            #expect(try await p.call("/v1/signin/signout", token: token).status == .ok)
            #expect(try await p.call("/v1/signin/session", method: .get, token: token).code == "session_invalid")
            // A session ends by itself after 30 minutes.
            let second = try await p.signIn(store, certs)
            #expect(try await p.call("/v1/signin/session", method: .get, token: second).status == .ok)
            f.clock.advance(1801)
            #expect(try await p.call("/v1/signin/session", method: .get, token: second).code == "session_invalid")
            // An expired challenge.
            let stale = try await p.challenge()
            f.clock.advance(121)
            let late = try await p.present(stale.challenge, certificate: certs.auth,
                                           signature: try store.signSignIn(challenge: stale.challenge, audience: stale.audience, certificatePEM: certs.auth))
            #expect(late.status == .forbidden && late.code == "signin_challenge")
            // Wrong codes: each refused as wrong, then the block holds even for the right one.
            f.clock.advance(61)
            let w = try await p.challenge()
            let wrongPending = try await p.present(w.challenge, certificate: certs.auth,
                                                   signature: try store.signSignIn(challenge: w.challenge, audience: w.audience, certificatePEM: certs.auth))
            let wrongLogin = try #require(wrongPending.json["login"] as? String), right = try await p.lastCode()
            let wrong = String(format: "%06d", ((Int(right) ?? 0) + 1) % 1_000_000)
            for _ in 0..<3 { #expect(try await p.call("/v1/signin/confirm", ["login": wrongLogin, "code": wrong]).code == "signin_code") }
            #expect(try await p.call("/v1/signin/confirm", ["login": wrongLogin, "code": right]).code == "signin_code_blocked")
            // An expired certificate (a year and a day later).
            f.clock.advance(366 * 86400)
            let e = try await p.challenge()
            let expired = try await p.present(e.challenge, certificate: certs.auth,
                                              signature: try store.signSignIn(challenge: e.challenge, audience: e.audience, certificatePEM: certs.auth))
            #expect(expired.status == .forbidden && expired.code == "certificate_expired")
        }
        // Every step audited, with neither a code nor a token nor a certificate in it.
        let rows = try await f.store.database.transaction { db in
            try db.query("SELECT action, detail FROM audit_log WHERE action LIKE 'signin.%' OR action = 'sms.signin_code'", [])
        }
        let actions = Set(rows.compactMap { $0["action"].text })
        #expect(actions.isSuperset(of: ["signin.challenge", "signin.signed", "sms.signin_code", "signin.session", "signin.signout", "signin.wrong_code",
                                        "signin.refused"]))
        #expect(rows.allSatisfy { ($0["detail"].text ?? "").count <= 40 && !($0["detail"].text ?? "").contains("BEGIN") })
        let stored = try await f.store.database.transaction { db in try db.query("SELECT token_hash FROM signin_sessions", []) }
        #expect(stored.count == 2 && stored.allSatisfy { $0["token_hash"].text?.count == 64 })
        #expect(try await f.store.verifyAudit().intact)
        await f.store.database.close()
    }

    @Test("refusals: a SIGN certificate, a bad signature, another CA's certificate, a revoked certificate (and its open session)")
    func refusals() async throws {
        let f = try await Fixture.make()
        try await f.app.test(.router) { client in
            let (_, _, store, certs) = try await WalkthroughTests.walk(client, f)
            let p = Portal(client: client, f: f)
            // The SIGN key signs documents, not sign-ins.
            var c = try await p.challenge()
            let bySign = try await p.present(c.challenge, certificate: certs.sign,
                                             signature: try store.signSignIn(challenge: c.challenge, audience: c.audience, certificatePEM: certs.sign))
            #expect(bySign.status == .forbidden && bySign.code == "certificate_not_auth", "\(bySign.json)")
            // The AUTH certificate with the SIGN key's signature, or a signature for another audience.
            c = try await p.challenge()
            let mixed = try await p.present(c.challenge, certificate: certs.auth,
                                            signature: try store.signSignIn(challenge: c.challenge, audience: c.audience, certificatePEM: certs.sign))
            #expect(mixed.code == "signin_signature")
            c = try await p.challenge()
            let elsewhere = try await p.present(c.challenge, certificate: certs.auth,
                                                signature: try store.signSignIn(challenge: c.challenge, audience: "https://evil.example", certificatePEM: certs.auth))
            #expect(elsewhere.code == "signin_signature")
            // A certificate of another CA naming the same IIN.
            let dir = Temp.dir()
            let foreign = try openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", dir + "/k.pem", "-days", "30",
                                       "-subj", "/CN=MIRANDA LIN/serialNumber=IIN\(Fixture.linIIN)/C=KZ", "-addext", "extendedKeyUsage=clientAuth"]).out
            c = try await p.challenge()
            let other = try await p.present(c.challenge, certificate: foreign, signature: Data(repeating: 1, count: 256))
            #expect(other.status == .forbidden && other.code == "certificate_untrusted", "\(other.json)")
            c = try await p.challenge()
            #expect(try await p.present(c.challenge, certificate: "not a certificate", signature: Data([1])).status == .unprocessableContent)
            // Revoked by its owner: the open session ends, a new sign-in is refused.
            let token = try await p.signIn(store, certs)
            let revoked = try await p.call("/v1/applications/\(certs.number)/revoke", ["pin": "402719", "reason": "keyCompromise"])
            #expect(revoked.status == .ok, "\(revoked.json)")
            #expect(try await p.call("/v1/signin/session", method: .get, token: token).code == "session_invalid")
            c = try await p.challenge()
            let refused = try await p.present(c.challenge, certificate: certs.auth,
                                              signature: try store.signSignIn(challenge: c.challenge, audience: c.audience, certificatePEM: certs.auth))
            #expect(refused.status == .forbidden && refused.code == "certificate_revoked", "\(refused.json)")
        }
        await f.store.database.close()
    }
}
