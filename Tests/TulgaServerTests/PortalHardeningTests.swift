import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
import TulgaConfig
import TulgaCore
import TulgaFlow
import TulgaIssuance
import TulgaPKI
import TulgaPortal
import TulgaKeyStore
import TulgaServer
import TulgaStorage
import TulgaTestSupport

/// The browser portal's hardening (issue 16): SMS limits per IIN across sessions, no lockout after a session ends,
/// the session rotated on binding and on sign-in, first visits not charged as failures, no `//` around the middleware.
@Suite("portal hardening: SMS limits per IIN, no lockout, rotation, first visits, paths", .serialized)
struct PortalHardeningTests {
    typealias Browser = AppPortalTests.Browser

    /// SMSCodePolicy says: at most `maxPerHour` (5) codes an hour and `maxWrong` (3) wrong entries an hour.
    /// Both are counted per (IIN, owner), and in the portal every fresh cookie session is a new owner
    /// (`portal:<id>`), so a stranger who knows only the victim's IIN gets 5 codes and 3 guesses per
    /// `POST /app/api/session`. Only the in-memory per-IIN bucket (20 a minute) is left: ~60 guesses a
    /// minute at a 6-digit code, and 20 SMS a minute to the victim's phone.
    @Test("a stranger's fresh portal sessions get no more codes and no more guesses at one IIN than the SMS policy allows")
    func smsLimitsPerIIN() async throws {
        let f = try await Fixture.make()
        try await f.store.issuance.registerPhone(iin: Fixture.linIIN, phone: "+77010000001")
        let policy = f.store.issuance.sms
        let wrongAccepted = try await f.app.test(.router) { client -> Int in
            var wrongAccepted = 0
            for _ in 0..<8 {
                f.clock.advance(1)
                let (stranger, _) = try await Browser.begin(client)
                let sent = try await stranger.call("/app/api/sms/request", ["iin": Fixture.linIIN, "language": "en"])
                guard sent.status == .accepted else { continue }
                let real = try await AppPortalTests.lastCode(f, Fixture.linIIN)
                let guess = real == "000000" ? "000001" : "000000"
                let r = try await stranger.call("/app/api/sms/confirm", ["code": guess])
                // "wrong code; N tries left" (not "blocked") means the guess was counted as a fresh try.
                if r.json["detail"].map({ "\($0)" })?.contains("tries left") == true { wrongAccepted += 1 }
            }
            return wrongAccepted
        }
        let smsToVictim = try await f.store.outbox(iin: Fixture.linIIN).count
        #expect(smsToVictim <= policy.maxPerHour, "\(smsToVictim) SMS sent to one phone within 8 seconds (policy: \(policy.maxPerHour) an hour)")
        #expect(wrongAccepted <= policy.maxWrong, "\(wrongAccepted) wrong guesses at one IIN's code were tried (policy: \(policy.maxWrong) an hour)")
        await f.store.database.close()
    }

