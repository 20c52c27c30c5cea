import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
import TulgaCore
import TulgaIssuance
import TulgaKeyStore
import TulgaPKI
import TulgaTestSupport
import TulgaFlow
import TulgaStorage

/// README's walkthrough, from IIN to installed certificates, over HTTP alone: the only thing that
/// is not an HTTP call is the applicant's own key store (the NCALayer role), which makes the keys
/// and installs the certificates on "their computer" (and the document's photos, generated).
@Suite("The walkthrough over HTTP only", .serialized)
struct WalkthroughTests {
    /// What it used and made: the SMS code and application number (LogTests looks for them in the logs),
    /// the applicant's key store and the installed certificates (for signing in).
    @discardableResult
    static func walk(_ client: some TestClientProtocol, _ f: Fixture) async throws
        -> (code: String, number: String, store: FolderKeyStore, certificates: IssuedCertificates) {
        let h = Fixture.headers("issuance"), iin = Fixture.linIIN
        func call(_ uri: String, _ object: [String: Any]? = nil, method: HTTPRequest.Method = .post, body raw: ByteBuffer? = nil,
                  expect status: HTTPResponse.Status = .ok) async throws -> [String: Any] {
            try await client.execute(uri: uri, method: method, headers: h, body: try raw ?? object.map(jsonBody)) { r in
                #expect(r.status == status, "\(method) \(uri): \(String(buffer: r.body))")
                return (try? JSONSerialization.jsonObject(with: Data(r.body.readableBytesView)) as? [String: Any]) ?? [:]
            }
        }
        // 1. The IIN and the SMS code (120 s), in English; the operator registered the phone at the desk.
        try await f.store.issuance.registerPhone(iin: iin, phone: "+77010000001", actor: "operator:desk")
        _ = try await call("/v1/sms/request", ["iin": iin, "language": "en"], expect: .accepted)
        let sms = try #require(try await f.store.outbox(iin: iin).last?.body)   // what the SMS gateway delivers to the phone
        let code = String(try #require(sms.split(separator: " ").first { $0.count >= 6 && $0.prefix(6).allSatisfy(\.isNumber) }).prefix(6))
        _ = try await call("/v1/sms/confirm", ["iin": iin, "code": code])
        // 2. The video check: the fixture video as a clip, then the decision.
        let session = try #require(try await call("/v1/verifications", ["iin": iin, "language": "en"], expect: .created)["sessionId"] as? String)
        f.clock.advance(10)
        let clip = ByteBuffer(bytes: try Data(contentsOf: URL(fileURLWithPath: Paths.video)))
        #expect(try await call("/v1/verifications/\(session)/clip", body: clip)["phase"] as? String == "passed")
        #expect(try await call("/v1/verifications/\(session)/finish")["outcome"] as? String == "pass")
        // 3. The Digital ID: the PIN, then the CA's consent with it.
        #expect((try await call("/v1/digital-id/show", ["iin": iin])["record"] as? [String: Any])?["status"] as? String == "active")
        _ = try await call("/v1/digital-id/pin", ["iin": iin, "pin": "402719"])
        // 3a. The identity document (when the policy asks for it): the ID card's two sides, the
        // recognised data for the applicant to confirm, then the registry and the selfie decide.
        if f.store.settings.documentStepRequired {
            #expect((try await call("/v1/verifications/\(session)", method: .get)["document"] as? [String: Any])?["state"] as? String == "photos")
            let card = try Generated.render("id-card", seed: 3, person: Fixture.linDocument(number: Fixture.linCard))
            defer { Generated.remove(card) }
            let sides = try card.files.map { ByteBuffer(bytes: try Data(contentsOf: URL(fileURLWithPath: $0))) }
            #expect(try await call("/v1/verifications/\(session)/document/front?kind=id-card", body: sides[0])["missing"] as? [String] == ["back"])
            let read = try await call("/v1/verifications/\(session)/document/back", body: sides[1])
            #expect(read["state"] as? String == "confirm")
            let data = try #require(read["data"] as? [String: Any])
            #expect(data["documentNumber"] as? String == Fixture.linCard && data["surname"] as? String == "MIRANDA" && data["iin"] as? String == iin)
            let confirmed = try await call("/v1/verifications/\(session)/document/confirm")
            #expect(confirmed["state"] as? String == "done" && confirmed["mismatches"] as? [String] == [], "\(confirmed)")
            #expect((try await call("/v1/verifications/\(session)", method: .get)["document"] as? [String: Any])?["state"] as? String == "done")
        }
        _ = try await call("/v1/digital-id/consents", ["iin": iin, "pin": "402719"], expect: .created)
        // 4. The applicant's computer makes the two key pairs; only the requests leave it.
        let store = try FolderKeyStore(directory: f.dir + "/applicant", password: "Walk#Pass1")
        let made = try store.generate(iin: iin, algorithm: .rsa2048)
        // 5. The agreement, read and accepted; the application.
        let version = try #require(try await call("/v1/agreement?lang=en", method: .get)["version"] as? String)
        let app = try await call("/v1/applications", ["iin": iin, "pin": "402719", "agreement": version, "storage": "folder",
                                                      "authRequest": made[0].pem, "signRequest": made[1].pem], expect: .created)
        let number = try #require(app["number"] as? String)
        #expect(app["agreementVersion"] as? String == version)
        // 6. The certificates, installed by the key store next to their keys.
        var certificates: IssuedCertificates?
        try await client.execute(uri: "/v1/applications/\(number)/install", method: .post, headers: h) { r in
            certificates = try JSONDecoder().decode(IssuedCertificates.self, from: Data(r.body.readableBytesView))
        }
        let certs = try #require(certificates)
        for file in try store.install(certs.byPurpose, chainPEM: certs.chain, at: f.clock.date) {
            #expect(try openssl(["pkcs12", "-in", file, "-passin", "pass:Walk#Pass1", "-noout"]).status == 0)
        }
        // 7. The status table with the time of each change.
        try await client.execute(uri: "/v1/applications/\(number)/history", method: .get, headers: h) { r in
            let rows = try #require(try JSONSerialization.jsonObject(with: Data(r.body.readableBytesView)) as? [[String: Any]])
            #expect(rows.compactMap { $0["status"] as? String } == ["signing", "issued", "installed"])
            #expect(rows.allSatisfy { $0["at"] is Double && !(($0["title"] as? String) ?? "").isEmpty })
        }
        return (code, number, store, certs)
    }

    @Test("through Hummingbird's testing client, the identity-document step included")
    func router() async throws {
        let f = try await Fixture.make(documentStep: true)
        _ = try await f.app.test(.router) { client in try await Self.walk(client, f) }
        await f.store.database.close()
    }

    @Test("through a real client over loopback, the identity-document step included")
    func live() async throws {
        let f = try await Fixture.make(documentStep: true)
        _ = try await f.app.testLive { client in try await Self.walk(client, f) }
        await f.store.database.close()
    }
}
