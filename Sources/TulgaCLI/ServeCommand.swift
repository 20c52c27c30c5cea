import ArgumentParser
import Foundation
import Hummingbird
import Logging
import TulgaConfig
import TulgaCrypto
import TulgaIssuance
import TulgaServer
import TulgaStorage
import TulgaCore
import TulgaFlow
import TulgaRegistry
import TulgaAttempts
import TulgaModeration
import TulgaDigitalID
import TulgaPolicy
import TulgaFaceModel
import TulgaLivenessRunner
import TulgaAPIKeys
import TulgaLiveness
import TulgaMail

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the HTTP service (127.0.0.1:8080, SQLite under ./var by default).",
        discussion: """
            Environment: TULGA_HOST, TULGA_PORT, TULGA_DATABASE, TULGA_CONFIG, TULGA_MODELS, LOG_LEVEL, TULGA_LOG_FORMAT. \
            With ca.publicBaseURL empty, the CA's public URL (OCSP, CRL, the sign-in audience) is derived from server.host and \
            server.port with TULGA_HOST/TULGA_PORT, as every command derives it; --host/--port move only this process, and a warning \
            says so when they name another origin, or when the host is a wildcard (0.0.0.0, ::): set ca.publicBaseURL then. \
            Probes: GET /health/live (the process answers) and /health/ready (database, models, keys, outbox; 503 with the reason). \
            SIGTERM or SIGINT shut it down gracefully.
            """)

    @Option(help: "Address to bind.") var host: String?
    @Option(help: "Port.") var port: Int?
    @Option(help: "Log lines on standard error: text, or json (one object per line: time, level, label, message, fields). Default: $TULGA_LOG_FORMAT, else text on a terminal and json otherwise.")
    var logFormat: String?
    @OptionGroup var store: StoreOptions

    func run() async throws {
        let env = ProcessInfo.processInfo.environment
        let format: LogFormat
        if let logFormat {
            guard let known = LogFormat(rawValue: logFormat) else { throw ValidationError("--log-format must be text or json, not \(logFormat)") }
            format = known
        } else if let named = env["TULGA_LOG_FORMAT"], !named.isEmpty {
            guard let known = LogFormat(rawValue: named) else { throw ValidationError("TULGA_LOG_FORMAT must be text or json, not \(named)") }
            format = known
        } else {
            format = .automatic(isTerminal: isatty(STDERR_FILENO) == 1)
        }
        format.bootstrap()   // before any logger exists, the database's included
        // $TULGA_HOST/$TULGA_PORT are in the configuration already (as for every command); the flags move only this process.
        var configured = Configuration()
        let (s, configuration) = try await store.open { configuration in
            configured = configuration
            if let host { configuration.server.host = host }
            if let port { configuration.server.port = port }
        }
        var logger = Logger(label: "tulga")
        logger.logLevel = env["LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
        if let warning = Configuration.publicBaseURLWarning(configured: configured, serving: configuration) {
            logger.warning("\(warning)", metadata: ["serving": "\(configuration.server.origin)", "configured": "\(configured.server.origin)"])
        }
        let environment: ServerEnvironment
        // Unique per start: two containers may share a host name and a PID.
        let node = "node-\(ProcessInfo.processInfo.hostName)-\(getpid())-\(UUID().uuidString.prefix(8).lowercased())"
        do {
            // Scheduled checkpoints need the audit-signing key; a node that should not hold it sets checkpointMinutes to 0.
            var signer: AuditSigner?
            if configuration.background.checkpointMinutes > 0 {
                do { signer = try AuditSigner(folder: configuration.storage.keysFolder) } catch {
                    throw ConfigurationError(path: "", reason: "\(error). Every node's checkpoints must be signed by one key: copy audit-signing.key from the node "
                                             + "that made it, or set background.checkpointMinutes to 0 on this node")
                }
                let pinned = configuration.storage.auditPublicKey
                if let signer, !pinned.isEmpty, signer.publicKey != pinned {
                    throw ConfigurationError(path: "", reason: "the audit-signing key in \(configuration.storage.keysFolder) is not the published one (storage.auditPublicKey)")
                }
            }
            // E-mail delivery runs here only when the `mail` section enables it; a bad CA file stops the start.
            let mail = configuration.mail.enabled ? try SMTPClient(settings: configuration.mail) : nil
            let files = ServiceFiles(reviewFolder: configuration.storage.reviewFolder, checkpointFolder: configuration.storage.checkpointFolder,
                                     signer: signer, node: node, mail: mail)
            environment = try ServerEnvironment(config: configuration.server, records: s, face: configuration.face, liveness: configuration.liveness,
                                                bands: configuration.policy.bands, background: configuration.background, files: files,
                                                temporaryFolder: configuration.storage.temporaryFolder)
        } catch {
            await s.database.close()
            throw fail("\(error)")
        }
        if let problem = environment.modelPackProblem { logger.warning("SFace loaded without its packed copy", metadata: ["reason": "\(problem)"]) }
        if let reason = environment.modelRepackReason { logger.notice("SFace's packed copy written", metadata: ["reason": "\(reason)"]) }
        logger.info("starting", metadata: ["address": "\(configuration.server.host):\(configuration.server.port)",
                                           "database": "\(configuration.storage.database.hasPrefix("postgres") ? "postgres" : "sqlite")"])
        do {
            try await buildApplication(environment, logger: logger).runService()
        } catch {
            await s.database.close()
            throw fail("server stopped: \(error)")
        }
        try? await KeyUse.forget(s.database, node: node)
        await s.database.close()
        logger.info("stopped")
    }
}

