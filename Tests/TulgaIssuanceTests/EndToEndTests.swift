import Foundation
import Testing
import TulgaLegalEntities
import TulgaPKI
import TulgaTestSupport
import TulgaFace
import TulgaIssuance
import TulgaLiveness
import TulgaStorage
import TulgaCore
import TulgaFlow
import TulgaAttempts
import TulgaModeration
import TulgaRegistry
import TulgaDigitalID
import TulgaCrypto
import TulgaPolicy
import TulgaFaceModel
import TulgaKeyStore

@Suite("End to end: IIN → SMS → verification on the fixture video → Digital ID → consent → PIN → keys → install")
struct EndToEndTests {
    static let root = RepositoryPaths.root

    @Test func wholeFlow() async throws {
        let w = try await World.make()
        let iin = World.iin(42), s = w.service
        let reference = try Data(contentsOf: URL(fileURLWithPath: Self.root + "/../shared/fixtures/faces/lin_manuel_miranda_f095.png"))
        try await w.store.registry.upsert(RegistryEntry(iin: iin, surname: "MIRANDA", givenName: "LIN", documentNumber: "N05550001", photo: reference))
        try await s.registerPhone(iin: iin, phone: "+77015550001")
        try await w.confirmPhone(iin)

        // Verification through the liveness engine with a prompt fixed by the test.
        var liveness = LivenessConfig()
        liveness.fixedPrompts = [.turnRight]
        let engine = try FaceEngine(config: FaceConfig(modelsDirectory: Self.root + "/Models"))
        let runner = AttemptRunner(records: w.store, bands: .init(accept: 0.363, review: 0.30), liveness: liveness)
        let video = try VideoFileSource(videoFile: Self.root + "/../shared/fixtures/video/lin_manuel_miranda_head_turns.mp4")
        let report = try await runner.run(iin: iin, source: video, engine: engine, streamTimeIsRelative: true)
        #expect(report.outcome == .pass, "\(report.reasons)")
        #expect(report.liveness.prompts.map(\.prompt) == [.turnRight])
        #expect(try await w.store.digitalIDs.record(iin)?.automaticallyVerified == true)

        try await w.store.digitalIDs.setPIN(iin: iin, pin: "402719")
        _ = try await w.store.digitalIDs.grantConsent(iin: iin, scope: "ca.identity", seconds: 3600)
        // The applicant's computer makes the keys; only the requests travel; issued at once.
        let keys = try w.keyStore("my-keys", password: "Lin2009@WH")
        let app = try await s.applyRemote(iin: iin, pin: "402719", agreement: UserAgreement.version, requests: try w.requests(keys, iin: iin), caller: systemA)
        #expect(app.status == .issued)
        let certificates = try await s.install(app.number, caller: systemA)
        let files = try keys.install(certificates.byPurpose, chainPEM: certificates.chain, at: w.clock.date)
        #expect(files.count == 2)
        for file in files {
            let pem = w.dir + "/" + (file as NSString).lastPathComponent + ".pem"
            #expect(try openssl(["pkcs12", "-in", file, "-passin", "pass:Lin2009@WH", "-clcerts", "-nokeys", "-out", pem]).status == 0)
            let verify = try openssl(["verify", "-attime", "\(Int(w.clock.now()))", "-CAfile", w.dir + "/ca/root.crt", "-untrusted", w.dir + "/ca/issuing.crt", pem])
            #expect(verify.status == 0, "\(verify.out)")
            #expect(try openssl(["x509", "-in", pem, "-noout", "-subject", "-nameopt", "RFC2253"]).out.contains("CN=MIRANDA LIN"))
        }
        #expect(try await s.status(app.number, caller: systemA).statusTitle == "Сертификаты установлены")
        #expect(try await w.store.verifyAudit().intact)
        await w.close()
    }
}
