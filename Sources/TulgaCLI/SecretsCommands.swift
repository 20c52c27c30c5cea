import ArgumentParser
import Foundation
import TulgaAPIKeys
import TulgaConfig
import TulgaCore
import TulgaCrypto
import TulgaFlow
import TulgaStorage

// MARK: - init

struct InitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Create the service's keys and folders and the database (idempotent; an existing key is never replaced).",
        discussion: """
        Keys (0600, in a 0700 folder, var/keys by default): evidence.key, outbox.key, audit.key, audit-signing.key.
        A var/evidence.key from an earlier build is moved into the keys folder. Every other command refuses to start
        without the keys it needs. Prints the audit-signing public key that checkpoints are verified with.
        """)
    @OptionGroup var store: StoreOptions

    func run() async throws {
        let configuration = try store.configuration()
        let folder = configuration.storage.keysFolder
        var created: [String] = []
        do {
            // The evidence key of builds before the keys folder sat beside it.
            let legacy = ((folder as NSString).deletingLastPathComponent as NSString).appendingPathComponent("evidence.key")
            let target = (folder as NSString).appendingPathComponent("evidence.key")
            if PrivateFile.mode(target) == nil, PrivateFile.mode(legacy) != nil {
                try PrivateFile.makeFolder(folder)
                guard rename(legacy, target) == 0, chmod(target, 0o600) == 0 else { throw FileFailure(legacy, "cannot move it into \(folder)", errno: errno) }
                created.append("\(target) (moved from \(legacy))")
            }
            created += try ServiceKeys.create(folder: folder)
            for other in [configuration.storage.checkpointFolder, configuration.storage.reviewFolder, configuration.storage.temporaryFolder] {
                try PrivateFile.makeFolder(other)
            }
        } catch { throw fail("\(error)") }
        let publicKey: String
        do { publicKey = try AuditSigner(folder: folder).publicKey } catch { throw fail("\(error)") }
        // Opening the store migrates it and seals what earlier builds kept in clear.
        try await withStore(store) { _, _ in }
        if store.common.json {
            try printJSON(["created": AnyEncodable(created), "keys": AnyEncodable(folder), "auditPublicKey": AnyEncodable(publicKey)])
            return
        }
        print(created.isEmpty ? "every key was there already in \(folder)" : created.map { "created \($0)" }.joined(separator: "\n"))
        print("database ready: \(configuration.storage.database.hasPrefix("postgres") ? "postgres" : configuration.storage.database)")
        print("audit-signing public key (publish it; checkpoints are verified with it): \(publicKey)")
    }
}

// MARK: - secrets

struct SecretsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "secrets", abstract: "The service's own keys (not applicants' keys): status, rotation, re-sealing.",
        subcommands: [SecretsStatus.self, SecretsRotate.self, SecretsReseal.self])
}

enum SealingKeyName: String, ExpressibleByArgument, CaseIterable {
    case evidence, outbox
}

/// What each sealing key protects.
func sealedColumns(_ name: SealingKeyName) -> [SealedColumns] {
    name == .evidence ? Records.sealedColumns : [Outbox.sealed]
}

struct SecretsStatus: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "Each sealing key's id, its retired keys, and the rows not yet under it.")
    @OptionGroup var store: StoreOptions
    func run() async throws {
        try await withStore(store) { s, _ in
            var report: [[String: AnyEncodable]] = []
            for name in SealingKeyName.allCases {
                let key = name == .evidence ? s.keys.evidence : s.keys.outbox
                var behind = 0
                for spec in sealedColumns(name) { behind += try await Reseal.remaining(s.database, keyID: key.keyID, spec) }
                let lookups = name == .evidence ? try await s.apiKeys.lookupsNotUnder(key.keyID) : 0
                report.append(["name": AnyEncodable(name.rawValue), "keyID": AnyEncodable(key.keyID), "retired": AnyEncodable(key.retiredIDs),
                               "rowsUnderOtherKeys": AnyEncodable(behind), "apiKeyLookupsUnderOtherKeys": AnyEncodable(lookups)])
                if !store.common.json {
                    print("\(name.rawValue.padding(toLength: 9, withPad: " ", startingAt: 0)) key \(key.keyID)  retired: \(key.retiredIDs.isEmpty ? "none" : key.retiredIDs.joined(separator: ", "))  rows under other keys: \(behind)\(name == .evidence ? "  API-key lookups under other keys: \(lookups)" : "")")
                }
            }
            if store.common.json { try printJSON(report) }
        }
    }
}

struct SecretsRotate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rotate",
        abstract: "Make a new evidence or outbox key and re-seal every row under it; the old key stays readable until `secrets reseal` drops it.",
        discussion: """
        Running nodes keep sealing with the key they started with: restart every node after a rotation, then run
        `tulga secrets reseal`, which moves what they sealed meanwhile and removes each old key nothing uses any more.
        """)
    @Argument(help: "evidence or outbox.") var name: SealingKeyName
    @OptionGroup var store: StoreOptions
    func run() async throws {
        let configuration = try store.configuration()
        let key: SealingKey
        do { key = try SealingKey.rotate(folder: configuration.storage.keysFolder, name: name.rawValue) } catch { throw fail("\(error)") }
        print("new \(name.rawValue) key \(key.keyID); the old one (\(key.retiredIDs.joined(separator: ", "))) stays readable")
        try await withStore(store) { s, _ in
            var moved = 0
            for spec in sealedColumns(name) { moved += try await Reseal.run(s.database, key: key, spec) }
            print("re-sealed \(moved) row(s); restart every node, then run tulga secrets reseal to remove the old key")
        }
    }
}

