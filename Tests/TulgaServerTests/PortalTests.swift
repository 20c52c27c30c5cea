import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
import TulgaDigitalID
import TulgaAPIKeys
import TulgaAttempts
import TulgaCore
import TulgaFlow
import TulgaIssuance
import TulgaModeration
import TulgaPolicy
import TulgaTestSupport
import TulgaStorage
import TulgaRegistry

/// JSON bodies for the portal's routes.
func jsonBody(_ object: [String: Any]) throws -> ByteBuffer { ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: object)) }

@Suite("The portal's steps over HTTP: Digital ID, agreement, history, the operator's desk, languages", .serialized)
struct PortalTests {
    /// A passed verification run through the fixture key `key` (a Digital ID without a PIN) and a registered phone.
    static func verified(_ f: Fixture, _ iin: String, through key: String = "issuance") async throws {
        try await f.store.issuance.registerPhone(iin: iin, phone: "+77010000009")
        let record = try #require(try await f.store.apiKeys.list().first { $0.name == key })
        let t = try await f.store.attempts.begin(iin: iin, owner: Caller.system(record.owner).ownerTag)
        _ = try await f.store.runner.record(t, outcome: .pass, score: 0.8, livenessPassed: true, reason: "", evidence: Evidence(selfie: nil, reference: nil, livenessReport: nil))
    }

