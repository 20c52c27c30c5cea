import ArgumentParser
import Foundation
import TulgaConfig
import TulgaCrypto
import TulgaDigitalID
import TulgaFace
import TulgaIdentity
import TulgaLiveness
import TulgaPolicy
import TulgaStorage
import TulgaCore
import TulgaFlow
import TulgaRegistry
import TulgaAttempts
import TulgaModeration
import TulgaIssuance
import TulgaFaceModel
import TulgaLivenessRunner
import TulgaAPIKeys

/// Options of every command that opens the store.
struct StoreOptions: ParsableArguments {
    @Option(help: """
        Database: var/tulga.sqlite (default), sqlite:PATH or postgres://user@host:port/db ($TULGA_DATABASE). \
        PostgreSQL takes ?sslmode=disable|prefer|require|verify-ca|verify-full (default: prefer on a loopback host, \
        verify-full elsewhere) and &sslrootcert=CA.pem (default: the system's trust roots).
        """)
    var database: String?

    @Option(help: "Folder of the service's keys (default var/keys, $TULGA_KEYS); tulga init creates them.")
    var keys: String?

    @OptionGroup var common: CommonOptions

    /// The configuration with the command line's and the environment's database and keys folder.
    func configuration() throws -> Configuration {
        var configuration = try common.loadConfiguration()
        let env = ProcessInfo.processInfo.environment
        if let database = database ?? env["TULGA_DATABASE"] { configuration.storage.database = database }
        if let keys = keys ?? env["TULGA_KEYS"] { configuration.storage.keysFolder = keys }
        return configuration
    }

    /// The records, opened with the configuration `adjust` leaves (`tulga serve` sets its address there
    /// first: the CA's public URL is derived from it when not configured).
    func open(_ adjust: (inout Configuration) -> Void = { _ in }) async throws -> (Records, Configuration) {
        var configuration = try configuration()
        adjust(&configuration)
        // Keys first: a command never creates one on its own, and never touches the database without them.
        let keys: ServiceKeys
        do { keys = try ServiceKeys(folder: configuration.storage.keysFolder) } catch { throw fail("\(error)") }
        do {
            let db = try await openDatabase(configuration.storage.database)
            let records = try await Records.open(database: db, keys: keys, settings: configuration.recordSettings, clock: SystemClock(),
                                                 ca: try LocalCA.load(configuration.caSettings))
            return (records, configuration)
        } catch {
            throw fail("\(error)")
        }
    }
}

/// Runs `body` with the records open and closes them afterwards; refusals exit 3 with their words.
func withStore(_ options: StoreOptions, _ body: (Records, Configuration) async throws -> Void) async throws {
    let (store, configuration) = try await options.open()
    do {
        try await body(store, configuration)
        await store.database.close()
    } catch let error as any TulgaError {
        await store.database.close()
        throw fail(error.reason)
    } catch {
        await store.database.close()
        throw error
    }
}

func validIIN(_ text: String) throws -> String {
    do { return try IIN(text).value } catch { throw ValidationError("invalid IIN \(text): \(error)") }
}

// MARK: - registry

struct Registry: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "registry", abstract: "The reference registry (IIN → photo, names, document).",
                                                    subcommands: [RegistryImport.self])
}

