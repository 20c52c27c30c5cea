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
    @Flag(help: "Make missing keys even though the database holds data sealed or chained with them (that data becomes unreadable).")
    var newKeysForExistingData = false
    @OptionGroup var store: StoreOptions

    /// What in the database (or the checkpoint folder) a missing key would orphan, by key file.
    func orphans(_ missing: [String], _ configuration: Configuration) async throws -> [String] {
        let url = configuration.storage.database
        let local = !(url.hasPrefix("postgres://") || url.hasPrefix("postgresql://"))
        var found: [String] = []
        if missing.contains("audit-signing.key"),
           ((try? FileManager.default.contentsOfDirectory(atPath: configuration.storage.checkpointFolder)) ?? []).contains(where: { $0.hasPrefix("checkpoint-") }) {
            found.append("audit-signing.key: \(configuration.storage.checkpointFolder) holds checkpoints signed with it")
        }
        guard !local || FileManager.default.fileExists(atPath: url.hasPrefix("sqlite:") ? String(url.dropFirst(7)) : url) else { return found }
        let database = try await openDatabase(url)
        let uses = ["evidence.key": ["registry", "cases WHERE key_id IS NOT NULL", "frame_signatures", "api_keys WHERE lookup IS NOT NULL"],
                    "outbox.key": ["outbox WHERE sealed IS NOT NULL"], "audit.key": ["audit_log"]]
        for name in missing {
            for table in uses[name] ?? [] {
                // A table an older build never made holds nothing.
                let rows = (try? await database.transaction { db in try db.one("SELECT COUNT(*) AS n FROM \(table)")?["n"].int ?? 0 }) ?? 0
                if rows > 0 { found.append("\(name): \(rows) row(s) in \(table.split(separator: " ")[0])") }
            }
        }
        await database.close()
        return found
    }

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
                guard rename(legacy, target) == 0 else { throw FileFailure(legacy, "cannot move it into \(folder)", errno: errno) }
                try PrivateFile.narrow(target)
                created.append("\(target) (moved from \(legacy))")
            }
            // A key lost while its data stays is restored from a backup, never replaced by a new one unasked.
            let orphaned = try await orphans(ServiceKeys.missing(folder: folder), configuration)
            guard orphaned.isEmpty || newKeysForExistingData else {
                throw fail("keys are missing for data that exists: \(orphaned.joined(separator: "; ")). Restore them from a backup into \(folder); "
                           + "--new-keys-for-existing-data makes new ones and leaves that data unreadable")
            }
            created += try ServiceKeys.create(folder: folder)
            for other in [configuration.storage.checkpointFolder, configuration.storage.reviewFolder, configuration.storage.temporaryFolder] {
                try PrivateFile.makeFolder(other)
            }
        } catch let exit as ExitCode { throw exit } catch { throw fail("\(error)") }
        let publicKey: String
        do { publicKey = try AuditSigner(folder: folder).publicKey } catch { throw fail("\(error)") }
        // Opening the store migrates it and seals what earlier builds kept in clear; the first checkpoint is
        // signed at once, so an emptied log or checkpoint folder is caught from the start.
        try await withStore(store) { s, configuration in
            do {
                try await AuditLog.checkpoint(s.database, key: s.keys.audit, signer: try AuditSigner(folder: folder),
                                              folder: configuration.storage.checkpointFolder, at: s.clock.now())
            } catch let broken as StorageError where broken.code == .auditBroken {
                // Set-up goes on; the log is for an operator to look at.
                FileHandle.standardError.write(Data("tulga: warning: no checkpoint signed: \(broken.reason)\n".utf8))
            }
        }
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
        abstract: "Make a new evidence or outbox key; the old one stays, able to open what it sealed.",
        discussion: """
        Nothing is re-sealed yet: running nodes know only the key they started with. Restart every node, then run \
        `tulga secrets reseal`, which moves every row to the new key and removes the old one once nothing uses it.
        """)
    @Argument(help: "evidence or outbox.") var name: SealingKeyName
    @OptionGroup var store: StoreOptions
    func run() async throws {
        let configuration = try store.configuration()
        let key: SealingKey
        do { key = try SealingKey.rotate(folder: configuration.storage.keysFolder, name: name.rawValue) } catch { throw fail("\(error)") }
        print("new \(name.rawValue) key \(key.keyID); the old one (\(key.retiredIDs.joined(separator: ", "))) stays readable")
        print("restart every node, then run tulga secrets reseal")
    }
}

