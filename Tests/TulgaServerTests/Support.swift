import Foundation
import Hummingbird
import HTTPTypes
import HummingbirdTesting
import Logging
import Testing
import TulgaTestSupport
import TulgaCrypto
import TulgaFace
import TulgaIssuance
import TulgaLiveness
import TulgaPolicy
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

enum Paths {
    static let root = RepositoryPaths.root
    static let video = root + "/../shared/fixtures/video/lin_manuel_miranda_head_turns.mp4"
    static let lin = root + "/../shared/fixtures/faces/lin_manuel_miranda_f095.png"
    static let obama = root + "/Fixtures/photos/obama.jpg"
}

/// A server environment on a scratch SQLite database, with keys for each scope and a CA.
struct Fixture {
    static let linIIN = "850314300013", obamaIIN = "850314300023"
    static let keys: [String: String] = [
        "kiosk": String(repeating: "k", count: 40), "issuance": String(repeating: "i", count: 40),
        "moderation": String(repeating: "m", count: 40), "admin": String(repeating: "a", count: 40),
        "issuance2": String(repeating: "j", count: 40), "operator": String(repeating: "o", count: 40),
    ]
    let dir: String
    let store: Records
    let clock: ManualClock
    let env: ServerEnvironment
    let location: String
    let liveness: LivenessConfig
    let bands: DecisionBands

    /// Every fixture runs on a manual clock: frame stamps, prompt timeouts and rate buckets move
    /// only when a test advances it, so a slow machine changes nothing.
    /// Lin's documents as the registry records them (the ID card's number, the passport's, the Latin names).
    static let linCard = "041234567", linPassport = "N12345678", linLatin = LatinNames(surname: "MIRANDA", givenNames: "LIN MANUEL")

    /// `scripts/render-document`'s arguments for a document of Lin as the registry records him, with
    /// `number` on it and `portrait` (a fixture face) printed on it: by default the registry's photo, as on a real document.
    static func linDocument(number: String, portrait: String = "lin_manuel_miranda_f095.png") -> [String] {
        ["--iin", linIIN, "--surname", linLatin.surname, "--given-names", linLatin.givenNames, "--number", number, "--portrait", portrait]
    }

    /// `documentStep`: `policy.documentStepRequired` (off unless a test takes the identity-document step).
    static func make(prompts: [Prompt] = [.turnRight], server: ServerConfig = ServerConfig(), bands: DecisionBands = .init(accept: 0.363, review: 0.30),
                     database: String? = nil, continuity: Double? = nil, documentStep: Bool = false,
                     settings: RecordSettings = RecordSettings()) async throws -> Fixture {
        let dir = Temp.dir("tulga-http")
        let clock = ManualClock()
        var ca = CAConfig()
        ca.directory = dir + "/ca"
        ca.passwordFile = dir + "/keys/ca-password"
        ca.publicBaseURL = "http://127.0.0.1:18080/pki"
        let location = database ?? dir + "/tulga.sqlite"
        var settings = settings
        settings.documentStepRequired = documentStep
        let store = try await Records.open(database: try await Backend.open(location), keys: try ServiceKeys.scratch(dir + "/keys"),
                                           settings: settings, clock: clock, ca: try LocalCA.initialize(ca, now: clock.date))
        for (name, key) in keys { _ = try await store.apiKeys.add(name: name, scopes: [name == "issuance2" ? "issuance" : name], key: key) }
        try await store.registry.upsert(RegistryEntry(iin: linIIN, surname: "MIRANDA", givenName: "LIN", documentNumber: linCard, phone: "+77010000001",
                                                      photo: try Data(contentsOf: URL(fileURLWithPath: Paths.lin)), latin: linLatin,
                                                      passportNumber: linPassport))
        try await store.registry.upsert(RegistryEntry(iin: obamaIIN, surname: "OBAMA", givenName: "BARACK", documentNumber: "N02",
                                                      photo: try Data(contentsOf: URL(fileURLWithPath: Paths.obama))))
        var liveness = LivenessConfig()
        liveness.fixedPrompts = prompts
        if let continuity { liveness.continuityThreshold = continuity }
        let env = try ServerEnvironment(config: server, records: store, face: FaceConfig(modelsDirectory: Paths.root + "/Models"), liveness: liveness,
                                        bands: bands, temporaryFolder: dir + "/var/tmp")
        return Fixture(dir: dir, store: store, clock: clock, env: env, location: location, liveness: liveness, bands: bands)
    }

    /// Another node on the same database, evidence key and clock: its own records, sessions and face pipelines.
    func secondNode() async throws -> Fixture {
        let store = try await Records.open(database: try await Backend.open(location), keys: try ServiceKeys(folder: dir + "/keys"),
                                           settings: self.store.settings, clock: clock)
        let env = try ServerEnvironment(config: ServerConfig(), records: store, face: FaceConfig(modelsDirectory: Paths.root + "/Models"),
                                        liveness: liveness, bands: bands)
        return Fixture(dir: dir, store: store, clock: clock, env: env, location: location, liveness: liveness, bands: bands)
    }

    var app: some ApplicationProtocol { buildApplication(env, logger: Logger(label: "test")) }
    func app(logger: Logger) -> some ApplicationProtocol { buildApplication(env, logger: logger) }

    static func headers(_ scope: String?, json: Bool = true, moderator: (String, String)? = nil) -> HTTPFields {
        var h = HTTPFields()
        if let scope, let key = keys[scope] { h[HTTPField.Name("X-API-Key")!] = key }
        if json { h[.contentType] = "application/json" }
        if let (id, secret) = moderator {
            h[HTTPField.Name("X-Moderator-Id")!] = id
            h[HTTPField.Name("X-Moderator-Secret")!] = secret
        }
        return h
    }
}

func decode(_ buffer: ByteBuffer) throws -> [String: Any] {
    try #require(try JSONSerialization.jsonObject(with: Data(buffer.readableBytesView)) as? [String: Any])
}

func body(_ json: String) -> ByteBuffer { ByteBuffer(string: json) }