    /// Requests a code through `headers` and confirms it with the code the outbox holds.
    static func confirm(_ client: some TestClientProtocol, _ f: Fixture, _ iin: String, _ headers: HTTPFields, language: String = "en") async throws {
        try await client.execute(uri: "/v1/sms/request", method: .post, headers: headers, body: try jsonBody(["iin": iin, "language": language])) {
            #expect($0.status == .accepted)
        }
        let sms = try #require(try await f.store.outbox(iin: iin).last?.body)
        let code = String(try #require(sms.split(separator: " ").first { $0.count >= 6 && $0.prefix(6).allSatisfy(\.isNumber) }).prefix(6))
        try await client.execute(uri: "/v1/sms/confirm", method: .post, headers: headers, body: try jsonBody(["iin": iin, "code": code])) {
            #expect($0.status == .ok)
        }
    }

    @Test("Digital ID: shown, PIN set and changed, consent granted and revoked, only through the key the phone was confirmed with")
    func digitalID() async throws {
        let f = try await Fixture.make()
        let iin = Fixture.linIIN, h = Fixture.headers("issuance"), other = Fixture.headers("issuance2")
        var person = try #require(try await f.store.registry.entry(iin))
        person.patronymic = "LINOVICH"
        try await f.store.registry.upsert(person)
        try await Self.verified(f, iin)
        try await f.app.test(.router) { client in
            func post(_ uri: String, _ object: [String: Any], _ headers: HTTPFields = h) async throws -> (HTTPResponse.Status, [String: Any]) {
                try await client.execute(uri: uri, method: .post, headers: headers, body: try jsonBody(object)) { r in
                    (r.status, (try? JSONSerialization.jsonObject(with: Data(r.body.readableBytesView)) as? [String: Any]) ?? [:])
                }
            }
            // Nothing before the phone is confirmed through this key.
            #expect(try await post("/v1/digital-id/show", ["iin": iin]).0 == .forbidden)
            #expect(try await post("/v1/digital-id/pin", ["iin": iin, "pin": "402719"]).0 == .forbidden)
            try await Self.confirm(client, f, iin, h)
            // English SMS on request.
            #expect(try await f.store.outbox(iin: iin).last?.language == "en")
            // Another key: its own confirmation is missing; with one, it still neither sees the record nor sets the first PIN
            // (it did not run the verification).
            #expect(try await post("/v1/digital-id/show", ["iin": iin], other).0 == .forbidden)
            f.clock.advance(1)
            try await Self.confirm(client, f, iin, other)
            #expect(try await post("/v1/digital-id/show", ["iin": iin], other).1["code"] as? String == "digital_id")
            #expect(try await post("/v1/digital-id/pin", ["iin": iin, "pin": "402719"], other).1["code"] as? String == "invalid_state")
            // The latest confirmation counts: the applicant confirms through the portal's key again.
            f.clock.advance(61)
            try await Self.confirm(client, f, iin, h)
            let shown = try await post("/v1/digital-id/show", ["iin": iin])
            #expect(shown.0 == .ok && (shown.1["record"] as? [String: Any])?["hasPIN"] as? Bool == false)
            #expect((shown.1["record"] as? [String: Any])?["patronymic"] as? String == "LINOVICH", "the registry's patronymic reaches the Digital ID")
            #expect(try await post("/v1/digital-id/pin", ["iin": iin, "pin": "111111"]).0 == .unprocessableContent)
            #expect(try await post("/v1/digital-id/pin", ["iin": iin, "pin": "402719"]).0 == .ok)
            #expect(try await post("/v1/digital-id/pin", ["iin": iin, "pin": "402719"]).0 == .conflict)
            #expect(try await post("/v1/digital-id/pin/change", ["iin": iin, "pin": "999999", "newPin": "503816"]).1["code"] as? String == "pin")
            #expect(try await post("/v1/digital-id/pin/change", ["iin": iin, "pin": "402719", "newPin": "503816"]).0 == .ok)
            // With a PIN set, the record is shown with it only.
            #expect(try await post("/v1/digital-id/show", ["iin": iin]).1["code"] as? String == "pin")
            #expect(try await post("/v1/digital-id/show", ["iin": iin, "pin": "503816"]).0 == .ok)
            // Only a known scope, for whole days.
            #expect(try await post("/v1/digital-id/consents", ["iin": iin, "pin": "503816", "scope": "admin.everything"]).1["code"] as? String == "invalid_scope")
            // The scope is checked before the PIN: a typo with a wrong PIN costs no PIN try.
            let triesBefore = try await f.store.digitalIDs.record(iin)?.pinFailures
            #expect(try await post("/v1/digital-id/consents", ["iin": iin, "pin": "111222", "scope": "ca.everything"]).1["code"] as? String == "invalid_scope")
            #expect(try await f.store.digitalIDs.record(iin)?.pinFailures == triesBefore)
            #expect(try await post("/v1/digital-id/consents", ["iin": iin, "pin": "503816", "days": 0]).1["code"] as? String == "invalid_days")
            #expect(try await post("/v1/digital-id/consents", ["iin": iin, "pin": "503816", "days": 1.5]).0 == .badRequest)
            let granted = try await post("/v1/digital-id/consents", ["iin": iin, "pin": "503816", "days": 30])
            #expect(granted.0 == .created)
            let consent = try #require(granted.1["id"] as? String)
            #expect(try await post("/v1/digital-id/consents", ["iin": iin, "pin": "503816", "days": 400]).0 == .unprocessableContent)
            #expect(try await post("/v1/digital-id/consents/revoke", ["iin": iin, "pin": "503816", "consentId": "consent-none"]).0 == .notFound)
            #expect(try await post("/v1/digital-id/consents/revoke", ["iin": iin, "pin": "503816", "consentId": consent]).0 == .ok)
            let after = try await post("/v1/digital-id/show", ["iin": iin, "pin": "503816"])
            let consents = try #require(after.1["consents"] as? [[String: Any]])
            #expect(consents.count == 1 && consents.first?["revokedAt"] != nil)
            // Malformed input: a specific problem, never a crash.
            try await client.execute(uri: "/v1/digital-id/pin", method: .post, headers: h, body: body("{\"iin\": 5")) { #expect($0.status == .badRequest) }
            #expect(try await post("/v1/digital-id/show", ["iin": "123"]).0 == .unprocessableContent)
        }
        // Each step audited; no PIN anywhere in the audit.
        let actions = try await f.store.database.transaction { db in
            try db.query("SELECT action, detail FROM audit_log WHERE subject = ? OR subject LIKE 'consent-%' ORDER BY seq", [.text(iin)])
        }
        let names = actions.compactMap { $0["action"].text }
        #expect(names.contains("digital_id.set_pin") && names.contains("digital_id.change_pin") && names.contains("consent.grant") && names.contains("consent.revoke"))
        #expect(!actions.contains { ($0["detail"].text ?? "").contains("503816") || ($0["detail"].text ?? "").contains("402719") })
    }

    @Test("the agreement in ru, kk and en; an application needs its version and records it; the status history with times; a bad language is refused")
    func agreementAndHistory() async throws {
        let f = try await Fixture.make()
        let h = Fixture.headers("issuance")
        try await f.app.test(.router) { client in
            for lang in ["ru", "kk", "en"] {
                try await client.execute(uri: "/v1/agreement?lang=\(lang)", method: .get, headers: h) { r in
                    let j = try decode(r.body)
                    #expect(r.status == .ok && j["version"] as? String == UserAgreement.version && (j["text"] as? String)?.contains(UserAgreement.version) == true)
                }
            }
            try await client.execute(uri: "/v1/agreement?lang=de", method: .get, headers: h) { #expect($0.status == .unprocessableContent) }
            try await client.execute(uri: "/v1/verifications", method: .post, headers: Fixture.headers("kiosk"),
                                     body: try jsonBody(["iin": Fixture.linIIN, "language": "en"])) { #expect($0.status == .created) }
            try await client.execute(uri: "/v1/verifications", method: .post, headers: Fixture.headers("kiosk"),
                                     body: try jsonBody(["iin": Fixture.obamaIIN, "language": "fr"])) { r in
                let problem = try decode(r.body)
                #expect(r.status == .unprocessableContent && problem["code"] as? String == "invalid_language")
            }
            try await client.execute(uri: "/v1/applications/0000/history", method: .get, headers: h) { #expect($0.status == .notFound) }
        }
    }

    @Test("the operator's desk: an operator account confirms in person and registers phones, never for their own IIN; moderators cannot")
    func operatorDesk() async throws {
        let f = try await Fixture.make()
        _ = try await f.store.moderation.addModerator(id: "op1", role: .serviceOperator, secret: "operator-secret-1", iin: "900101300017")
        _ = try await f.store.moderation.addModerator(id: "mod1", role: .moderator, secret: "moderator-secret-1", iin: "900101300027")
        @Sendable func desk(_ id: String, _ secret: String, scope: String = "operator") -> HTTPFields {
            var h = Fixture.headers(scope)
            h[HTTPField.Name("X-Operator-Id")!] = id
            h[HTTPField.Name("X-Operator-Secret")!] = secret
            return h
        }
        let op = desk("op1", "operator-secret-1")
        try await f.app.test(.router) { client in
            func post(_ uri: String, _ object: [String: Any], _ headers: HTTPFields) async throws -> HTTPResponse.Status {
                try await client.execute(uri: uri, method: .post, headers: headers, body: try jsonBody(object)) { $0.status }
            }
            // In person only after five failures.
            #expect(try await post("/v1/operator/in-person", ["iin": Fixture.obamaIIN], op) == .forbidden)
            for _ in 0..<5 {
                let t = try await f.store.attempts.begin(iin: Fixture.obamaIIN)
                _ = try await f.store.runner.record(t, outcome: .fail, score: 0.1, livenessPassed: true, reason: "no match",
                                                    evidence: Evidence(selfie: nil, reference: nil, livenessReport: nil))
            }
            #expect(try await post("/v1/operator/in-person", ["iin": Fixture.obamaIIN], op) == .ok)
            #expect(try await post("/v1/operator/phones", ["iin": Fixture.obamaIIN, "phone": "+77010000042"], op) == .ok)
            #expect(try await post("/v1/operator/phones", ["iin": Fixture.obamaIIN, "phone": "87010000042"], op) == .unprocessableContent)
            // Their own IIN, a wrong secret, a moderator's account, a key without the operator scope.
            #expect(try await post("/v1/operator/phones", ["iin": "900101300017", "phone": "+77010000043"], op) == .forbidden)
            #expect(try await post("/v1/operator/phones", ["iin": Fixture.obamaIIN, "phone": "+77010000044"], desk("op1", "wrong-secret-123")) == .unauthorized)
            #expect(try await post("/v1/operator/phones", ["iin": Fixture.obamaIIN, "phone": "+77010000044"], desk("mod1", "moderator-secret-1")) == .unauthorized)
            #expect(try await post("/v1/operator/phones", ["iin": Fixture.obamaIIN, "phone": "+77010000044"], desk("op1", "operator-secret-1", scope: "kiosk")) == .forbidden)
            // An operator sees no case.
            try await client.execute(uri: "/v1/cases", method: .get, headers: Fixture.headers("moderation", moderator: ("op1", "operator-secret-1"))) {
                #expect($0.status == .unauthorized)
            }
        }
        let audit = try await f.store.database.transaction { db in
            try db.query("SELECT actor, action FROM audit_log WHERE subject = ? ORDER BY seq", [.text(Fixture.obamaIIN)])
        }
        #expect(audit.contains { $0["actor"].text == "operator:op1" && $0["action"].text == "in_person.accept" })
        #expect(audit.contains { $0["actor"].text == "operator:op1" && $0["action"].text == "phone.register" })
    }
}
