import Foundation
import Hummingbird
import HTTPTypes
import HummingbirdTesting
import Testing
import TulgaFace
import TulgaServer
import TulgaStorage
import TulgaCore
import TulgaFlow
import TulgaRegistry
import TulgaConfig
import TulgaAPIKeys
import TulgaModeration
import TulgaAttempts
import TulgaDigitalID
import TulgaTestSupport
import TulgaPolicy
import TulgaIssuance
import TulgaKeyStore
import TulgaPKI
import TulgaLiveness
import TulgaCrypto

@Suite("HTTP API in process")
struct APITests {
    @Test("keys: 401 without or with a bad key, 403 without the scope; errors are problem+json")
    func access() async throws {
        let f = try await Fixture.make()
        try await f.app.test(.router) { client in
            try await client.execute(uri: "/health/live", method: .get) { #expect($0.status == .ok) }
            try await client.execute(uri: "/v1/verifications", method: .post, headers: Fixture.headers(nil), body: body(#"{"iin":"850314300013"}"#)) { (r: TestResponse) async throws in
                #expect(r.status == .unauthorized)
                #expect(r.headers[.contentType] == "application/problem+json")
                #expect(try try decode(r.body)["code"] as? String == "unauthorized")
            }
            var bad = Fixture.headers(nil)
            bad[HTTPField.Name("X-API-Key")!] = String(repeating: "x", count: 40)
            try await client.execute(uri: "/v1/verifications", method: .post, headers: bad, body: body("{}")) { #expect($0.status == .unauthorized) }
            try await client.execute(uri: "/v1/verifications", method: .post, headers: Fixture.headers("moderation"), body: body(#"{"iin":"850314300013"}"#)) { (r: TestResponse) async throws in
                #expect(r.status == .forbidden)
                #expect(try try decode(r.body)["code"] as? String == "forbidden")
            }
            try await client.execute(uri: "/v1/applications/1/issue", method: .post, headers: Fixture.headers("issuance")) { #expect($0.status == .forbidden) }
            try await client.execute(uri: "/v1/cases", method: .get, headers: Fixture.headers("moderation")) { (r: TestResponse) async throws in
                #expect(r.status == .unauthorized)   // no moderator identity
            }
        }
        await f.store.database.close()
    }

    @Test("API keys: a keyed lookup, no KDF; revocation, rotation and expiry reach a node within the cache's 5 s; failed keys limited per address")
    func apiKeys() async throws {
        var server = ServerConfig()
        server.authFailuresPerAddressPerMinute = 5
        let f = try await Fixture.make(server: server)
        @Sendable func with(_ key: String) -> HTTPFields {
            var h = Fixture.headers(nil)
            h[HTTPField.Name("X-API-Key")!] = key
            return h
        }
        let temporary = String(repeating: "t", count: 40), expiring = String(repeating: "e", count: 40), legacy = String(repeating: "l", count: 40)
        let added = try await f.store.apiKeys.add(name: "temporary", scopes: ["kiosk"], key: temporary)
        _ = try await f.store.apiKeys.add(name: "expiring", scopes: ["kiosk"], key: expiring, expiresAt: f.clock.now() + 10)
        // Stored: the evidence key's id and an HMAC under a subkey of it, nothing that is the key or a hash anyone could recompute.
        let row = try #require(try await f.store.database.transaction { db in try db.one("SELECT * FROM api_keys WHERE id = ?", [.text(added.id)]) })
        let lookup = try #require(row["lookup"].text)
        #expect(lookup.hasPrefix(f.store.keys.evidence.keyID + ":") && lookup.count == 81 && !lookup.contains(sha256Hex(temporary)))
        #expect(row["secret_hash"].text == "")
        // A key written by an older build (scrypt) still opens, and gains its lookup.
        try await f.store.database.transaction { db in
            try db.execute("INSERT INTO api_keys (id, name, scopes, secret_hash, created_at) VALUES (?, 'legacy', 'kiosk', ?, 0)",
                           [.text(APIKeyRecords.id(of: legacy)), .text(try SecretHash.make(legacy))])
        }
        try await f.app.test(.router) { client in
            for key in [temporary, expiring, legacy] {
                try await client.execute(uri: "/v1/verifications/ver-none", method: .get, headers: with(key)) { #expect($0.status == .notFound) }
            }
            let upgraded = try await f.store.database.transaction { db in try db.one("SELECT lookup FROM api_keys WHERE name = 'legacy'") }
            #expect(upgraded?["lookup"].text?.hasPrefix(f.store.keys.evidence.keyID + ":") == true)
            // Revoked: refused once the cached entry lapses (5 s on the injected clock).
            try await f.store.apiKeys.revoke(added.id)
            f.clock.advance(6)
            try await client.execute(uri: "/v1/verifications/ver-none", method: .get, headers: with(temporary)) { #expect($0.status == .unauthorized) }
            // Not expired yet (10 s), though cached: still good.
            try await client.execute(uri: "/v1/verifications/ver-none", method: .get, headers: with(expiring)) { #expect($0.status == .notFound) }
            // Rotated: the new key works, the old one stops.
            let fresh = String(repeating: "n", count: 43)
            let rotated = try await f.store.apiKeys.rotate(APIKeyRecords.id(of: legacy), to: fresh)
            #expect(rotated.name == "legacy" && rotated.scopes == ["kiosk"])
            f.clock.advance(6)
            try await client.execute(uri: "/v1/verifications/ver-none", method: .get, headers: with(legacy)) { #expect($0.status == .unauthorized) }
            try await client.execute(uri: "/v1/verifications/ver-none", method: .get, headers: with(fresh)) { #expect($0.status == .notFound) }
            // Expired (12 s after it was added, with 10 to live): refused.
            try await client.execute(uri: "/v1/verifications/ver-none", method: .get, headers: with(expiring)) { #expect($0.status == .unauthorized) }
            let listed = try await f.store.apiKeys.list()
            #expect(listed.filter { $0.revokedAt != nil }.map(\.name).sorted() == ["legacy", "temporary"])
            // Failed keys from one address: after five, unknown keys wait (429, Retry-After) before any
            // lookup; a key already verified keeps working, so bad keys cannot lock out a kiosk.
            f.clock.advance(60)
            try await client.execute(uri: "/v1/verifications/ver-none", method: .get, headers: with(fresh)) { #expect($0.status == .notFound) }
            for _ in 0..<4 {
                try await client.execute(uri: "/v1/verifications/ver-none", method: .get, headers: with(String(repeating: "x", count: 40))) { #expect($0.status == .unauthorized) }
            }
            try await client.execute(uri: "/v1/verifications/ver-none", method: .get, headers: Fixture.headers(nil)) { #expect($0.status == .unauthorized) }
            try await client.execute(uri: "/v1/verifications/ver-none", method: .get, headers: with(String(repeating: "y", count: 40))) { (r: TestResponse) async throws in
                #expect(r.status == .tooManyRequests && r.headers[.retryAfter] != nil)
            }
            try await client.execute(uri: "/v1/verifications/ver-none", method: .get, headers: with(fresh)) { #expect($0.status == .notFound) }
            // A key not verified lately waits like any unknown key until the address's bucket refills.
            try await client.execute(uri: "/v1/verifications/ver-none", method: .get, headers: Fixture.headers("kiosk")) { #expect($0.status == .tooManyRequests) }
            f.clock.advance(13)
            try await client.execute(uri: "/v1/verifications/ver-none", method: .get, headers: Fixture.headers("kiosk")) { #expect($0.status == .notFound) }
            // A revoked key is never added back, and a revoked key is not rotated.
            await #expect(throws: APIKeyError(.revoked, "")) { _ = try await f.store.apiKeys.add(name: "again", scopes: ["kiosk"], key: temporary) }
            await #expect(throws: APIKeyError(.revoked, "")) { _ = try await f.store.apiKeys.rotate(added.id, to: String(repeating: "r", count: 40)) }
        }
        await f.store.database.close()
    }

    @Test("verification sessions belong to the key that made them; session creation is limited per key")
    func sessionOwnership() async throws {
        var server = ServerConfig()
        server.sessionsPerKeyPerMinute = 3
        let f = try await Fixture.make(server: server)
        try await f.app.test(.router) { client in
            var sid = ""
            try await client.execute(uri: "/v1/verifications", method: .post, headers: Fixture.headers("kiosk"), body: body(#"{"iin":"850314300013"}"#)) { (r: TestResponse) async throws in
                #expect(r.status == .created)
                sid = try decode(r.body)["sessionId"] as? String ?? ""
            }
            let other = Fixture.headers("issuance")
            try await client.execute(uri: "/v1/verifications/\(sid)", method: .get, headers: other) { #expect($0.status == .notFound) }
            try await client.execute(uri: "/v1/verifications/\(sid)/frames", method: .post, headers: other, body: ByteBuffer(bytes: [0xFF, 0xD8])) {
                #expect($0.status == .notFound)   // before the body is decoded
            }
            try await client.execute(uri: "/v1/verifications/\(sid)/clip", method: .post, headers: other, body: ByteBuffer(bytes: [0])) { #expect($0.status == .notFound) }
            try await client.execute(uri: "/v1/verifications/\(sid)/finish", method: .post, headers: other) { #expect($0.status == .notFound) }
            try await client.execute(uri: "/v1/verifications/\(sid)", method: .get, headers: Fixture.headers("kiosk")) { #expect($0.status == .ok) }
            // One live session per person per key.
            try await client.execute(uri: "/v1/verifications", method: .post, headers: Fixture.headers("kiosk"), body: body(#"{"iin":"850314300013"}"#)) { (r: TestResponse) async throws in
                #expect(try r.status == .conflict && (decode(r.body)["code"] as? String) == "session_exists")
            }
            try await client.execute(uri: "/v1/verifications", method: .post, headers: Fixture.headers("kiosk"), body: body(#"{"iin":"850314300023"}"#)) { #expect($0.status == .created) }
            try await client.execute(uri: "/v1/verifications", method: .post, headers: Fixture.headers("kiosk"), body: body(#"{"iin":"850314300023"}"#)) { (r: TestResponse) async throws in
                #expect(r.status == .tooManyRequests && r.headers[.retryAfter] != nil)
            }
            // Another key has its own allowance.
            try await client.execute(uri: "/v1/verifications", method: .post, headers: other, body: body(#"{"iin":"850314300023"}"#)) { (r: TestResponse) async throws in
                #expect(r.status == .created)
            }
            // A rotated key keeps its family's sessions; the old key stops.
            let rotated = String(repeating: "z", count: 40)
            _ = try await f.store.apiKeys.rotate(APIKeyRecords.id(of: Fixture.keys["kiosk"] ?? ""), to: rotated)
            f.clock.advance(6)
            var h = Fixture.headers(nil)
            h[HTTPField.Name("X-API-Key")!] = rotated
            try await client.execute(uri: "/v1/verifications/\(sid)", method: .get, headers: h) { #expect($0.status == .ok) }
            try await client.execute(uri: "/v1/verifications/\(sid)", method: .get, headers: Fixture.headers("kiosk")) { #expect($0.status == .unauthorized) }
        }
        await f.store.database.close()
    }

    @Test("two concurrent session starts for one IIN by one key: one session, one 409")
    func concurrentStarts() async throws {
        let f = try await Fixture.make()
        try await f.app.test(.router) { client in
            @Sendable func start() async throws -> HTTPResponse.Status {
                try await client.execute(uri: "/v1/verifications", method: .post, headers: Fixture.headers("kiosk"), body: body(#"{"iin":"850314300013"}"#)) { $0.status }
            }
            async let a = start(), b = start(), c = start()
            let statuses = try await [a, b, c]
            #expect(statuses.filter { $0 == .created }.count == 1 && statuses.filter { $0 == .conflict }.count == 2, "\(statuses)")
            #expect(try await f.store.attempts.status(Fixture.linIIN).running == 1)
        }
        // The server's shutdown released the one open session's attempt, uncounted.
        let after = try await f.store.attempts.status(Fixture.linIIN)
        #expect(after.running == 0 && after.failures == 0)
        await f.store.database.close()
    }

    @Test("bad input: malformed JSON, wrong types, a bad IIN, an oversized frame, a non-image frame, an unknown session")
    func badInput() async throws {
        var server = ServerConfig()
        server.frameMaxBytes = 100_000
        let f = try await Fixture.make(server: server)
        try await f.app.test(.router) { client in
            let h = Fixture.headers("kiosk")
            for (payload, code) in [("{not json", "invalid_json"), (#"{"iin": 12}"#, "invalid_json"), ("", "invalid_json"),
                                    (#"{"iin":"850314300014"}"#, "invalid_iin"), (#"{"iin":"850314300013","language":"fr"}"#, "invalid_language")] {
                try await client.execute(uri: "/v1/verifications", method: .post, headers: h, body: body(payload)) { (r: TestResponse) async throws in
                    #expect(r.status.code >= 400 && r.status.code < 500, "\(payload)")
                    #expect(try try decode(r.body)["code"] as? String == code, "\(payload)")
                }
            }
            try await client.execute(uri: "/v1/verifications", method: .post, headers: h, body: body(String(repeating: " ", count: 70_000) + "{}")) { (r: TestResponse) async throws in
                #expect(r.status == .contentTooLarge)
            }
            try await client.execute(uri: "/v1/verifications/nope/frames", method: .post, headers: h, body: ByteBuffer(bytes: [0xFF, 0xD8, 0xFF])) { (r: TestResponse) async throws in
                #expect(r.status.code == 422 || r.status == .notFound)
            }
            var sid = ""
            try await client.execute(uri: "/v1/verifications", method: .post, headers: h, body: body(#"{"iin":"850314300013"}"#)) { (r: TestResponse) async throws in
                #expect(r.status == .created)
                sid = try decode(r.body)["sessionId"] as? String ?? ""
            }
            try await client.execute(uri: "/v1/verifications/\(sid)/frames", method: .post, headers: h, body: ByteBuffer(bytes: Array(repeating: 0xAB, count: 200_000))) { (r: TestResponse) async throws in
                #expect(try r.status == .contentTooLarge && (decode(r.body)["code"] as? String) == "payload_too_large")
            }
            try await client.execute(uri: "/v1/verifications/\(sid)/frames", method: .post, headers: h, body: ByteBuffer(string: "hello")) { (r: TestResponse) async throws in
                #expect(try r.status == .unprocessableContent && (decode(r.body)["code"] as? String) == "invalid_image")
            }
            try await client.execute(uri: "/v1/verifications/\(sid)/clip", method: .post, headers: h, body: ByteBuffer(string: "not a video")) { (r: TestResponse) async throws in
                #expect(try r.status == .unprocessableContent && (decode(r.body)["code"] as? String) == "invalid_video")
            }
            try await client.execute(uri: "/v1/verifications/ver-unknown", method: .get, headers: h) { #expect($0.status == .notFound) }
        }
        await f.store.database.close()
    }

    @Test("a clip passes turn right; frames one by one too; the decision and attempts come back")
    func verification() async throws {
        let f = try await Fixture.make()
        try await f.app.test(.router) { client in
            let h = Fixture.headers("kiosk")
            func start(_ iin: String) async throws -> String {
                var sid = ""
                try await client.execute(uri: "/v1/verifications", method: .post, headers: h, body: body(#"{"iin":"\#(iin)"}"#)) { (r: TestResponse) async throws in
                    #expect(r.status == .created)
                    let j = try decode(r.body)
                    #expect(j["prompt"] == nil && j["phase"] as? String == "baseline" && j["nonce"] == nil && j["selfieTaken"] as? Bool == false)
                    sid = j["sessionId"] as? String ?? ""
                }
                return sid
            }
            let sid = try await start(Fixture.linIIN)
            let clip = try Data(contentsOf: URL(fileURLWithPath: Paths.video))
            f.clock.advance(10)   // a clip is recorded after the prompt: it may not be longer than the session has existed
            try await client.execute(uri: "/v1/verifications/\(sid)/clip", method: .post, headers: h, body: ByteBuffer(bytes: clip)) { (r: TestResponse) async throws in
                #expect(r.status == .ok)
                #expect(try try decode(r.body)["phase"] as? String == "passed")
            }
            // The clip was buffered in the server's private folder and is gone.
            #expect(try FileManager.default.subpathsOfDirectory(atPath: f.dir + "/var/tmp").count == 1)   // the node's own folder, empty
            try await client.execute(uri: "/v1/verifications/\(sid)/finish", method: .post, headers: h) { (r: TestResponse) async throws in
                let j = try decode(r.body)
                #expect(j["outcome"] as? String == "pass", "\(j["reasons"] ?? "")")
                #expect(j["attemptsLeft"] as? Int == 5 && j["inPersonUnlocked"] as? Bool == false)
            }
            try await client.execute(uri: "/v1/verifications/\(sid)", method: .get, headers: h) { #expect($0.status == .notFound) }
            // Finishing again gives the same answer (a client that lost it asks again), to its owner only; nothing is recorded twice.
            try await client.execute(uri: "/v1/verifications/\(sid)/finish", method: .post, headers: h) { (r: TestResponse) async throws in
                let again = try decode(r.body)
                #expect(r.status == .ok && again["outcome"] as? String == "pass")
            }
            try await client.execute(uri: "/v1/verifications/\(sid)/finish", method: .post, headers: Fixture.headers("issuance2")) { #expect($0.status == .notFound) }
            #expect(try await f.store.attempts.status(Fixture.linIIN).failures == 0)

            // The same video again, frame by frame as JPEG bodies (re-encoded): refused as a replay.
            let second = try await start(Fixture.linIIN)
            let source = try VideoFileSource(videoFile: Paths.video)
            var last = ""
            while let frame = try source.next(), last != "passed" && last != "failed" {
                try await client.execute(uri: "/v1/verifications/\(second)/frames", method: .post, headers: h, body: ByteBuffer(bytes: try frame.image.jpegData())) { (r: TestResponse) async throws in
                    #expect(r.status == .ok)
                    last = try decode(r.body)["phase"] as? String ?? ""
                }
                f.clock.advance(1.0 / 30)   // the server stamps frames on the injected clock: 30 fps, whatever the machine's speed
            }
            try await client.execute(uri: "/v1/verifications/\(second)/finish", method: .post, headers: h) { (r: TestResponse) async throws in
                let j = try decode(r.body)
                #expect(j["outcome"] as? String == "fail", "\(j)")
                #expect((j["reasons"] as? [String])?.first?.contains("already used") == true, "\(j)")
            }

            // Someone else's face fails and uses an attempt.
            let third = try await start(Fixture.obamaIIN)
            f.clock.advance(10)   // a clip is recorded after the prompt: it may not be longer than the session has existed
            try await client.execute(uri: "/v1/verifications/\(third)/clip", method: .post, headers: h, body: ByteBuffer(bytes: clip)) { _ in }
            try await client.execute(uri: "/v1/verifications/\(third)/finish", method: .post, headers: h) { (r: TestResponse) async throws in
                let j = try decode(r.body)
                #expect(j["outcome"] as? String == "fail" && j["attemptsLeft"] as? Int == 4)
            }
        }
        await f.store.database.close()
    }

    @Test("the prompt timeout runs on the injected clock: the same frames pass the time check or fail it only as the clock says")
    func promptTimeoutOnTheInjectedClock() async throws {
        let f = try await Fixture.make(prompts: [.turnLeft])
        try await f.app.test(.router) { client in
            let h = Fixture.headers("kiosk")
            var sid = ""
            try await client.execute(uri: "/v1/verifications", method: .post, headers: h, body: body(#"{"iin":"\#(Fixture.linIIN)"}"#)) { (r: TestResponse) async throws in
                sid = try decode(r.body)["sessionId"] as? String ?? ""
            }
            let source = try VideoFileSource(videoFile: Paths.video)
            func post(_ image: Image) async throws -> String {
                var phase = ""
                try await client.execute(uri: "/v1/verifications/\(sid)/frames", method: .post, headers: h, body: ByteBuffer(bytes: try image.jpegData())) { (r: TestResponse) async throws in
                    phase = try decode(r.body)["phase"] as? String ?? ""
                }
                return phase
            }
            // Frames 1/30 s apart on the manual clock until the baseline is taken and the prompt is asked.
            var phase = "baseline"
            while phase == "baseline", let frame = try source.next() {
                phase = try await post(frame.image)
                f.clock.advance(1.0 / 30)
            }
            #expect(phase == "prompting")
            // Four seconds of clock: still within the 5 s prompt timeout.
            f.clock.advance(4)
            if let frame = try source.next() { #expect(try await post(frame.image) == "prompting") }
            // Two more: past it. The next frame fails the prompt.
            f.clock.advance(2)
            if let frame = try source.next() { #expect(try await post(frame.image) == "failed") }
            try await client.execute(uri: "/v1/verifications/\(sid)/finish", method: .post, headers: h) { (r: TestResponse) async throws in
                let j = try decode(r.body)
                #expect(j["outcome"] as? String == "fail")
                #expect((j["reasons"] as? [String])?.first?.contains("not completed in time") == true, "\(j["reasons"] ?? "")")
            }
        }
        await f.store.database.close()
    }

    @Test("five failed attempts exhaust the limit; the in-person path opens; rate limits per IIN")
    func attemptLimitAndRates() async throws {
        var server = ServerConfig()
        server.rateLimitPerIINPerMinute = 6
        let f = try await Fixture.make(server: server)
        try await f.app.test(.router) { client in
            let h = Fixture.headers("kiosk")
            func create() async throws -> String {
                var sid = ""
                try await client.execute(uri: "/v1/verifications", method: .post, headers: h, body: body(#"{"iin":"\#(Fixture.obamaIIN)"}"#)) { (r: TestResponse) async throws in
                    #expect(r.status == .created)
                    sid = try decode(r.body)["sessionId"] as? String ?? ""
                }
                return sid
            }
            // Sessions that show no face judge nobody: abandoned, not counted, so nobody can burn a
            // citizen's attempts with create-and-finish pairs.
            for _ in 1...6 {
                let sid = try await create()
                try await client.execute(uri: "/v1/verifications/\(sid)/finish", method: .post, headers: h) { (r: TestResponse) async throws in
                    #expect(try r.status == .unprocessableContent && (decode(r.body)["code"] as? String) == "no_face_seen")
                }
                try await client.execute(uri: "/v1/verifications/\(sid)", method: .get, headers: h) { #expect($0.status == .notFound) }
                f.clock.advance(10)   // the per-IIN limit is 6 a minute
            }
            let untouched = try await f.store.attempts.status(Fixture.obamaIIN)
            #expect(untouched.failures == 0 && untouched.running == 0 && untouched.attemptsLeft == 5)
            f.clock.advance(60)
            // Someone else's face (Lin's clip for Obama's record) is judged, and fails.
            let clip = try Data(contentsOf: URL(fileURLWithPath: Paths.video))
            for i in 1...5 {
                let sid = try await create()
                f.clock.advance(10)   // a clip is recorded after the prompt: it may not be longer than the session has existed
                try await client.execute(uri: "/v1/verifications/\(sid)/clip", method: .post, headers: h, body: ByteBuffer(bytes: clip)) { _ in }
                try await client.execute(uri: "/v1/verifications/\(sid)/finish", method: .post, headers: h) { (r: TestResponse) async throws in
                    let j = try decode(r.body)
                    #expect(j["outcome"] as? String == "fail" && j["attemptsLeft"] as? Int == 5 - i)
                    #expect(j["inPersonUnlocked"] as? Bool == (i == 5))
                }
            }
            try await client.execute(uri: "/v1/verifications", method: .post, headers: h, body: body(#"{"iin":"\#(Fixture.obamaIIN)"}"#)) { (r: TestResponse) async throws in
                #expect(try r.status == .forbidden && (decode(r.body)["code"] as? String) == "attempts_exhausted")
            }
            // The per-IIN limit: refused starts still cost a token, so the clock standing still, 429 comes.
            var limited = false
            for _ in 0..<30 where !limited {
                try await client.execute(uri: "/v1/verifications", method: .post, headers: h, body: body(#"{"iin":"\#(Fixture.obamaIIN)"}"#)) { (r: TestResponse) async throws in
                    if r.status == .tooManyRequests {
                        limited = true
                        #expect(r.headers[.retryAfter] != nil)
                        #expect(try decode(r.body)["code"] as? String == "rate_limited")
                    } else {
                        #expect(r.status == .forbidden)
                    }
                }
            }
            #expect(limited)
        }
        await f.store.database.close()
    }

    @Test("issuance over HTTP: requests only, issued at once, owner-bound; CRL and OCSP served without a key")
    func issuance() async throws {
        let f = try await Fixture.make()
        try await f.store.issuance.registerPhone(iin: Fixture.linIIN, phone: "+77010000001")
        let t = try await f.store.attempts.begin(iin: Fixture.linIIN)
        _ = try await f.store.runner.record(t, outcome: .pass, score: 0.8, livenessPassed: true, reason: "", evidence: Evidence(selfie: nil, reference: nil, livenessReport: nil))
        try await f.store.digitalIDs.setPIN(iin: Fixture.linIIN, pin: "402719")
        _ = try await f.store.digitalIDs.grantConsent(iin: Fixture.linIIN, scope: "ca.identity", seconds: 3600)
        let keys = try FolderKeyStore(directory: f.dir + "/applicant", password: "Http2Pass")
        let made = try keys.generate(iin: Fixture.linIIN, algorithm: .rsa2048)
        let apply: @Sendable (String, String) throws -> ByteBuffer = { auth, sign in
            ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: ["iin": Fixture.linIIN, "pin": "402719", "storage": "folder",
                                                                          "authRequest": auth, "signRequest": sign, "agreement": UserAgreement.version]))
        }
        try await f.app.test(.router) { client in
            let h = Fixture.headers("issuance"), other = Fixture.headers("issuance2")
            try await client.execute(uri: "/v1/sms/request", method: .post, headers: h, body: body(#"{"iin":"\#(Fixture.linIIN)"}"#)) { (r: TestResponse) async throws in
                #expect(r.status == .accepted)
                #expect(!String(buffer: r.body).contains(try await f.store.outbox(iin: Fixture.linIIN).last?.body ?? "§"))
            }
            let sms = try #require(try await f.store.outbox(iin: Fixture.linIIN).last?.body)
            let code = String(try #require(sms.split(separator: " ").first { $0.count >= 6 && $0.prefix(6).allSatisfy(\.isNumber) }).prefix(6))
            try await client.execute(uri: "/v1/sms/confirm", method: .post, headers: h, body: body(#"{"iin":"\#(Fixture.linIIN)","code":"\#(code)"}"#)) {
                #expect($0.status == .ok)
            }
            // Refusals by name: one key twice, garbage, a missing field.
            try await client.execute(uri: "/v1/applications", method: .post, headers: h, body: try apply(made[0].pem, made[0].pem)) { (r: TestResponse) async throws in
                #expect(try r.status == .unprocessableContent && decode(r.body)["code"] as? String == "invalid_request")
            }
            try await client.execute(uri: "/v1/applications", method: .post, headers: h, body: try apply("not a request", made[1].pem)) { (r: TestResponse) async throws in
                #expect(try r.status == .unprocessableContent && decode(r.body)["code"] as? String == "invalid_request")
            }
            try await client.execute(uri: "/v1/applications", method: .post, headers: h, body: body(#"{"iin":"\#(Fixture.linIIN)","pin":"402719"}"#)) {
                #expect($0.status == .badRequest)
            }
            // An implausible e-mail is refused by name, before the PIN (a wrong one here) is looked at.
            let badEmail = try JSONSerialization.data(withJSONObject: ["iin": Fixture.linIIN, "pin": "000000", "storage": "folder", "authRequest": made[0].pem,
                                                                       "signRequest": made[1].pem, "agreement": UserAgreement.version, "email": "lin@@example"])
            try await client.execute(uri: "/v1/applications", method: .post, headers: h, body: ByteBuffer(bytes: badEmail)) { (r: TestResponse) async throws in
                #expect(try r.status == .unprocessableContent && decode(r.body)["code"] as? String == "invalid_email")
            }
            var number = "", serials: [String] = []
            try await client.execute(uri: "/v1/applications", method: .post, headers: h, body: try apply(made[0].pem, made[1].pem)) { (r: TestResponse) async throws in
                #expect(r.status == .created)
                let j = try decode(r.body)
                #expect(j["statusTitle"] as? String == "Выпущены регистрационные свидетельства по заявке")
                number = j["number"] as? String ?? ""
                serials = j["serials"] as? [String] ?? []
            }
            // Another calling system's key: the number does not exist.
            for (uri, method) in [("/v1/applications/\(number)", HTTPRequest.Method.get), ("/v1/applications/\(number)/certificates", .get),
                                  ("/v1/applications/\(number)/install", .post)] {
                try await client.execute(uri: uri, method: method, headers: other) { #expect($0.status == .notFound, "\(uri)") }
            }
            try await client.execute(uri: "/v1/applications/\(number)/reissue", method: .post, headers: other,
                                     body: ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: ["pin": "402719", "authRequest": made[0].pem,
                                                                                                          "signRequest": made[1].pem]))) {
                #expect($0.status == .notFound)
            }
            var certificates: IssuedCertificates?
            try await client.execute(uri: "/v1/applications/\(number)/install", method: .post, headers: h) { (r: TestResponse) async throws in
                #expect(r.status == .ok)
                certificates = try JSONDecoder().decode(IssuedCertificates.self, from: Data(r.body.readableBytesView))
            }
            let certs = try #require(certificates)
            let files = try keys.install(certs.byPurpose, chainPEM: certs.chain, at: f.clock.date)
            for file in files { #expect(try openssl(["pkcs12", "-in", file, "-passin", "pass:Http2Pass", "-noout"]).status == 0) }
            try await client.execute(uri: "/v1/applications/\(number)", method: .get, headers: h) { (r: TestResponse) async throws in
                #expect(try decode(r.body)["status"] as? String == "installed")
            }

            // Relying parties: the CRL and OCSP without a key.
            try await client.execute(uri: "/pki/issuing.crl", method: .get) { (r: TestResponse) async throws in
                #expect(r.status == .ok && r.headers[.contentType] == "application/pkix-crl")
                try Data(r.body.readableBytesView).write(to: URL(fileURLWithPath: f.dir + "/issuing.crl"))
                #expect(try openssl(["crl", "-inform", "DER", "-in", f.dir + "/issuing.crl", "-noout", "-CAfile", f.dir + "/ca/issuing.crt"]).out.contains("verify OK"))
            }
            try await client.execute(uri: "/pki/issuing.crt", method: .get) { #expect($0.status == .ok) }
            let auth = f.dir + "/auth.pem"
            try certs.auth.write(toFile: auth, atomically: true, encoding: .utf8)
            #expect(try openssl(["ocsp", "-issuer", f.dir + "/ca/issuing.crt", "-cert", auth, "-no_nonce", "-reqout", f.dir + "/req.der"]).status == 0)
            let request = try Data(contentsOf: URL(fileURLWithPath: f.dir + "/req.der"))
            var headers = HTTPFields()
            headers[.contentType] = "application/ocsp-request"
            try await client.execute(uri: "/pki/ocsp", method: .post, headers: headers, body: ByteBuffer(bytes: request)) { (r: TestResponse) async throws in
                #expect(r.status == .ok && r.headers[.contentType] == "application/ocsp-response")
                try Data(r.body.readableBytesView).write(to: URL(fileURLWithPath: f.dir + "/resp.der"))
                #expect(try openssl(["ocsp", "-respin", f.dir + "/resp.der", "-resp_text", "-noverify"]).out.contains("Cert Status: good"))
            }
            let encoded = request.base64EncodedString().addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
            try await client.execute(uri: "/pki/ocsp/" + encoded, method: .get) { (r: TestResponse) async throws in
                try Data(r.body.readableBytesView).write(to: URL(fileURLWithPath: f.dir + "/resp-get.der"))
                #expect(try openssl(["ocsp", "-respin", f.dir + "/resp-get.der", "-resp_text", "-noverify"]).out.contains("Cert Status: good"))
            }
            // Wrong PINs are limited per calling system too (5 a minute by default): after five, the
            // system waits before trying anyone's PIN again. (Lin's PIN itself locks at five: a new
            // passed verification clears it, so the test then starts one.)
            for i in 1...5 {
                try await client.execute(uri: "/v1/applications/\(number)/revoke", method: .post, headers: h, body: body(#"{"pin":"000001","reason":"keyCompromise"}"#)) {
                    #expect($0.status == .forbidden, "wrong PIN \(i)")
                }
            }
            try await client.execute(uri: "/v1/applications/\(number)/revoke", method: .post, headers: h, body: body(#"{"pin":"402719","reason":"keyCompromise"}"#)) { (r: TestResponse) async throws in
                #expect(r.status == .tooManyRequests && r.headers[.retryAfter] != nil)
            }
            f.clock.advance(60)
            try await client.execute(uri: "/v1/applications/\(number)/revoke", method: .post, headers: h, body: body(#"{"pin":"402719","reason":"keyCompromise"}"#)) { (r: TestResponse) async throws in
                #expect(try r.status == .forbidden && (decode(r.body)["detail"] as? String ?? "").contains("locked"))
            }
            let again = try await f.store.attempts.begin(iin: Fixture.linIIN)
            _ = try await f.store.runner.record(again, outcome: .pass, score: 0.8, livenessPassed: true, reason: "", evidence: Evidence(selfie: nil, reference: nil, livenessReport: nil))
            try await f.store.digitalIDs.setPIN(iin: Fixture.linIIN, pin: "402719")
            // The applicant revokes with their PIN; OCSP says so.
            try await client.execute(uri: "/v1/applications/\(number)/revoke", method: .post, headers: h, body: body(#"{"pin":"402719","reason":"keyCompromise"}"#)) {
                #expect($0.status == .ok)
            }
            try await client.execute(uri: "/pki/ocsp", method: .post, headers: headers, body: ByteBuffer(bytes: request)) { (r: TestResponse) async throws in
                try Data(r.body.readableBytesView).write(to: URL(fileURLWithPath: f.dir + "/resp2.der"))
                #expect(try openssl(["ocsp", "-respin", f.dir + "/resp2.der", "-resp_text", "-noverify"]).out.contains("Cert Status: revoked"))
            }
            _ = serials
        }
        await f.store.database.close()
    }

    @Test("moderation over HTTP, and metrics show decisions and queue depth")
    func moderationAndMetrics() async throws {
        let f = try await Fixture.make(bands: .init(accept: 0.99, review: 0.30))
        try await f.store.moderation.addModerator(id: "alice", role: .moderator, secret: "alice-secret-0001", iin: "900101300017")
        try await f.app.test(.router) { client in
            let h = Fixture.headers("kiosk")
            var sid = ""
            try await client.execute(uri: "/v1/verifications", method: .post, headers: h, body: body(#"{"iin":"\#(Fixture.linIIN)"}"#)) { (r: TestResponse) async throws in
                sid = try decode(r.body)["sessionId"] as? String ?? ""
            }
            f.clock.advance(10)   // a clip is recorded after the prompt: it may not be longer than the session has existed
            try await client.execute(uri: "/v1/verifications/\(sid)/clip", method: .post, headers: h,
                                     body: ByteBuffer(bytes: try Data(contentsOf: URL(fileURLWithPath: Paths.video)))) { _ in }
            var caseID = ""
            try await client.execute(uri: "/v1/verifications/\(sid)/finish", method: .post, headers: h) { (r: TestResponse) async throws in
                let j = try decode(r.body)
                #expect(j["outcome"] as? String == "review")
                caseID = j["caseID"] as? String ?? ""
            }
            try await client.execute(uri: "/metrics", method: .get) { (r: TestResponse) async throws in
                let text = String(buffer: r.body)
                #expect(text.contains(#"tulga_decisions_total{outcome="review"}"#))
                #expect(text.contains("tulga_moderation_queue_depth 1"))
                #expect(text.contains("hb_requests"))
            }
            let m = Fixture.headers("moderation", moderator: ("alice", "alice-secret-0001"))
            try await client.execute(uri: "/v1/cases?state=open", method: .get, headers: m) { (r: TestResponse) async throws in
                #expect(r.status == .ok && String(buffer: r.body).contains(caseID))
            }
            try await client.execute(uri: "/v1/cases?state=bogus", method: .get, headers: m) { #expect($0.status == .unprocessableContent) }
            try await client.execute(uri: "/v1/cases/\(caseID)/approve", method: .post, headers: m, body: body(#"{"reason":"ok"}"#)) { (r: TestResponse) async throws in
                #expect(r.status == .conflict)
            }
            try await client.execute(uri: "/v1/cases/\(caseID)/claim", method: .post, headers: m) { #expect($0.status == .ok) }
            try await client.execute(uri: "/v1/cases/\(caseID)", method: .get, headers: m) { (r: TestResponse) async throws in
                let j = try decode(r.body)
                #expect((j["selfieJPEG"] as? String)?.isEmpty == false)
            }
            try await client.execute(uri: "/v1/cases/\(caseID)/approve", method: .post, headers: m, body: body(#"{"reason":"same person"}"#)) { (r: TestResponse) async throws in
                #expect(try r.status == .ok && (decode(r.body)["state"] as? String) == "approved")
            }
            try await client.execute(uri: "/v1/moderation/stats", method: .get, headers: m) { (r: TestResponse) async throws in #expect(try decode(r.body)["approved"] as? Int == 1) }
        }
        #expect(try await f.store.digitalIDs.record(Fixture.linIIN)?.verifiedBy == "moderator:alice")
        await f.store.database.close()
    }

    @Test("the OpenAPI document is served and names every route")
    func openAPI() async throws {
        let f = try await Fixture.make()
        try await f.app.test(.router) { client in
            try await client.execute(uri: "/openapi.yaml", method: .get) { (r: TestResponse) async throws in
                let text = String(buffer: r.body)
                #expect(text.hasPrefix("openapi: 3.1.0"))
                for path in ["/v1/verifications:", "/v1/verifications/{id}/selfie:", "/v1/verifications/{id}/frames:", "/v1/verifications/{id}/clip:", "/v1/verifications/{id}/finish:",
                             "/v1/verifications/{id}/document/front:", "/v1/verifications/{id}/document/back:", "/v1/verifications/{id}/document:",
                             "/v1/verifications/{id}/document/confirm:",
                             "/v1/sms/request:", "/v1/sms/confirm:", "/v1/applications:", "/v1/applications/{number}/install:", "/v1/applications/{number}/approvals/hr:", "/pki/ocsp:", "/v1/cases:",
                             "/v1/cases/{id}/claim:", "/v1/cases/{id}/reassign:", "/v1/moderation/stats:", "/v1/agreement:",
                             "/v1/applications/{number}/history:", "/v1/digital-id/show:", "/v1/digital-id/pin:", "/v1/digital-id/pin/change:",
                             "/v1/digital-id/consents:", "/v1/digital-id/consents/revoke:", "/v1/operator/in-person:", "/v1/operator/phones:",
                             "/v1/signin/challenge:", "/v1/signin/certificate:", "/v1/signin/confirm:", "/v1/signin/session:", "/v1/signin/signout:"] {
                    #expect(text.contains(path), "\(path)")
                }
            }
        }
        await f.store.database.close()
    }

    @Test("one real client over loopback")
    func live() async throws {
        let f = try await Fixture.make()
        try await f.app.testLive { client in
            try await client.execute(uri: "/health/ready", method: .get) { #expect($0.status == .ok) }
            try await client.execute(uri: "/v1/verifications", method: .post, headers: Fixture.headers("kiosk"), body: body(#"{"iin":"850314300013"}"#)) { (r: TestResponse) async throws in
                #expect(r.status == .created)
            }
        }
        await f.store.database.close()
    }
}
