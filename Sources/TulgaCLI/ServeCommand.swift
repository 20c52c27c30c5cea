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

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the HTTP service (127.0.0.1:8080, SQLite under ./var by default).",
        discussion: "Environment: TULGA_HOST, TULGA_PORT, TULGA_DATABASE, TULGA_CONFIG, TULGA_MODELS, LOG_LEVEL. SIGTERM or SIGINT shut it down gracefully.")

    @Option(help: "Address to bind.") var host: String?
    @Option(help: "Port.") var port: Int?
    @OptionGroup var store: StoreOptions

    func run() async throws {
        let (s, opened) = try await store.open()
        var configuration = opened
        let env = ProcessInfo.processInfo.environment
        configuration.server.host = host ?? env["TULGA_HOST"] ?? configuration.server.host
        configuration.server.port = port ?? env["TULGA_PORT"].flatMap(Int.init) ?? configuration.server.port
        var logger = Logger(label: "tulga")
        logger.logLevel = env["LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
        let environment: ServerEnvironment
        do {
            environment = try ServerEnvironment(config: configuration.server, records: s, face: configuration.face, liveness: configuration.liveness,
                                                bands: configuration.policy.bands, background: configuration.background)
        } catch {
            await s.database.close()
            throw fail("\(error)")
        }
        logger.info("starting", metadata: ["address": "\(configuration.server.host):\(configuration.server.port)",
                                           "database": "\(configuration.storage.database.hasPrefix("postgres") ? "postgres" : "sqlite")"])
        do {
            try await buildApplication(environment, logger: logger).runService()
        } catch {
            await s.database.close()
            throw fail("server stopped: \(error)")
        }
        await s.database.close()
        logger.info("stopped")
    }
}

struct APIKeyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "apikey", abstract: "API keys of calling systems.",
                                                    subcommands: [APIKeyAdd.self])
}

struct APIKeyAdd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add",
        abstract: "Register a key (at least 32 characters, from standard input or $TULGA_NEW_API_KEY) with scopes.")
    @Argument(help: "Name of the calling system.") var name: String
    @Option(help: "Comma-separated: kiosk, issuance, moderation, admin.") var scopes: String
    @OptionGroup var store: StoreOptions

    func validate() throws {
        let allowed: Set = ["kiosk", "issuance", "moderation", "admin"]
        let given = scopes.split(separator: ",").map(String.init)
        guard !given.isEmpty, given.allSatisfy(allowed.contains) else { throw ValidationError("--scopes takes kiosk, issuance, moderation, admin") }
    }

    func run() async throws {
        let key = try readSecret(env: "TULGA_NEW_API_KEY", what: "API key")
        try await withStore(store) { s, _ in
            let record = try await s.apiKeys.add(name: name, scopes: Set(scopes.split(separator: ",").map(String.init)), key: key)
            print("API key \(record.id) for \(record.name): \(record.scopes.sorted().joined(separator: ", "))")
        }
    }
}
