import Foundation
import Synchronization
import Testing
import TulgaLegalEntities
import TulgaCrypto
import TulgaIdentity
import TulgaIssuance
import TulgaPolicy
import TulgaStorage
import TulgaCore
import TulgaFlow
import TulgaAttempts
import TulgaModeration
import TulgaRegistry
import TulgaDigitalID
import TulgaTestSupport
import TulgaFaceModel
import TulgaLiveness
import TulgaPKI
import TulgaKeyStore

/// A store, a CA and the issuance service in a scratch folder.
struct World {
    let dir: String
    let clock: ManualClock
    let store: Records
    let ca: LocalCA
    var service: IssuanceService { store.issuance }

    /// A world whose clock starts at `start` (the fixed test date by default; tests whose
    /// `openssl` checks validity against today pass the real time as the start). With `offlineRoot`
    /// the root's key goes to `offline-root.key` in the world's folder, not into the CA folder.
    /// `documentStep`: `policy.documentStepRequired` (off unless a test is about the identity-document step's gate).
    static func make(_ backend: Backend = .sqlite, clockStart: Double? = nil, offlineRoot: Bool = false, documentStep: Bool = false) async throws -> World {
        let dir = Temp.dir("tulga-iss")
        let clock = clockStart.map { ManualClock($0) } ?? ManualClock()
        var config = CAConfig()
        config.directory = dir + "/ca"
        config.passwordFile = dir + "/keys/ca-password"
        config.publicBaseURL = "http://127.0.0.1:18080/pki"
        let ca = try LocalCA.initialize(config, now: clock.date, offlineRootKey: offlineRoot ? dir + "/offline-root.key" : nil)
        // SQLite lives in the world's own var/ folder, so a test can read every byte the service wrote.
        try FileManager.default.createDirectory(atPath: dir + "/var", withIntermediateDirectories: true)
        var settings = RecordSettings()
        settings.documentStepRequired = documentStep
        let store = backend == .sqlite
            ? try await Records.open(database: try SQLiteDatabase(path: dir + "/var/tulga.sqlite"), keys: try ServiceKeys.scratch(dir + "/var/keys"),
                                     settings: settings, clock: clock, ca: ca)
            : try await Records.scratch(backend, settings: settings, clock: clock, ca: ca)
        return World(dir: dir, clock: clock, store: store, ca: ca)
    }

    /// The applicant's folder key store, outside the service's folders.
    func keyStore(_ name: String, password: String = "Secret12@") throws -> FolderKeyStore {
        try FolderKeyStore(directory: dir + "/applicant/" + name, password: password)
    }

    /// Both key pairs made in `store`; only the requests come back.
    func requests(_ store: any KeyStore, iin: String, algorithm: KeyAlgorithm = .rsa2048) throws -> KeyRequests {
        let made = try store.generate(iin: iin, algorithm: algorithm)
        return try KeyRequests(auth: made[0].pem, sign: made[1].pem, storage: store.kind)
    }

    /// Records `count` failed attempts (the in-person gate opens at five).
    func fail(_ iin: String, times count: Int) async throws {
        for _ in 0..<count {
            let t = try await store.attempts.begin(iin: iin)
            _ = try await store.runner.record(t, outcome: .fail, score: 0.1, livenessPassed: true, reason: "test",
                                              evidence: Evidence(selfie: nil, reference: nil, livenessReport: nil))
        }
    }

    func close() async { await store.database.close() }

    static func iin(_ serial: Int) -> String {
        var s = serial
        while true {
            if let iin = IIN.make(year: 1990, month: 7, day: 2, male: true, serial: s) { return iin.value }
            s += 1
        }
    }

    /// Registry entry, phone, a passed attempt (Digital ID), PIN and consent: everything before applying.
    func person(_ iin: String, pin: String = "402719", surname: String = "ABAYEV", givenName: String = "ARMAN") async throws {
        try await store.registry.upsert(RegistryEntry(iin: iin, surname: surname, givenName: givenName, documentNumber: "N0001", photo: Data([1])))
        try await service.registerPhone(iin: iin, phone: "+77010000001")
        let t = try await store.attempts.begin(iin: iin)
        _ = try await store.runner.record(t, outcome: .pass, score: 0.8, livenessPassed: true, reason: "",
                                          evidence: Evidence(selfie: nil, reference: nil, livenessReport: nil))
        try await store.digitalIDs.setPIN(iin: iin, pin: pin)
        _ = try await store.digitalIDs.grantConsent(iin: iin, scope: "ca.identity", seconds: 3600)
        try await confirmPhone(iin)
    }

    /// Requests a code and reads it from the outbox, as the SMS gateway would deliver it.
    func lastCode(_ iin: String) async throws -> String {
        let body = try #require(try await store.outbox(iin: iin).last?.body)
        return String(try #require(body.split(separator: " ").first { $0.count >= 6 && $0.prefix(6).allSatisfy(\.isNumber) }).prefix(6))
    }

    func confirmPhone(_ iin: String, caller: Caller = systemA) async throws {
        try await service.requestCode(iin: iin, caller: caller)
        try await service.confirmCode(iin: iin, code: try await lastCode(iin), caller: caller)
    }
}

/// Two calling systems: each sees only its own applications.
let systemA = Caller.system("key-a"), systemB = Caller.system("key-b")

/// Writes `text` to a file in `dir` and returns its path.
func writeFile(_ dir: String, _ name: String, _ text: String) throws -> String {
    let path = dir + "/" + name
    try Data(text.utf8).write(to: URL(fileURLWithPath: path))
    return path
}