struct RegistryImport: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Load the registry from a CSV file and a folder of photos.",
        discussion: """
        CSV header: iin,surname,given_name,document_number,phone,photo, then any of patronymic, latin_surname, latin_given_names \
        and passport_number (the identity-document step compares the ID card's document_number or the passport_number, and the \
        Latin names as the documents' MRZ prints them, A-Z and spaces; the birth date is the IIN's). Rows with an invalid IIN, \
        a missing or unreadable photo, or Latin names outside A-Z are reported and skipped; exit code 2 if any was. Each photo's \
        face embedding is computed here and kept sealed with the photo, so attempts do not embed it again (a photo without a \
        usable face is imported and named).
        """)

    @Option(help: "CSV file.") var csv: String
    @Option(help: "Folder with the photos named in the CSV.") var photos: String
    @OptionGroup var store: StoreOptions

    func run() async throws {
        guard let text = try? String(contentsOfFile: csv, encoding: .utf8) else { throw fail("cannot read \(csv) as UTF-8 text") }
        var lines = text.split(whereSeparator: \.isNewline).map(String.init)
        let columns = ["iin", "surname", "given_name", "document_number", "phone", "photo"]
        let optional = ["patronymic", "latin_surname", "latin_given_names", "passport_number"]
        guard let header = lines.first?.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }),
              Array(header.prefix(columns.count)) == columns, Set(header.dropFirst(columns.count)).isSubset(of: optional),
              Set(header).count == header.count else {
            throw fail("\(csv): the header must be iin,surname,given_name,document_number,phone,photo, then any of \(optional.joined(separator: ", "))")
        }
        lines.removeFirst()
        var imported = 0
        var rejected: [String] = [], withoutReference: [String] = []
        // The face engine embeds each photo once, here; every attempt reuses the sealed embedding.
        var loaded: FaceEngine?
        func engine() throws -> FaceEngine {
            if let loaded { return loaded }
            let configuration = try store.common.loadConfiguration()
            do { loaded = try FaceEngine(config: configuration.face) } catch { throw fail(error.reason) }
            return try engine()
        }
        try await withStore(store) { s, _ in
            for (n, line) in lines.enumerated() {
                let f = line.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
                let where_ = "line \(n + 2)"
                guard f.count == header.count else { rejected.append("\(where_): expected \(header.count) fields, got \(f.count)"); continue }
                do { _ = try IIN(f[0]) } catch { rejected.append("\(where_): IIN \(f[0]) \(error)"); continue }
                guard !f[1].isEmpty, !f[2].isEmpty, !f[3].isEmpty else { rejected.append("\(where_): surname, given name and document are required"); continue }
                let path = (photos as NSString).appendingPathComponent(f[5])
                guard let photo = FileManager.default.contents(atPath: path) else { rejected.append("\(where_): no photo at \(path)"); continue }
                do { _ = try ImageInfo(probing: photo) } catch { rejected.append("\(where_): \(f[5]): \(error)"); continue }
                func field(_ name: String) -> String? { header.firstIndex(of: name).map { f[$0] }.flatMap { $0.isEmpty ? nil : $0 } }
                let latin = field("latin_surname").map { LatinNames(surname: $0, givenNames: field("latin_given_names") ?? "") }
                if let latin, !latin.isMRZAlphabet {
                    rejected.append("\(where_): the Latin names must be A-Z and spaces, as the document's MRZ prints them"); continue
                }
                if latin == nil, field("latin_given_names") != nil { rejected.append("\(where_): latin_given_names without latin_surname"); continue }
                let (entry, unusable) = try AttemptRunner.enrol(RegistryEntry(iin: f[0], surname: f[1].uppercased(), givenName: f[2].uppercased(),
                                                                              documentNumber: f[3], phone: f[4].isEmpty ? nil : f[4], photo: photo,
                                                                              patronymic: field("patronymic")?.uppercased(), latin: latin,
                                                                              passportNumber: field("passport_number")?.uppercased()),
                                                                engine: try engine())
                try await s.registry.upsert(entry)
                if let unusable { withoutReference.append("\(where_): \(unusable)") }
                imported += 1
            }
        }
        if store.common.json {
            try printJSON(["imported": AnyEncodable(imported), "rejected": AnyEncodable(rejected), "withoutReference": AnyEncodable(withoutReference)])
        } else {
            print("imported \(imported) of \(lines.count) rows")
            for r in rejected { print("  skipped \(r)") }
            for r in withoutReference { print("  imported without a face embedding (its attempts will say why): \(r)") }
        }
        if !rejected.isEmpty { throw ExitCode(Exit.unusable) }
    }
}

struct AnyEncodable: Encodable {
    let encodeValue: (any Encoder) throws -> Void
    init<T: Encodable>(_ value: T) { encodeValue = value.encode }
    func encode(to encoder: any Encoder) throws { try encodeValue(encoder) }
}

// MARK: - attempt

