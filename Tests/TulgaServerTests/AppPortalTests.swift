import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
import TulgaConfig
import TulgaCore
import TulgaCrypto
import TulgaDigitalID
import TulgaFace
import TulgaFlow
import TulgaIssuance
import TulgaKeyStore
import TulgaPKI
import TulgaPortal
import TulgaServer
import TulgaStorage
import TulgaTestSupport

/// Issue 16: the browser portal at `/app/`. Its API is authenticated by a cookie (HttpOnly,
/// SameSite=Strict, scoped to `/app/api`, kept only hashed) with a CSRF token on every
/// state-changing call; each browser session is its own owner; the IIN is bound by its SMS code;
/// a sign-in with the AUTH key and a 1414 code shows that IIN's applications and nothing else.
@Suite("The browser portal: cookie sessions, CSRF, ownership, sign-in binding, headers", .serialized)
struct AppPortalTests {
    struct Reply {
        let status: HTTPResponse.Status
        let headers: HTTPFields
        let json: [String: Any]
        let list: [[String: Any]]
        var code: String? { json["code"] as? String }
    }

    /// One browser: its cookie and CSRF token, as the page holds them (the page never sees the cookie).
    struct Browser {
        let client: any TestClientProtocol
        var cookie: String
        var csrf: String

        static func call(_ client: any TestClientProtocol, _ uri: String, _ object: [String: Any]? = nil, method: HTTPRequest.Method = .post,
                         raw: ByteBuffer? = nil, headers extra: HTTPFields = [:]) async throws -> Reply {
            var h = extra
            if h[.contentType] == nil, object != nil { h[.contentType] = "application/json" }
            return try await client.execute(uri: uri, method: method, headers: h, body: try raw ?? object.map(jsonBody)) { r in
                let any = try? JSONSerialization.jsonObject(with: Data(r.body.readableBytesView))
                return Reply(status: r.status, headers: r.headers, json: any as? [String: Any] ?? [:], list: any as? [[String: Any]] ?? [])
            }
        }