struct SecretsReseal: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reseal",
        abstract: "Re-seal every row still under a retired key, then remove each retired key nothing uses any more.")
    @OptionGroup var store: StoreOptions
    func run() async throws {
        try await withStore(store) { s, _ in
            for name in SealingKeyName.allCases {
                let key = name == .evidence ? s.keys.evidence : s.keys.outbox
                var moved = 0, behind = 0
                for spec in sealedColumns(name) {
                    moved += try await Reseal.run(s.database, key: key, spec)
                    behind += try await Reseal.remaining(s.database, keyID: key.keyID, spec)
                }
                // An API key's lookup moves to the new key only when the key is next used.
                let lookups = name == .evidence ? try await s.apiKeys.lookupsNotUnder(key.keyID) : 0
                print("\(name.rawValue): re-sealed \(moved) row(s)")
                for id in key.retiredIDs {
                    if behind == 0 && lookups == 0 {
                        do { try key.dropRetired(id) } catch { throw fail("\(error)") }
                        print("\(name.rawValue): removed retired key \(id)")
                    } else {
                        print("\(name.rawValue): kept retired key \(id): \(behind) row(s) and \(lookups) API key(s) not yet moved (API keys move on their next use, or rotate them)")
                    }
                }
            }
        }
    }
}

// MARK: - audit

struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit", abstract: "The keyed audit log and its signed checkpoints.",
        subcommands: [AuditVerify.self, AuditCheckpointCommand.self, AuditPublicKey.self])
}

struct AuditVerify: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Recompute the chain with the audit key and check every checkpoint against it; exit 1 if a row was edited, inserted or removed.")
    @Option(help: "Checkpoint folder (default storage.checkpointFolder, var/audit-checkpoints).") var checkpoints: String?
    @Option(help: "The audit-signing public key, base64 (default: from the keys folder's audit-signing.key).") var publicKey: String?
    @OptionGroup var store: StoreOptions

    func run() async throws {
        var intact = true
        let configuration = try store.configuration()
        let folder = checkpoints ?? configuration.storage.checkpointFolder
        var check: CheckpointCheck?
        if checkpoints != nil, !FileManager.default.fileExists(atPath: folder) { throw fail("no checkpoint folder \(folder)") }
        if FileManager.default.fileExists(atPath: folder) {
            guard let trusted = publicKey ?? (try? AuditSigner(folder: configuration.storage.keysFolder))?.publicKey else {
                throw fail("checking checkpoints needs the audit-signing public key: give --public-key or keep audit-signing.key in the keys folder")
            }
            check = CheckpointCheck(folder: folder, publicKey: trusted)
        }
        try await withStore(store) { s, _ in
            let result = try await s.verifyAudit(checkpoints: check)
            intact = result.intact
            if store.common.json { try printJSON(result) } else if result.intact {
                print("audit log intact: \(result.rows) rows, \(result.checkpoints) checkpoint(s) agree")
            } else {
                print("audit log BROKEN\(result.brokenAt.map { " at row \($0)" } ?? ""): \(result.problem ?? "")")
            }
        }
        if !intact { throw ExitCode(1) }
    }
}

struct AuditCheckpointCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "checkpoint",
        abstract: "Sign the log's head (sequence, MAC, time) into the write-once checkpoint folder; tulga serve does this on a schedule.")
    @Option(help: "Checkpoint folder (default storage.checkpointFolder, var/audit-checkpoints).") var checkpoints: String?
    @OptionGroup var store: StoreOptions

    func run() async throws {
        let configuration = try store.configuration()
        let signer: AuditSigner
        do { signer = try AuditSigner(folder: configuration.storage.keysFolder) } catch { throw fail("\(error)") }
        let folder = checkpoints ?? configuration.storage.checkpointFolder
        try await withStore(store) { s, _ in
            let made: AuditCheckpoint?
            do { made = try await AuditLog.checkpoint(s.database, signer: signer, folder: folder, at: s.clock.now()) } catch let failure as FileFailure {
                throw fail("\(failure)")
            }
            if store.common.json { try printJSON(made.map(AnyEncodable.init) ?? AnyEncodable([String: String]())); return }
            if let made { print("checkpoint at row \(made.seq) written to \(folder)") } else { print("nothing new to sign: the head has a checkpoint already (or the log is empty)") }
        }
    }
}

struct AuditPublicKey: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "public-key", abstract: "Print the audit-signing public key (base64), to publish.")
    @OptionGroup var store: StoreOptions
    func run() async throws {
        do { print(try AuditSigner(folder: try store.configuration().storage.keysFolder).publicKey) } catch let exit as ExitCode { throw exit } catch {
            throw fail("\(error)")
        }
    }
}