struct Attempt: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "attempt",
        abstract: "Run one biometric attempt for an IIN: liveness on a video, comparison with the registry photo, the policy's decision.",
        discussion: "Exit codes: 0 pass, 1 fail, 2 sent to moderation (review), 3 usage or refusal (e.g. no attempts left).")

    @Option(help: "The applicant's IIN.") var iin: String
    @Option(help: "Liveness video (or camera /dev/videoN).") var video: String
    @Option(help: "A selfie photo to compare instead of the session's own frame.") var selfie: String?
    @Option(help: "Comma-separated prompts instead of a random draw.") var prompts: String?
    @Option(help: "Language of the result SMS: ru or kk.") var lang = "ru"
    @OptionGroup var store: StoreOptions

    func validate() throws {
        _ = try validIIN(iin)
        guard lang == "ru" || lang == "kk" else { throw ValidationError("--lang must be ru or kk") }
    }

    func run() async throws {
        var code = Exit.usageOrInternal
        try await withStore(store) { s, configuration in
            let engine: FaceEngine
            do { engine = try FaceEngine(config: configuration.face) } catch { throw fail("\(error)") }
            let source: any FrameSource
            do { source = try openFrameSource(video) } catch { throw fail("\(error)") }
            let selfieImage: Image?
            do { selfieImage = try selfie.map { try Image(contentsOf: $0, limits: configuration.face.decode) } } catch { throw fail("\(error)") }
            let runner = AttemptRunner(records: s, bands: configuration.policy.bands, liveness: configuration.liveness)
            let fixed = prompts?.split(separator: ",").compactMap { Prompt(rawValue: String($0)) }
            let report: AttemptReport
            do {
                report = try await runner.run(iin: iin, source: source, engine: engine, streamTimeIsRelative: !video.hasPrefix("/dev/video"),
                                              selfie: selfieImage, prompts: fixed, language: Language(rawValue: lang) ?? .ru)
            } catch let error as AttemptStartError { throw fail(error.reason) }
            if store.common.json {
                try printJSON(report)
            } else {
                print("outcome          \(report.outcome.rawValue)")
                if let score = report.score { print("score            \(format(score, 4)) (accept ≥ \(format(report.acceptThreshold)), review ≥ \(format(report.reviewThreshold)))") }
                print("liveness         \(report.livenessPassed ? "passed" : "failed") (\(report.liveness.prompts.map(\.prompt.rawValue).joined(separator: ", ")))")
                for r in report.reasons { print("reason           \(r)") }
                print("attempts left    \(report.attemptsLeft)")
                print("in-person path   \(report.inPersonUnlocked ? "open" : "closed")")
                if let id = report.caseID { print("moderation case  \(id)") }
            }
            code = switch report.outcome { case .pass: Exit.match; case .fail: Exit.noMatch; case .review: Exit.unusable }
        }
        throw ExitCode(code)
    }
}

// MARK: - in-person, purge

struct InPerson: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "inperson", abstract: "Service-centre operator actions.",
                                                    subcommands: [InPersonAccept.self])
}

struct InPersonAccept: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "accept",
                                                    abstract: "Accept an in-person application (refused until all biometric attempts have failed).")
    @Argument(help: "The applicant's IIN.") var iin: String
    @Option(help: "Operator id.") var `operator`: String
    @OptionGroup var store: StoreOptions

    func validate() throws { _ = try validIIN(iin) }

    func run() async throws {
        try await withStore(store) { s, _ in
            try await s.attempts.acceptInPerson(iin: iin, operator: self.operator)
            print("in-person application accepted for \(iin)")
        }
    }
}

struct Purge: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "purge", abstract: "Delete the biometric evidence of decided cases older than an age, and their review PNGs.")
    @Option(help: "Age such as 30d, 12h or 90m.") var olderThan: String
    @OptionGroup var store: StoreOptions

    static func seconds(_ text: String) -> Double? {
        guard let unit = text.last, let value = Double(text.dropLast()), value >= 0 else { return nil }
        switch unit {
        case "d": return value * 86400
        case "h": return value * 3600
        case "m": return value * 60
        default: return nil
        }
    }

    func validate() throws {
        guard Self.seconds(olderThan) != nil else { throw ValidationError("--older-than must look like 30d, 12h or 90m") }
    }

    func run() async throws {
        try await withStore(store) { s, configuration in
            let n = try await EvidencePurge.run(s, olderThan: Self.seconds(olderThan) ?? 0, reviewFolder: configuration.storage.reviewFolder, actor: "purge")
            print("purged the evidence of \(n) decided case(s)")
        }
    }
}