        /// `POST /app/api/session`, as the page does on load.
        static func begin(_ client: any TestClientProtocol, headers extra: HTTPFields = [:]) async throws -> (Browser, Reply) {
            let r = try await call(client, "/app/api/session", [:], headers: extra)
            #expect(r.status == .created, "\(r.json)")
            let set = try #require(r.headers[.setCookie])
            let value = try #require(set.split(separator: ";").first?.split(separator: "=", maxSplits: 1).last.map(String.init))
            return (Browser(client: client, cookie: value, csrf: try #require(r.json["csrf"] as? String)), r)
        }

        func call(_ uri: String, _ object: [String: Any]? = nil, method: HTTPRequest.Method = .post, raw: ByteBuffer? = nil,
                  csrf token: String?? = .none, headers extra: HTTPFields = [:]) async throws -> Reply {
            var h = extra
            h[.cookie] = "theme=dark; tulga_portal=\(cookie)"
            switch token {
            case .none: if method != .get { h[AppCookieHeader.csrf] = csrf }
            case .some(let given): if let given { h[AppCookieHeader.csrf] = given }
            }
            return try await Self.call(client, uri, object, method: method, raw: raw, headers: h)
        }

        /// Takes the new cookie and CSRF token an answer rotated the session to (binding an IIN, a sign-in), as the page does.
        mutating func adopt(_ r: Reply) throws {
            guard let set = r.headers[.setCookie] else { return }
            let value = try #require(set.split(separator: ";").first?.split(separator: "=", maxSplits: 1).last.map(String.init))
            (cookie, csrf) = (value, try #require(r.json["csrf"] as? String))
        }

        /// Asks for a code for `iin` and confirms it with what the phone received: the IIN is bound, the session rotated.
        mutating func bind(_ iin: String, _ f: Fixture) async throws {
            // Each SMS the resend interval after the last (portal sessions share it): "the last one" is then this one.
            f.clock.advance(f.store.issuance.sms.resendAfterSeconds)
            #expect(try await call("/app/api/sms/request", ["iin": iin, "language": "en"]).status == .accepted)
            let confirmed = try await call("/app/api/sms/confirm", ["code": try await AppPortalTests.lastCode(f, iin)])
            #expect(confirmed.status == .ok && confirmed.json["iin"] as? String == iin, "\(confirmed.json)")
            #expect(confirmed.headers[.setCookie] != nil && confirmed.json["csrf"] as? String != csrf, "not rotated: \(confirmed.json)")
            try adopt(confirmed)
        }
    }

    enum AppCookieHeader { static let csrf = HTTPField.Name("X-CSRF-Token")! }

    static func lastCode(_ f: Fixture, _ iin: String) async throws -> String {
        let sms = try #require(try await f.store.outbox(iin: iin).last?.body)
        return String(try #require(sms.split(separator: " ").first { $0.count >= 6 && $0.prefix(6).allSatisfy(\.isNumber) }).prefix(6))
    }

    @Test("the cookie: HttpOnly, SameSite=Strict, Path=/app/api, Secure over TLS; stored only as its SHA-256; begun only with JSON")
    func cookie() async throws {
        var settings = RecordSettings()
        settings.portal.sessionLifetimeSeconds = 7200
        var server = ServerConfig()
        server.trustForwardedFor = true
        let f = try await Fixture.make(server: server, settings: settings)
        try await f.app.test(.router) { client in
            let (browser, begun) = try await Browser.begin(client)
            let set = try #require(begun.headers[.setCookie])
            #expect(set == "tulga_portal=\(browser.cookie); Path=/app/api; Max-Age=7200; HttpOnly; SameSite=Strict", "\(set)")
            #expect(browser.cookie.count == 64 && browser.cookie.allSatisfy(\.isHexDigit))
            #expect(browser.csrf.count == 64 && browser.csrf != browser.cookie && begun.json["iin"] == nil)
            // Only the SHA-256 is stored: no column holds the cookie or the CSRF token.
            let rows = try await f.store.database.transaction { db in try db.query("SELECT * FROM portal_sessions", []) }
            #expect(rows.count == 1 && rows[0]["secret_hash"].text == sha256Hex(browser.cookie))
            #expect(!rows[0].columns.values.contains { $0.text == browser.cookie || $0.text == browser.csrf })
            // Behind a TLS proxy (trusted): Secure.
            var tls = HTTPFields()
            tls[HTTPField.Name("X-Forwarded-Proto")!] = "https"
            let (_, secure) = try await Browser.begin(client, headers: tls)
            #expect(secure.headers[.setCookie]?.hasSuffix("; HttpOnly; SameSite=Strict; Secure") == true)
            // A form post from anywhere (not JSON) begins nothing.
            var form = HTTPFields()
            form[.contentType] = "application/x-www-form-urlencoded"
            let refused = try await Browser.call(client, "/app/api/session", raw: ByteBuffer(string: "a=b"), headers: form)
            #expect(refused.status == .forbidden && refused.code == "csrf" && refused.headers[.setCookie] == nil)
            // Ending the session clears the cookie and it opens nothing after.
            let ended = try await browser.call("/app/api/session/end")
            #expect(ended.status == .ok && ended.headers[.setCookie]?.hasPrefix("tulga_portal=; Path=/app/api; Max-Age=0;") == true)
            #expect(try await browser.call("/app/api/session", method: .get).code == "portal_session")
        }
        await f.store.database.close()
        // Always Secure when the portal says so.
        settings.portal.secureCookie = true
        let g = try await Fixture.make(settings: settings)
        try await g.app.test(.router) { client in
            let (_, begun) = try await Browser.begin(client)
            #expect(begun.headers[.setCookie]?.hasSuffix("; Secure") == true)
        }
        await g.store.database.close()
    }

    @Test("CSRF: a state-changing call without the token, with a wrong one or another session's is refused; another site's call too")
    func csrf() async throws {
        var server = ServerConfig()
        server.authFailuresPerAddressPerMinute = 5
        let f = try await Fixture.make(server: server)
        try await f.store.issuance.registerPhone(iin: Fixture.linIIN, phone: "+77010000001")
        try await f.app.test(.router) { client in
            let (a, _) = try await Browser.begin(client)
            let (b, _) = try await Browser.begin(client)
            let request: [String: Any] = ["iin": Fixture.linIIN, "language": "en"]
            let tokens: [String?] = [nil, "", String(repeating: "0", count: 64), b.csrf, String(a.csrf.dropLast())]
            for token in tokens {
                let r = try await a.call("/app/api/sms/request", request, csrf: .some(token))
                #expect(r.status == .forbidden && r.code == "csrf", "\(token ?? "none")")
            }
            #expect(try await f.store.outbox(iin: Fixture.linIIN).isEmpty)   // nothing was sent
            // Reading needs no token; the session's own token opens its calls.
            let shown = try await a.call("/app/api/session", method: .get, csrf: .some(nil))
            #expect(shown.status == .ok && shown.json["csrf"] as? String == a.csrf)
            // Refusals count as failed authentications of the address: after five, 429 (a live session's own calls go on).
            let limited = try await a.call("/app/api/sms/request", request, csrf: .some("x"))
            #expect(limited.status == .tooManyRequests && limited.headers[.retryAfter] != nil)
            f.clock.advance(60)
            #expect(try await a.call("/app/api/sms/request", request).status == .accepted)
            // A call another site's page makes (fetch metadata) is refused even with the cookie and the token.
            var cross = HTTPFields()
            cross[HTTPField.Name("Sec-Fetch-Site")!] = "cross-site"
            #expect(try await a.call("/app/api/session", method: .get, headers: cross).code == "csrf")
            // No cookie, or a made-up one: 401.
            #expect(try await Browser.call(client, "/app/api/session", method: .get).code == "portal_session")
            let forged = Browser(client: client, cookie: String(repeating: "a", count: 64), csrf: a.csrf)
            #expect(try await forged.call("/app/api/session", method: .get).code == "portal_session")
            // An API key opens nothing here, and a portal cookie opens no API route.
            #expect(try await Browser.call(client, "/app/api/session", method: .get, headers: Fixture.headers("admin")).code == "portal_session")
            #expect(try await a.call("/v1/applications/0000", method: .get).code == "unauthorized")
        }
        await f.store.database.close()
    }

    @Test("expiry on the injected clock: idle for the idle time, or older than the lifetime however busy")
    func expiry() async throws {
        var settings = RecordSettings()
        (settings.portal.sessionIdleSeconds, settings.portal.sessionLifetimeSeconds) = (600, 1800)
        let f = try await Fixture.make(settings: settings)
        try await f.app.test(.router) { client in
            let (idle, _) = try await Browser.begin(client)
            f.clock.advance(599)
            #expect(try await idle.call("/app/api/session", method: .get).status == .ok)   // used: idle from now
            f.clock.advance(599)
            #expect(try await idle.call("/app/api/session", method: .get).status == .ok)
            f.clock.advance(601)
            #expect(try await idle.call("/app/api/session", method: .get).code == "portal_session")
            let (busy, _) = try await Browser.begin(client)
            for _ in 0..<5 {
                f.clock.advance(300)
                #expect(try await busy.call("/app/api/session", method: .get).status == .ok)
            }
            f.clock.advance(300)   // 1800 s since it began
            #expect(try await busy.call("/app/api/session", method: .get).code == "portal_session")
        }
        await f.store.database.close()
    }

    @Test("ownership: each browser its own owner; the IIN bound by its code; a sign-in shows that IIN's applications and nothing else")
    func ownership() async throws {
        let f = try await Fixture.make()
        try await f.app.test(.router) { client in
            // Lin's first application, filed and installed through a calling system's key (README's walkthrough).
            let walked = try await WalkthroughTests.walk(client, f)
            try await f.store.issuance.registerPhone(iin: Fixture.obamaIIN, phone: "+77010000002", actor: "operator:desk")
            var (a, _) = try await Browser.begin(client)
            var (b, _) = try await Browser.begin(client)
            let (c, _) = try await Browser.begin(client)
            // Nothing but the session before a code binds an IIN.
            #expect(try await a.call("/app/api/verifications", ["language": "en"]).code == "iin_not_confirmed")
            #expect(try await a.call("/app/api/sms/confirm", ["code": "123456"]).code == "no_code_requested")
            try await a.bind(Fixture.linIIN, f)
            try await b.bind(Fixture.obamaIIN, f)
            // A code asked through one browser is good in that browser only.
            let (e, _) = try await Browser.begin(client)
            f.clock.advance(f.store.issuance.sms.resendAfterSeconds)   // portal sessions share an IIN's resend interval
            #expect(try await c.call("/app/api/sms/request", ["iin": Fixture.linIIN]).status == .accepted)
            f.clock.advance(f.store.issuance.sms.resendAfterSeconds)
            #expect(try await e.call("/app/api/sms/request", ["iin": Fixture.linIIN]).status == .accepted)
            #expect(try await c.call("/app/api/sms/confirm", ["code": try await Self.lastCode(f, Fixture.linIIN)]).code == "code")
            // Bound: another IIN is refused in that session.
            #expect(try await a.call("/app/api/sms/request", ["iin": Fixture.obamaIIN]).code == "iin_bound")
            // A's verification session is A's: B gets 404 for every use of it, before any body is read.
            let started = try await a.call("/app/api/verifications", ["language": "en"])
            #expect(started.status == .created, "\(started.json)")
            let sid = try #require(started.json["sessionId"] as? String)
            #expect(try await b.call("/app/api/verifications/\(sid)", method: .get).status == .notFound)
            for path in ["selfie", "frames", "finish"] {
                #expect(try await b.call("/app/api/verifications/\(sid)/\(path)", raw: ByteBuffer(bytes: [0xFF, 0xD8])).status == .notFound, "\(path)")
            }
            #expect(try await a.call("/app/api/verifications/\(sid)", method: .get).status == .ok)
            // The walked application is the calling system's: A cannot read it though A holds Lin's IIN and the number.
            for suffix in ["", "/history", "/certificates"] {
                #expect(try await a.call("/app/api/applications/\(walked.number)\(suffix)", method: .get).status == .notFound, "\(suffix)")
            }
            #expect(try await a.call("/app/api/applications/\(walked.number)/install").status == .notFound)
            #expect((try await a.call("/app/api/applications", method: .get).json["applications"] as? [Any])?.isEmpty == true)
            // Revoked (the applicant's PIN), so Lin may apply again, this time in browser A.
            let revoked = try await Browser.call(client, "/v1/applications/\(walked.number)/revoke", ["pin": "402719"], headers: Fixture.headers("issuance"))
            #expect(revoked.status == .ok, "\(revoked.json)")
            let keys = try FolderKeyStore(directory: f.dir + "/browser-keys", password: "Brow#Pass1")
            let made = try keys.generate(iin: Fixture.linIIN, algorithm: .rsa2048)
            let agreement = try #require(try await a.call("/app/api/agreement?lang=kk", method: .get).json["version"] as? String)
            // A filing that fails (a wrong PIN) keeps nothing of the keys: the requests the agent's `pending` gives
            // again (the key store's own) file as they are.
            let failed = try await a.call("/app/api/applications", ["pin": "999998", "agreement": agreement, "storage": "folder",
                                                                    "authRequest": made[0].pem, "signRequest": made[1].pem])
            #expect(failed.status != .created, "\(failed.json)")
            let again = try keys.pendingKeys().requests
            #expect(again.map(\.purpose) == [.auth, .sign] && again.map(\.pem) == made.map(\.pem) && again.map(\.keyID) == made.map(\.keyID))
            let filed = try await a.call("/app/api/applications", ["pin": "402719", "agreement": agreement, "storage": "folder",
                                                                   "authRequest": again[0].pem, "signRequest": again[1].pem])
            #expect(filed.status == .created && filed.json["status"] as? String == "issued", "\(filed.json)")
            let number = try #require(filed.json["number"] as? String)
            // A's own: listed, readable, installable. B and C (C even for Lin's IIN): 404 everywhere.
            let listed = try await a.call("/app/api/applications", method: .get).json["applications"] as? [[String: Any]]
            #expect(listed?.compactMap { $0["number"] as? String } == [number])
            for browser in [b, c] {
                for suffix in ["", "/history", "/certificates"] {
                    let r = try await browser.call("/app/api/applications/\(number)\(suffix)", method: .get)
                    #expect(r.status == .notFound || r.code == "iin_not_confirmed", "\(suffix): \(r.status)")
                }
                #expect(try await browser.call("/app/api/applications/\(number)/install").status != .ok)
                #expect((try await browser.call("/app/api/applications", method: .get).json["applications"] as? [Any])?.isEmpty == true)
            }
            let certificates = try await a.call("/app/api/applications/\(number)/install")
            #expect(certificates.status == .ok)
            let certs = try JSONDecoder().decode(IssuedCertificates.self, from: JSONSerialization.data(withJSONObject: certificates.json))
            _ = try keys.install(certs.byPurpose, chainPEM: certs.chain, at: f.clock.date)
            #expect(try await a.call("/app/api/applications/\(number)/history", method: .get).list.compactMap { $0["status"] as? String }
                    == ["signing", "issued", "installed"])

            // D signs in with the AUTH key and a 1414 code: it reads both of Lin's applications (the calling system's
            // too), their history, and nothing of anyone else; it acts on none (no IIN bound by SMS).
            var (d, _) = try await Browser.begin(client)
            #expect(try await d.call("/app/api/applications/\(number)", method: .get).status == .notFound)
            let signedIn = try await Self.signIn(&d, keys, certs, f)
            #expect(signedIn.status == .created && signedIn.json["iin"] as? String == Fixture.linIIN && signedIn.json["token"] == nil, "\(signedIn.json)")
            let seen = try await d.call("/app/api/applications", method: .get).json["applications"] as? [[String: Any]]
            #expect(Set(seen?.compactMap { $0["number"] as? String } ?? []) == [number, walked.number])
            #expect(try await d.call("/app/api/applications/\(walked.number)/history", method: .get).list.last?["status"] as? String == "revoked")
            #expect(try await d.call("/app/api/applications/\(number)", method: .get).json["status"] as? String == "installed")
            #expect(try await d.call("/app/api/applications/\(number)/certificates", method: .get).code == "iin_not_confirmed")
            #expect(try await d.call("/app/api/applications/\(number)/install").code == "iin_not_confirmed")
            #expect(try await d.call("/app/api/applications/0000-0000-0000-0000-0000-0000-0000", method: .get).status == .notFound)
            let view = try await d.call("/app/api/session", method: .get).json
            #expect((view["signedIn"] as? [String: Any])?["iin"] as? String == Fixture.linIIN && view["iin"] == nil)
            // The sign-in's token is nowhere at rest in clear: the portal keeps its SHA-256.
            let stored = try await f.store.database.transaction { db in try db.query("SELECT signin_hash FROM portal_sessions WHERE signin_hash IS NOT NULL", []) }
            #expect(stored.count == 1 && stored[0]["signin_hash"].text?.count == 64)
            // B (bound to Obama by SMS) cannot sign in as Lin: refused, and the sign-in just opened is closed again.
            f.clock.advance(61)
            #expect(try await Self.signIn(&b, keys, certs, f).code == "iin_bound")
            let owner = "portal:" + (try await Self.sessionID(f, b))
            let open = try await f.store.database.transaction { db in
                try db.query("SELECT token_hash FROM signin_sessions WHERE owner = ? AND ended_at IS NULL", [.text(owner)])
            }
            #expect(open.isEmpty)
            #expect((try await b.call("/app/api/applications", method: .get).json["applications"] as? [Any])?.isEmpty == true)
            // Signing out ends the session and its sign-in.
            #expect(try await d.call("/app/api/session/end").status == .ok)
            #expect(try await d.call("/app/api/applications", method: .get).code == "portal_session")
        }
        await f.store.database.close()
    }

    @Test("the document step through the portal: this browser's verification only; a matching card completes the Digital ID")
    func documentStep() async throws {
        let f = try await Fixture.make(documentStep: true)
        let card = try Generated.render("id-card", seed: 3, person: Fixture.linDocument(number: Fixture.linCard))
        try await f.store.issuance.registerPhone(iin: Fixture.linIIN, phone: "+77010000001", actor: "operator:desk")
        try await f.store.issuance.registerPhone(iin: Fixture.obamaIIN, phone: "+77010000002", actor: "operator:desk")
        try await f.app.test(.router) { client in
            var (a, _) = try await Browser.begin(client)
            var (b, _) = try await Browser.begin(client)
            try await a.bind(Fixture.linIIN, f)
            try await b.bind(Fixture.obamaIIN, f)
            let sid = try #require(try await a.call("/app/api/verifications", ["language": "en"]).json["sessionId"] as? String)
            // Before the video check: refused by name, in order.
            let early = try await a.call("/app/api/verifications/\(sid)/document/front?kind=id-card", raw: ByteBuffer(bytes: try Data(contentsOf: URL(fileURLWithPath: card.files[0]))))
            #expect(early.status == .conflict && early.code == "document_before_verification", "\(early.json)")
            // The video check, frame by frame as the page streams it (stamped on the injected clock at 30 fps).
            var phase = ""
            for image in try videoFrames() where phase != "passed" && phase != "failed" {
                let r = try await a.call("/app/api/verifications/\(sid)/frames", raw: ByteBuffer(bytes: try image.jpegData()))
                #expect(r.status == .ok, "\(r.json)")
                phase = r.json["phase"] as? String ?? ""
                f.clock.advance(1.0 / 30)
            }
            #expect(try await a.call("/app/api/verifications/\(sid)/finish").json["outcome"] as? String == "pass")
            #expect(try await a.call("/app/api/digital-id/pin", ["pin": "402719"]).status == .ok)
            let state = try await a.call("/app/api/verifications/\(sid)", method: .get).json["document"] as? [String: Any]
            #expect(state?["required"] as? Bool == true, "\(String(describing: state))")
            // Another browser: 404 on every document route of A's session, before a byte is read.
            for (path, method) in [("/document/front?kind=id-card", HTTPRequest.Method.post), ("/document/back", .post), ("/document", .get), ("/document/confirm", .post)] {
                #expect(try await b.call("/app/api/verifications/\(sid)\(path)", method: method, raw: method == .post ? ByteBuffer(bytes: [0xFF, 0xD8]) : nil).status == .notFound, "\(path)")
            }
            // Without the CSRF token a side is refused.
            #expect(try await a.call("/app/api/verifications/\(sid)/document/front?kind=id-card", raw: ByteBuffer(bytes: [0xFF, 0xD8]), csrf: .some(nil)).code == "csrf")
            // Both sides, the recognised data, the confirmation: done, and the Digital ID with it.
            var last = Reply(status: .ok, headers: [:], json: [:], list: [])
            for (i, file) in card.files.enumerated() {
                last = try await a.call("/app/api/verifications/\(sid)/document/\(i == 0 ? "front?kind=id-card" : "back")", raw: ByteBuffer(bytes: try Data(contentsOf: URL(fileURLWithPath: file))))
                #expect(last.status == .ok, "\(last.json)")
            }
            #expect(try await a.call("/app/api/verifications/\(sid)/document", method: .get).json["state"] as? String == "confirm")
            let done = try await a.call("/app/api/verifications/\(sid)/document/confirm")
            #expect(done.status == .ok && done.json["state"] as? String == "done", "\(done.json)")
            #expect(try await f.store.digitalIDs.record(Fixture.linIIN)?.documentState == .done)
        }
        await f.store.database.close()
    }

    @Test("after the fifth failure the portal's refusal carries the service-centre path in the applicant's words")
    func fifthFailure() async throws {
        let f = try await Fixture.make()
        try await f.store.issuance.registerPhone(iin: Fixture.obamaIIN, phone: "+77010000002")
        try await f.app.test(.router) { client in
            // Five failed attempts of Obama's record (Lin's clip), through a calling system.
            let clip = ByteBuffer(bytes: try Data(contentsOf: URL(fileURLWithPath: Paths.video)))
            for _ in 1...5 {
                let started = try await Browser.call(client, "/v1/verifications", ["iin": Fixture.obamaIIN], headers: Fixture.headers("kiosk"))
                let sid = try #require(started.json["sessionId"] as? String)
                f.clock.advance(10)
                _ = try await Browser.call(client, "/v1/verifications/\(sid)/clip", raw: clip, headers: Fixture.headers("kiosk", json: false))
                #expect(try await Browser.call(client, "/v1/verifications/\(sid)/finish", headers: Fixture.headers("kiosk")).json["outcome"] as? String == "fail")
            }
            var (browser, _) = try await Browser.begin(client)
            try await browser.bind(Fixture.obamaIIN, f)
            let refused = try await browser.call("/app/api/verifications", ["language": "kk"])
            #expect(refused.status == .forbidden && refused.code == "attempts_exhausted")
            let message = try #require(refused.json["message"] as? [String: Any])
            #expect(message["key"] as? String == "refusal.attempts_exhausted" && (message["arguments"] as? [String: String])?["max"] == "5", "\(message)")
        }
        await f.store.database.close()
    }

    static func sessionID(_ f: Fixture, _ browser: Browser) async throws -> String {
        let row = try await f.store.database.transaction { db in try db.one("SELECT id FROM portal_sessions WHERE secret_hash = ?", [.text(sha256Hex(browser.cookie))]) }
        return try #require(row?["id"].text)
    }

    /// Challenge, the key store's signature with the AUTH key (the agent's part), the 1414 code.
    static func signIn(_ browser: inout Browser, _ keys: FolderKeyStore, _ certs: IssuedCertificates, _ f: Fixture) async throws -> Reply {
        f.clock.advance(1)
        let c = try await browser.call("/app/api/signin/challenge")
        let challenge = try #require(c.json["challenge"] as? String), audience = try #require(c.json["audience"] as? String)
        let signature = try keys.signSignIn(challenge: challenge, audience: audience, certificatePEM: certs.auth)
        let pending = try await browser.call("/app/api/signin/certificate", ["challenge": challenge, "certificate": certs.auth,
                                                                             "signature": signature.base64EncodedString(), "language": "ru"])
        #expect(pending.status == .accepted, "\(pending.json)")
        let login = try #require(pending.json["login"] as? String)
        let opened = try await browser.call("/app/api/signin/confirm", ["login": login, "code": try await lastCode(f, Fixture.linIIN)])
        try browser.adopt(opened)   // a sign-in rotates the session too
        return opened
    }

    @Test("headers: a Content-Security-Policy without inline scripts or styles, the agent's port only; nosniff, no referrer, no framing")
    func headers() async throws {
        var settings = RecordSettings()
        settings.portal.agentPort = 14141
        let f = try await Fixture.make(settings: settings)
        let policy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; font-src 'self'; connect-src 'self' ws://127.0.0.1:14141; "
            + "media-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
        try await f.app.test(.router) { client in
            for (uri, status, type) in [("/app/", HTTPResponse.Status.ok, "text/html; charset=utf-8"), ("/app/app.js", .ok, "text/javascript; charset=utf-8"),
                                        ("/app/app.css", .ok, "text/css; charset=utf-8"), ("/app/missing.js", .notFound, "application/problem+json"),
                                        ("/app/api/settings", .ok, "application/json"), ("/v1/agreement", .unauthorized, "application/problem+json"),
                                        ("/health/live", .ok, "application/json")] {
                let r = try await Browser.call(client, uri, method: .get)
                #expect(r.status == status && r.headers[.contentType] == type, "\(uri): \(r.status)")
                #expect(r.headers[HTTPField.Name("Content-Security-Policy")!] == policy, "\(uri)")
                #expect(r.headers[HTTPField.Name("X-Content-Type-Options")!] == "nosniff" && r.headers[HTTPField.Name("Referrer-Policy")!] == "no-referrer")
                #expect(r.headers[HTTPField.Name("X-Frame-Options")!] == "DENY")
                #expect((r.headers[.cacheControl] == "no-store") == uri.hasPrefix("/app/api/"), "\(uri)")
            }
            let bare = try await Browser.call(client, "/app", method: .get)
            #expect(bare.status == .movedPermanently && bare.headers[.location] == "/app/")
            let settings = try await Browser.call(client, "/app/api/settings", method: .get).json
            #expect(settings["agentPort"] as? Int == 14141)
            // The page checks a document file against the service's own limit before sending it.
            #expect(settings["documentMaxBytes"] as? Int == ServerConfig().documentMaxBytes)
            // The page: scripts and styles from files only, nothing from another origin.
            let page = try await client.execute(uri: "/app/", method: .get) { String(buffer: $0.body) }
            #expect(!page.contains("style=") && !page.contains("<style") && !page.contains("http://") && !page.contains("https://"))
            let scripts = page.components(separatedBy: "<script").dropFirst()
            #expect(scripts.count == 1 && scripts.allSatisfy { $0.hasPrefix(" type=\"module\" src=\"app.js\"></script>") })
            // No way out of /app/ into the API.
            #expect(try await Browser.call(client, "/app/../v1/agreement", method: .get).status != .ok)
            // The catalogue in each language, the page's words included.
            let kk = try await Browser.call(client, "/app/api/messages?lang=kk", method: .get)
            #expect(kk.json["portal.title"] as? String == Catalogue.template(.portalTitle, .kk) && kk.json["prompt.turn_right"] as? String == "Басыңызды баяу оңға бұрыңыз")
            #expect(try await Browser.call(client, "/app/api/messages?lang=fr", method: .get).code == "invalid_language")
        }
        await f.store.database.close()
    }

    @Test("the session's rules: binding by code, one IIN per session, sign-in of that IIN only, lifetimes", arguments: [
        // (bound, signed in, event IIN, event) -> refusal
        (nil as String?, nil as String?, Fixture.linIIN, "request", nil as String?),
        (Fixture.linIIN, nil, Fixture.linIIN, "request", nil),
        (Fixture.linIIN, nil, Fixture.obamaIIN, "request", "iin_bound"),
        (nil, Fixture.linIIN, Fixture.obamaIIN, "request", "iin_bound"),
        (nil, nil, Fixture.linIIN, "confirm-other", "no_code_requested"),
        (Fixture.linIIN, nil, Fixture.obamaIIN, "signin", "iin_bound"),
        (nil, Fixture.obamaIIN, Fixture.linIIN, "signin", "iin_bound"),
        (Fixture.linIIN, nil, Fixture.linIIN, "signin", nil),
    ])
    func rules(bound: String?, signedIn: String?, iin: String, event: String, refusal: String?) throws {
        let rules = PortalRules(settings: PortalSettings())
        var session = PortalSession(id: "s", now: 1000)
        (session.iin, session.signedInIIN, session.pendingIIN) = (bound, signedIn, Fixture.linIIN)
        let happening: PortalEvent = switch event {
        case "request": .codeRequested(iin: iin)
        case "signin": .signedIn(iin: iin, tokenHash: "h")
        default: .codeConfirmed(iin: Fixture.obamaIIN)
        }
        do {
            let next = try rules.transition(from: session, event: happening, now: 1010)
            #expect(refusal == nil && next.lastSeenAt == 1010)
        } catch {
            #expect(error.errorCode == refusal)
        }
        #expect(throws: PortalError(.session, "")) { try rules.transition(from: session, event: .ended, now: 1000 + 1800) }
        #expect(rules.isLive(session, now: 1000 + 1799) && !rules.isLive(session, now: 999))
    }
}