struct SecretsReseal: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reseal",
        abstract: "Move every row under a retired key to the current one, then remove each retired key nothing uses any more.",
        discussion: "Refused for a key while a running node still works with an older one (exit 1): restart it first.")
    @OptionGroup var store: StoreOptions
    func run() async throws {
        var complete = true
        try await withStore(store) { s, _ in
            for name in SealingKeyName.allCases {
                let key = name == .evidence ? s.keys.evidence : s.keys.outbox
                let behind = try await KeyUse.nodesBehind(s.database, name: name.rawValue, current: key.keyID, at: s.clock.now())
                guard behind.isEmpty else {
                    complete = false
                    for (node, ago) in behind { print("\(name.rawValue): node \(node) (heard from \(Int(ago)) s ago) still runs with an older key; restart it first") }
                    continue
                }
                var moved = 0, failed: [String] = [], remaining = 0
                for spec in sealedColumns(name) {
                    let outcome = try await Reseal.run(s.database, key: key, spec)
                    moved += outcome.moved
                    failed += outcome.failed
                    remaining += try await Reseal.remaining(s.database, keyID: key.keyID, spec)
                }
                // An API key's lookup moves to the new key only when the key is next used.
                let lookups = name == .evidence ? try await s.apiKeys.lookupsNotUnder(key.keyID) : 0
                print("\(name.rawValue): re-sealed \(moved) row(s)")
                for row in failed { print("\(name.rawValue): \(row) does not open (altered, or sealed with a key no longer here); left as it is") }
                for id in key.retiredIDs {
                    if remaining == 0 && lookups == 0 {
                        do { try key.dropRetired(id) } catch { throw fail("\(error)") }
                        print("\(name.rawValue): removed retired key \(id)")
                    } else {
                        complete = false
                        print("\(name.rawValue): kept retired key \(id): \(remaining) row(s) and \(lookups) API key(s) not yet moved (API keys move on their next use, or rotate them)")
                    }
                }
            }
        }
        if !complete { throw ExitCode(1) }
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
    @Option(help: "The audit-signing public key, base64 (default: storage.auditPublicKey, else the keys folder's audit-signing.key).") var publicKey: String?
    @OptionGroup var store: StoreOptions

    func run() async throws {
        var intact = true
        let configuration = try store.configuration()
        let folder = checkpoints ?? configuration.storage.checkpointFolder
        var check: CheckpointCheck?
        if checkpoints != nil, !FileManager.default.fileExists(atPath: folder) { throw fail("no checkpoint folder \(folder)") }
        if FileManager.default.fileExists(atPath: folder) {
            let pinned = configuration.storage.auditPublicKey.isEmpty ? nil : configuration.storage.auditPublicKey
            guard let trusted = publicKey ?? pinned ?? (try? AuditSigner(folder: configuration.storage.keysFolder))?.publicKey else {
                throw fail("checking checkpoints needs the audit-signing public key: give --public-key or keep audit-signing.key in the keys folder")
            }
            check = CheckpointCheck(folder: folder, publicKey: trusted)
        }
        try await withStore(store) { s, _ in
            let result: AuditVerification
            do { result = try await s.verifyAudit(checkpoints: check) } catch let failure as FileFailure { throw fail("\(failure)") }
            intact = result.intact
            if store.common.json { try printJSON(result) } else if result.intact {
                print("audit log intact: \(result.rows) rows, \(result.checkpoints) checkpoint(s) agree")
                // Only a checkpoint shows that the newest rows were not removed.
                if let newest = result.newestCheckpoint {
                    if newest < result.rows { print("\(result.rows - newest) row(s) after the newest checkpoint (row \(newest)) are vouched for by none yet") }
                    let age = s.clock.now() - (result.newestCheckpointAt ?? 0), due = 2 * configuration.background.checkpointMinutes * 60
                    if newest < result.rows, due > 0, age > due { print("the newest checkpoint is \(Int(age / 60)) minutes old: is tulga serve writing them?") }
                } else {
                    print("no checkpoints: removing the newest rows cannot be detected (tulga audit checkpoint; tulga serve writes them)")
                }
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
            do { made = try await AuditLog.checkpoint(s.database, key: s.keys.audit, signer: signer, folder: folder, at: s.clock.now()) }
            catch let failure as FileFailure { throw fail("\(failure)") }
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