    /// An application filed in the portal belongs to that cookie session (`owner_key = portal:<id>`). When the session
    /// ends before the certificates are taken (tab closed and idle 30 min, the 4-hour lifetime, a head approval that
    /// takes a day), the applicant's next session, bound to the same IIN by the same phone, can neither take the
    /// certificates (404) nor file again (`active_application` while it is «issued», up to its expiry): locked out.
    @Test("the applicant's next portal session, bound to the same IIN, can still take the certificates or apply again")
    func noLockoutAfterSessionEnds() async throws {
        let f = try await Fixture.make()
        try await f.app.test(.router) { client in
            let walked = try await WalkthroughTests.walk(client, f)
            let revoked = try await Browser.call(client, "/v1/applications/\(walked.number)/revoke", ["pin": "402719"], headers: Fixture.headers("issuance"))
            #expect(revoked.status == .ok, "\(revoked.json)")
            var (first, _) = try await Browser.begin(client)
            try await first.bind(Fixture.linIIN, f)
            let keys = try FolderKeyStore(directory: f.dir + "/rev16-keys", password: "Brow#Pass1")
            let made = try keys.generate(iin: Fixture.linIIN, algorithm: .rsa2048)
            let agreement = try #require(try await first.call("/app/api/agreement?lang=en", method: .get).json["version"] as? String)
            let filed = try await first.call("/app/api/applications", ["pin": "402719", "agreement": agreement, "storage": "folder",
                                                                       "authRequest": made[0].pem, "signRequest": made[1].pem])
            #expect(filed.status == .created, "\(filed.json)")
            let number = try #require(filed.json["number"] as? String)
            // The browser is closed before «install»; the session idles out.
            f.clock.advance(f.store.settings.portal.sessionIdleSeconds + 1)
            #expect(try await first.call("/app/api/session", method: .get).code == "portal_session")
            // The same applicant comes back: a new session, the same IIN confirmed by the same phone.
            var (again, _) = try await Browser.begin(client)
            try await again.bind(Fixture.linIIN, f)
            let certificates = try await again.call("/app/api/applications/\(number)/certificates", method: .get)
            let listed = (try await again.call("/app/api/applications", method: .get).json["applications"] as? [Any]) ?? []
            let made2 = try FolderKeyStore(directory: f.dir + "/rev16-keys2", password: "Brow#Pass1").generate(iin: Fixture.linIIN, algorithm: .rsa2048)
            let refiled = try await again.call("/app/api/applications", ["pin": "402719", "agreement": agreement, "storage": "folder",
                                                                         "authRequest": made2[0].pem, "signRequest": made2[1].pem])
            #expect(certificates.status == .ok || refiled.status == .created,
                    "locked out: certificates \(certificates.status) \(certificates.code ?? ""), listed \(listed.count), apply again \(refiled.status) \(refiled.code ?? "")")
            #expect(certificates.status == .ok && listed.count == 1 && refiled.code == "active_application", "\(refiled.json)")
            #expect(try await again.call("/app/api/applications/\(number)/install").status == .ok)
            // Another IIN's session and a session not bound at all still see nothing of it; nor does Lin's see the calling system's.
            try await f.store.issuance.registerPhone(iin: Fixture.obamaIIN, phone: "+77010000002")
            var (other, _) = try await Browser.begin(client)
            try await other.bind(Fixture.obamaIIN, f)
            let (unbound, _) = try await Browser.begin(client)
            for browser in [other, unbound] {
                #expect(try await browser.call("/app/api/applications/\(number)", method: .get).status == .notFound)
                #expect(try await browser.call("/app/api/applications/\(number)/certificates", method: .get).status != .ok)
                #expect((try await browser.call("/app/api/applications", method: .get).json["applications"] as? [Any])?.isEmpty == true)
            }
            #expect(try await again.call("/app/api/applications/\(walked.number)/certificates", method: .get).status == .notFound)
        }
        await f.store.database.close()
    }

    /// Session fixation: the page adopts whatever `tulga_portal` cookie the browser already holds (app.js `start()`:
    /// `api.current()` before `api.begin()`), and neither the SMS binding nor the sign-in rotates the secret. A cookie
    /// planted before the victim arrives (a sibling subdomain, or plain HTTP while `portal.secureCookie` is false by
    /// default) is still the victim's session after the victim binds their IIN; its holder (who knows the CSRF token,
    /// an HMAC of the secret) acts for that IIN: reads the applications and certificates, and races the victim's PIN,
    /// consent and application in the very session that passed the face check.
    @Test("binding an IIN by its SMS code rotates the session secret: a cookie known before the binding opens nothing after it")
    func rotationOnBinding() async throws {
        let f = try await Fixture.make()
        try await f.store.issuance.registerPhone(iin: Fixture.linIIN, phone: "+77010000001")
        try await f.app.test(.router) { client in
            var (victim, _) = try await Browser.begin(client)
            let planted = victim                                    // the attacker's session, its cookie planted in the victim's browser
            try await victim.bind(Fixture.linIIN, f)                // the victim types their IIN and their code into the page
            let seen = try await planted.call("/app/api/session", method: .get)   // the attacker, holding the old cookie
            #expect(seen.code == "portal_session", "the planted cookie still opens the victim's bound session: \(seen.json)")
            #expect(try await planted.call("/app/api/verifications", ["language": "en"]).code == "portal_session")
            // The victim's page goes on with the new cookie and CSRF token; the old token is refused with the new cookie.
            #expect(victim.cookie != planted.cookie && victim.csrf != planted.csrf)
            #expect(try await victim.call("/app/api/session", method: .get).json["iin"] as? String == Fixture.linIIN)
            #expect(try await victim.call("/app/api/verifications", ["language": "en"], csrf: .some(planted.csrf)).code == "csrf")
            #expect(try await victim.call("/app/api/verifications", ["language": "en"]).status == .created)
        }
        await f.store.database.close()
    }

    @Test("a first visit without any cookie is not charged to the address's failed-auth bucket; a malformed cookie is")
    func firstVisitNotCharged() async throws {
        var server = ServerConfig()
        server.authFailuresPerAddressPerMinute = 2
        let f = try await Fixture.make(server: server)
        try await f.app.test(.router) { client in
            for _ in 0..<5 {
                #expect(try await Browser.call(client, "/app/api/session", method: .get).code == "portal_session")
            }
            // The address's failures are untouched: a malformed cookie still counts, and is stopped once they are spent.
            var bad = HTTPFields()
            bad[.cookie] = "tulga_portal=not-a-secret"
            var codes: [HTTPResponse.Status] = []
            for _ in 0..<4 { codes.append(try await Browser.call(client, "/app/api/session", method: .get, headers: bad).status) }
            #expect(codes.prefix(2).allSatisfy { $0 == .unauthorized } && codes.last == .tooManyRequests, "\(codes)")
        }
        await f.store.database.close()
    }

    @Test("a path with an empty segment (/app//api/…) is refused before any route, with no session")
    func doubleSlash() async throws {
        let f = try await Fixture.make()
        try await f.app.test(.router) { client in
            for path in ["/app//api/applications", "/app/api//applications", "/app//api/session/end", "/app/api//session"] {
                let r = try await Browser.call(client, path, method: .get)
                #expect(r.status == .notFound && r.code == "not_found", "\(path): \(r.status) \(r.json)")
            }
        }
        await f.store.database.close()
    }
}