struct APIKeyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "apikey", abstract: "API keys of calling systems: add, list, revoke, rotate.",
                                                    discussion: "A revocation, expiry or rotation reaches every running node within 5 seconds (the key cache's lifetime).",
                                                    subcommands: [APIKeyAdd.self, APIKeyList.self, APIKeyRevoke.self, APIKeyRotate.self])
}

struct APIKeyAdd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add",
        abstract: "Register a key (at least 32 characters, from standard input or $TULGA_NEW_API_KEY) with scopes.")
    @Argument(help: "Name of the calling system.") var name: String
    @Option(help: "Comma-separated: kiosk, issuance, moderation, operator, admin.") var scopes: String
    @Option(help: "Days until the key stops working (default: no expiry).") var expiresDays: Double?
    @OptionGroup var store: StoreOptions

    func validate() throws {
        let allowed: Set = ["kiosk", "issuance", "moderation", "operator", "admin"]
        let given = scopes.split(separator: ",").map(String.init)
        guard !given.isEmpty, given.allSatisfy(allowed.contains) else { throw ValidationError("--scopes takes kiosk, issuance, moderation, operator, admin") }
    }

    func run() async throws {
        let key = try readSecret(env: "TULGA_NEW_API_KEY", what: "API key")
        try await withStore(store) { s, _ in
            let expires = expiresDays.map { s.clock.now() + $0 * 86400 }
            let record: APIKeyRecord
            do { record = try await s.apiKeys.add(name: name, scopes: Set(scopes.split(separator: ",").map(String.init)), key: key, expiresAt: expires, actor: "cli") }
            catch let e as APIKeyError { throw fail(e.reason) }
            print("API key \(record.id) for \(record.name): \(record.scopes.sorted().joined(separator: ", "))\(expires.map { " until " + isoDate($0) } ?? "")")
        }
    }
}

func isoDate(_ seconds: Double) -> String { ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: seconds)) }

struct APIKeyList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "Every key: id, name, scopes, state (no secret is stored or shown).")
    @OptionGroup var store: StoreOptions
    func run() async throws {
        try await withStore(store) { s, _ in
            let now = s.clock.now(), keys = try await s.apiKeys.list()
            if store.common.json { try printJSON(keys); return }
            print("id                name                 scopes                          state")
            for k in keys {
                let state = k.revokedAt.map { "revoked " + isoDate($0) } ?? (k.isUsable(at: now) ? k.expiresAt.map { "until " + isoDate($0) } ?? "active" : "expired")
                print("\(k.id)  \(k.name.padding(toLength: 20, withPad: " ", startingAt: 0)) \(k.scopes.sorted().joined(separator: ",").padding(toLength: 31, withPad: " ", startingAt: 0)) \(state)")
            }
        }
    }
}

struct APIKeyRevoke: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "revoke", abstract: "Revoke a key by its id (from tulga apikey list).")
    @Argument var id: String
    @OptionGroup var store: StoreOptions
    func run() async throws {
        try await withStore(store) { s, _ in
            do { try await s.apiKeys.revoke(id, actor: "cli") } catch let e as APIKeyError { throw fail(e.reason) }
            print("API key \(id) revoked")
        }
    }
}

struct APIKeyRotate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rotate",
        abstract: "Replace a key: a new one (from $TULGA_NEW_API_KEY, or 43 random characters printed once) with the same name and scopes; the old one is revoked.")
    @Argument var id: String
    @Option(help: "Days until the new key stops working (default: no expiry).") var expiresDays: Double?
    @OptionGroup var store: StoreOptions
    func run() async throws {
        let given = ProcessInfo.processInfo.environment["TULGA_NEW_API_KEY"].flatMap { $0.isEmpty ? nil : $0 }
        var bytes = [UInt8](repeating: 0, count: 32)
        var generator = SystemRandomNumberGenerator()
        for i in bytes.indices { bytes[i] = generator.next() }
        let key = given ?? Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
        try await withStore(store) { s, _ in
            let record: APIKeyRecord
            do { record = try await s.apiKeys.rotate(id, to: key, expiresAt: expiresDays.map { s.clock.now() + $0 * 86400 }, actor: "cli") }
            catch let e as APIKeyError { throw fail(e.reason) }
            print("API key \(id) revoked; new key \(record.id) for \(record.name)")
            if given == nil { print(key) }   // shown once; only its HMAC is stored
        }
    }
}