// MARK: - Digital ID

struct DigitalIDCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "digitalid", abstract: "Digital ID records, PINs and consents.",
        subcommands: [DigitalIDShow.self, DigitalIDSetPIN.self, ConsentGrant.self, ConsentRevoke.self])
}

struct DigitalIDShow: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Show a Digital ID record.")
    @Argument var iin: String
    @OptionGroup var store: StoreOptions
    func validate() throws { _ = try validIIN(iin) }
    func run() async throws {
        try await withStore(store) { s, _ in
            guard let record = try await s.digitalIDs.record(iin) else { throw fail("no Digital ID for \(iin)") }
            if store.common.json { try printJSON(record); return }
            print("\(record.iin)  \(record.surname) \(record.givenName)  document \(record.documentNumber)")
            print("status \(record.status.rawValue), verified by \(record.verifiedBy), PIN \(record.hasPIN ? (record.pinLocked ? "locked" : "set") : "not set"), document step \(record.documentState.rawValue)")
        }
    }
}

/// Reads a secret from an environment variable or the first line of standard input; never echoes it.
func readSecret(env: String, what: String) throws -> String {
    if let value = ProcessInfo.processInfo.environment[env], !value.isEmpty { return value }
    guard let line = readLine(strippingNewline: true), !line.isEmpty else { throw fail("give the \(what) on standard input or in $\(env)") }
    return line
}

struct DigitalIDSetPIN: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "set-pin", abstract: "Set the PIN (6 digits) from standard input or $TULGA_PIN.")
    @Argument var iin: String
    @OptionGroup var store: StoreOptions
    func validate() throws { _ = try validIIN(iin) }
    func run() async throws {
        let pin = try readSecret(env: "TULGA_PIN", what: "PIN")
        try await withStore(store) { s, _ in
            try await s.digitalIDs.setPIN(iin: iin, pin: pin)
            print("PIN set for \(iin)")
        }
    }
}

struct ConsentGrant: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "consent-grant",
                                                    abstract: "Grant a service access to identity data (checked with the PIN).")
    @Argument var iin: String
    @Option(help: "Scope.") var scope = Consent.caIdentityScope
    @Option(help: "Validity in days (1-366).") var days = 30.0
    @OptionGroup var store: StoreOptions
    func validate() throws {
        _ = try validIIN(iin)
        guard days > 0, days <= 366 else { throw ValidationError("--days must lie in 1...366") }
    }
    func run() async throws {
        let pin = try readSecret(env: "TULGA_PIN", what: "PIN")
        try await withStore(store) { s, _ in
            switch try await s.digitalIDs.checkPIN(iin: iin, pin: pin) {
            case .accepted: break
            case .wrong(let left): throw fail("wrong PIN; \(left) tries left")
            case .locked: throw fail("the PIN is locked after \(PINPolicy.maxFailures) wrong entries")
            case .notSet: throw fail("set a PIN first (tulga digitalid set-pin)")
            }
            let consent = try await s.digitalIDs.grantConsent(iin: iin, scope: scope, seconds: days * 86400)
            if store.common.json { try printJSON(consent) } else { print("consent \(consent.id) for \(consent.scope) until \(Date(timeIntervalSince1970: consent.expiresAt))") }
        }
    }
}

struct ConsentRevoke: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "consent-revoke", abstract: "Revoke a consent.")
    @Argument var iin: String
    @Argument var consent: String
    @OptionGroup var store: StoreOptions
    func validate() throws { _ = try validIIN(iin) }
    func run() async throws {
        try await withStore(store) { s, _ in
            try await s.digitalIDs.revokeConsent(id: consent, iin: iin)
            print("consent \(consent) revoked")
        }
    }
}
