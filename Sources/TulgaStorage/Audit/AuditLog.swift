public import Foundation
public import TulgaCrypto
import TulgaCore

/// The append-only audit log, chained with a key the database does not hold, and anchored by
/// signed checkpoints kept outside it.
///
/// Each row's MAC is HMAC-SHA-256, under the audit key, of the previous row's MAC and its own
/// fields; `audit_log_head` holds the last sequence number and MAC. Whoever can write the database
/// but lacks the key cannot edit, insert or recompute a row. Deleting the newest rows and setting
/// the head back is caught by a checkpoint: `tulga audit checkpoint` (and `tulga serve` on a
/// schedule) signs (sequence, MAC, time) with the Ed25519 audit-signing key into a write-once folder,
/// and ``verify(_:key:checkpoints:)`` checks that every checkpoint is a prefix of the log. Rows from
/// before the key (`audit`, SHA-256 chained) stay; the first keyed row's MAC covers their last hash.
///
/// ```swift
/// try AuditLog.append(db, at: now, actor: "policy", action: "attempt.fail", subject: id, detail: "")
/// let checkpoint = try await AuditLog.checkpoint(database, key: keys.audit, signer: signer, folder: "var/audit-checkpoints", at: now)
/// ```
public enum AuditLog {
    /// The audit tables: the SHA-256 chain released in v1, then the keyed chain.
    ///
    /// - Parameter migrator: the migrator to add `audit.v1` and `audit.v2` to.
    public static func register(_ migrator: inout Migrator) {
        migrator.registerMigration("audit.v1", replaces: ["v1-core"], [
            """
            CREATE TABLE audit (
              seq {INT} PRIMARY KEY, at {REAL} NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL, subject TEXT NOT NULL,
              detail TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL)
            """,
            "CREATE TABLE audit_head (id {INT} PRIMARY KEY, seq {INT} NOT NULL, hash TEXT NOT NULL)",
        ])
        migrator.registerMigration("audit.v2", [
            """
            CREATE TABLE audit_log (
              seq {INT} PRIMARY KEY, at {REAL} NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL, subject TEXT NOT NULL,
              detail TEXT NOT NULL, mac TEXT NOT NULL)
            """,
            "CREATE TABLE audit_log_head (id {INT} PRIMARY KEY, seq {INT} NOT NULL, mac TEXT NOT NULL)",
            "CREATE INDEX audit_log_subject ON audit_log(subject)",
        ]) { context in
            // The keyed log's first row, written once in this transaction: its MAC covers the earlier
            // rows' last hash, and a keyed log without it was emptied.
            let (count, hash) = try legacyHead(context.db)
            try append(context.db, at: context.now, actor: "tulga", action: anchorAction, subject: "audit",
                       detail: "continues \(count) earlier row(s) ending \(hash)")
        }
    }

    /// The action of the keyed log's first row.
    public static let anchorAction = "audit.keyed"

    static let genesis = String(repeating: "0", count: 64)
    enum HeadColumns: String { case mac, hash }

    static func fields(prev: String, seq: Int, at: Double, actor: String, action: String, subject: String, detail: String) -> Data {
        let fields = [prev, String(seq), String(format: "%.6f", at), actor, action, subject, detail]
        return Data(fields.map { "\($0.utf8.count):\($0)" }.joined(separator: "|").utf8)
    }


    /// Appends a row inside the caller's transaction, chained with the transaction's audit key.
    ///
    /// - Parameters:
    ///   - db: the caller's transaction, from a ``KeyedDatabase``.
    ///   - at: the injected clock's time.
    ///   - actor: `policy`, `applicant:<IIN>`, `moderator:<id>`, `operator:<id>`, …
    ///   - action: `module.verb`.
    ///   - subject: the record the row is about, e.g. an attempt or case id.
    ///   - detail: free text; may be empty.
    /// - Throws: ``DatabaseFailure`` if a statement fails or the transaction has no audit key; the
    ///   caller's transaction then rolls back.
    public static func append(_ db: any SQLSession, at: Double, actor: String, action: String, subject: String, detail: String) throws {
        guard let key = db.auditKey else { throw DatabaseFailure("no audit key: open the database through KeyedDatabase") }
        try db.lock("audit")
        let head = try db.one("SELECT seq, mac FROM audit_log_head WHERE id = 1")
        let (lastSeq, prev) = try head.map { ($0["seq"].int ?? 0, try $0.text(HeadColumns.mac)) } ?? legacyHead(db)
        let seq = lastSeq + 1
        let mac = key.mac(fields(prev: prev, seq: seq, at: at, actor: actor, action: action, subject: subject, detail: detail))
        try db.execute("INSERT INTO audit_log (seq, at, actor, action, subject, detail, mac) VALUES (?, ?, ?, ?, ?, ?, ?)",
                       [.int(Int64(seq)), .double(at), .text(actor), .text(action), .text(subject), .text(detail), .text(mac)])
        if head == nil {
            try db.execute("INSERT INTO audit_log_head (id, seq, mac) VALUES (1, ?, ?)", [.int(Int64(seq)), .text(mac)])
        } else {
            try db.execute("UPDATE audit_log_head SET seq = ?, mac = ? WHERE id = 1", [.int(Int64(seq)), .text(mac)])
        }
    }

    /// Where the keyed chain starts: after the v1 rows, from their last hash.
    static func legacyHead(_ db: any SQLSession) throws -> (Int, String) {
        guard let head = try db.one("SELECT seq, hash FROM audit_head WHERE id = 1") else { return (0, genesis) }
        return (head["seq"].int ?? 0, try head.text(HeadColumns.hash))
    }

    /// Recomputes the whole chain with `key` and, when given, checks the checkpoints against it.
    ///
    /// - Parameters:
    ///   - database: the database holding the log.
    ///   - key: the audit key.
    ///   - checkpoints: the checkpoint folder and the public key they must be signed with.
    /// - Returns: Whether the chain is intact and, if not, the first broken row and why; a row that no
    ///   longer decodes is reported as edited, not thrown.
    /// - Throws: ``DatabaseFailure`` from the database.
    public static func verify(_ database: any SQLDatabase, key: AuditKey, checkpoints: CheckpointCheck? = nil) async throws -> AuditVerification {
        let found = try checkpoints.map { try AuditCheckpoint.load(folder: $0.folder) } ?? []
        return try await database.transaction { db in
            try db.lock("audit")   // appends wait, so the rows and the head are read as one
            var result = try verifyChain(db, key: key)
            result.checkpoints = found.count
            result.newestCheckpoint = found.compactMap { $0.1?.seq }.max()
            result.newestCheckpointAt = found.compactMap { $0.1 }.max { $0.seq < $1.seq }?.at
            guard result.intact, let checkpoints else { return result }
            // `tulga init` signs the first checkpoint, and a database writer cannot remove files: an empty folder was emptied.
            if found.isEmpty && result.rows > 0 {
                return AuditVerification(rows: result.rows, intact: false, brokenAt: nil,
                                         problem: "the checkpoint folder \(checkpoints.folder) holds no checkpoint although the log has rows", checkpoints: 0)
            }
            for (file, checkpoint) in found {
                func broken(_ why: String, at seq: Int?) -> AuditVerification {
                    AuditVerification(rows: result.rows, intact: false, brokenAt: seq, problem: why, checkpoints: found.count)
                }
                guard let checkpoint else { return broken("checkpoint \(file) cannot be read", at: nil) }
                guard checkpoint.isSigned(by: checkpoints.publicKey) else {
                    return broken("checkpoint \(file) is not signed by the audit-signing key", at: nil)
                }
                guard checkpoint.seq <= result.rows else {
                    return broken("the log ends at row \(result.rows) but checkpoint \(file) saw row \(checkpoint.seq): rows were removed",
                                  at: result.rows + 1)
                }
                let mac = try db.one("SELECT mac FROM audit_log WHERE seq = ?", [.int(Int64(checkpoint.seq))])?["mac"].text
                    ?? db.one("SELECT hash FROM audit WHERE seq = ?", [.int(Int64(checkpoint.seq))])?["hash"].text
                guard mac == checkpoint.mac else {
                    return broken("row \(checkpoint.seq) differs from checkpoint \(file): the log was rewritten", at: checkpoint.seq)
                }
            }
            return result
        }
    }

    /// Recomputes the chain, from the start or from a row already vouched for (a checkpoint's).
    static func verifyChain(_ db: any SQLSession, key: AuditKey, after start: (seq: Int, mac: String)? = nil) throws -> AuditVerification {
        // A row whose values no longer decode was tampered with: report it, never fail the check.
        var prev = start?.mac ?? genesis, count = start?.seq ?? 0
        func broken(_ seq: Int, _ why: String) -> AuditVerification {
            AuditVerification(rows: count, intact: false, brokenAt: seq, problem: why)
        }
        let tables = start == nil ? [("audit", "hash", false), ("audit_log", "mac", true)] : [("audit_log", "mac", true)]
        for (table, chain, keyed) in tables {
            let before = count
            let rows = try db.query("SELECT * FROM \(table) WHERE seq > ? ORDER BY seq", [.int(Int64(count))])
            if keyed, start == nil, rows.first?["action"].text != anchorAction {
                return broken(count + 1, "the keyed log does not start with its first row (\(anchorAction)): rows were removed")
            }
            for row in rows {
                count += 1
                let seq = row["seq"].int ?? -1
                if seq != count { return broken(seq, "row \(count) is missing") }
                guard let entry = try? AuditEntry(row: row) else { return broken(seq, "row \(seq) was edited (a value has the wrong type)") }
                if !keyed, row["prev_hash"].text != prev { return broken(seq, "row \(seq) does not follow the previous row's hash") }
                let content = fields(prev: prev, seq: seq, at: entry.at, actor: entry.actor, action: entry.action, subject: entry.subject,
                                     detail: entry.detail)
                let expected = keyed ? key.mac(content) : sha256Hex(content)
                guard let stored = row[chain].text, constantTimeEquals(stored, expected) else { return broken(seq, "row \(seq) was edited") }
                prev = expected
            }
            // The head holds the last row; setting it back after deleting rows is caught here or by a checkpoint.
            let head = try db.one("SELECT seq, \(chain) FROM \(table)_head WHERE id = 1")
            let headSeq = head?["seq"].int ?? 0
            if let head, headSeq != count || head[chain].text != prev {
                return AuditVerification(rows: count, intact: false, brokenAt: count + 1,
                                         problem: "the log ends at row \(count) but its head says \(headSeq): rows were deleted")
            }
            if head == nil && count > before {
                return AuditVerification(rows: count, intact: false, brokenAt: count + 1, problem: "the log's head is missing")
            }
        }
        // A row outside the sequence (seq 0, negative, a duplicate the loop never reached) is in no chain.
        let stored = try ["audit", "audit_log"].reduce(0) { $0 + (try db.one("SELECT COUNT(*) AS n FROM \($1)")?["n"].int ?? 0) }
        if stored != count {
            return AuditVerification(rows: count, intact: false, brokenAt: nil,
                                     problem: "the tables hold \(stored) rows but the chain \(count): rows were inserted outside it")
        }
        return AuditVerification(rows: count, intact: true, brokenAt: nil, problem: nil)
    }

    /// Signs the log's head into `folder` as `checkpoint-<seq>.json` (created once, never replaced).
    ///
    /// - Parameters:
    ///   - database: the database holding the log.
    ///   - key: the audit key, to check the rows before signing over them.
    ///   - signer: the audit-signing key.
    ///   - folder: the write-once folder (created 0700 if missing).
    ///   - now: the injected clock's time.
    /// - Returns: The new checkpoint, or `nil` when the log is empty or its head has one already.
    /// - Throws: ``StorageError`` `.auditBroken` when the rows since the last checkpoint do not verify; ``DatabaseFailure``;
    ///   ``FileFailure`` if the file cannot be written; `CryptoFailure`.
    @discardableResult
    public static func checkpoint(_ database: any SQLDatabase, key: AuditKey, signer: AuditSigner, folder: String,
                                  at now: Double) async throws -> AuditCheckpoint? {
        try PrivateFile.makeFolder(folder)
        // The rows after the newest checkpoint this key signed are checked before anything is signed over them,
        // so a head set by hand is never vouched for (the whole chain when there is none).
        let trusted = try AuditCheckpoint.newest(in: folder, signedBy: signer.publicKey)
        let head = try await database.transaction { db -> (Int, String)? in
            try db.lock("audit")   // appends wait: the head signed is the head verified
            var start: (seq: Int, mac: String)?
            let last = try db.one("SELECT seq FROM audit_log_head WHERE id = 1")?["seq"].int ?? 0
            if let trusted, trusted.seq > last {
                throw StorageError(.auditBroken, "the log ends at row \(last) but a checkpoint saw row \(trusted.seq): run tulga audit verify")
            }
            if let trusted, let row = try db.one("SELECT mac FROM audit_log WHERE seq = ?", [.int(Int64(trusted.seq))]) {
                guard row["mac"].text == trusted.mac else {
                    throw StorageError(.auditBroken, "row \(trusted.seq) differs from its checkpoint: run tulga audit verify")
                }
                start = (trusted.seq, trusted.mac)
            }
            let check = try verifyChain(db, key: key, after: start)
            guard check.intact else { throw StorageError(.auditBroken, "the audit log does not verify (\(check.problem ?? "")): nothing signed") }
            guard let row = try db.one("SELECT seq, mac FROM audit_log_head WHERE id = 1") else { return nil }
            return (row["seq"].int ?? 0, try row.text(HeadColumns.mac))
        }
        guard let (seq, mac) = head else { return nil }
        let path = AuditCheckpoint.path(folder, seq)
        guard PrivateFile.mode(path) == nil else { return nil }
        let checkpoint = try AuditCheckpoint(seq: seq, mac: mac, at: now, signer: signer)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        do { try PrivateFile.create(path, try encoder.encode(checkpoint), mode: 0o644) } catch let failure as FileFailure {
            if PrivateFile.mode(path) != nil { return nil }   // another node wrote this sequence first
            throw failure
        }
        return checkpoint
    }

    /// Rows in order, for one subject or all: the v1 rows, then the keyed ones.
    ///
    /// - Parameters:
    ///   - database: the database holding the log.
    ///   - subject: only rows about this record; `nil` for all.
    /// - Returns: The rows in sequence order.
    /// - Throws: ``DatabaseFailure`` from the database; ``StorageError`` `.damagedRow` if a row cannot be read.
    public static func entries(_ database: any SQLDatabase, subject: String? = nil) async throws -> [AuditEntry] {
        try await database.transaction { db in
            try ["audit", "audit_log"].flatMap { table in
                let rows = try subject.map { try db.query("SELECT * FROM \(table) WHERE subject = ? ORDER BY seq", [.text($0)]) }
                    ?? db.query("SELECT * FROM \(table) ORDER BY seq", [])
                return try rows.map(AuditEntry.init(row:))
            }
        }
    }
}

/// A signed statement that the audit log had `seq` rows ending in `mac` at `at`.
public struct AuditCheckpoint: Sendable, Hashable, Codable {
    /// The last row's sequence number.
    public var seq: Int
    /// Its MAC (or, before the keyed chain, its hash).
    public var mac: String
    /// When it was signed, in seconds since 1970.
    public var at: Double
    /// The signer's Ed25519 public key, base64 (informational: verification uses the trusted key).
    public var publicKey: String
    /// The Ed25519 signature of ``message``, base64.
    public var signature: String

    init(seq: Int, mac: String, at: Double, signer: AuditSigner) throws {
        (self.seq, self.mac, self.at, publicKey, signature) = (seq, mac, at, signer.publicKey, "")
        signature = try signer.sign(message)
    }

    /// What is signed.
    var message: Data { Data("tulga audit checkpoint v1\n\(seq)\n\(mac)\n\(String(format: "%.6f", at))\n".utf8) }

    func isSigned(by trusted: String) -> Bool { AuditSigner.verify(signature, of: message, publicKey: trusted) }

    static func path(_ folder: String, _ seq: Int) -> String {
        (folder as NSString).appendingPathComponent(String(format: "checkpoint-%012d.json", seq))
    }

    /// Every `checkpoint-*.json` in `folder`, by name; `nil` for one that cannot be read.
    static func load(folder: String) throws -> [(String, AuditCheckpoint?)] {
        try names(folder).map { ($0, read(folder, $0)) }
    }

    /// The newest checkpoint `publicKey` signed, reading from the newest name back (names sort by sequence),
    /// so a scheduled pass reads one file, not the whole folder.
    static func newest(in folder: String, signedBy publicKey: String) throws -> AuditCheckpoint? {
        for name in try names(folder).reversed() {
            if let checkpoint = read(folder, name), checkpoint.isSigned(by: publicKey) { return checkpoint }
        }
        return nil
    }

    static func names(_ folder: String) throws -> [String] {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder), isFolder.boolValue else {
            throw FileFailure(folder, "is not a checkpoint folder")
        }
        return ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [])
            .filter { $0.hasPrefix("checkpoint-") && $0.hasSuffix(".json") }.sorted()
    }

    static func read(_ folder: String, _ name: String) -> AuditCheckpoint? {
        let data = (try? PrivateFile.read((folder as NSString).appendingPathComponent(name), limit: 64 << 10)) ?? nil
        return data.flatMap { try? JSONDecoder().decode(AuditCheckpoint.self, from: $0) }
    }
}

/// Where checkpoints are and the key they must carry a signature of.
public struct CheckpointCheck: Sendable, Hashable {
    /// The checkpoint folder.
    public var folder: String
    /// The audit-signing public key, base64.
    public var publicKey: String
    /// - Parameters:
    ///   - folder: the checkpoint folder.
    ///   - publicKey: the trusted audit-signing public key, base64.
    public init(folder: String, publicKey: String) { (self.folder, self.publicKey) = (folder, publicKey) }
}

/// One audit row as stored.
public struct AuditEntry: Sendable, Hashable, Codable {
    /// The row's position in the chain, from 1.
    public var seq: Int
    /// When it was appended, in seconds since 1970.
    public var at: Double
    /// Who acted: `policy`, `applicant:<IIN>`, `moderator:<id>`, `operator:<id>`, …
    public var actor: String
    /// What was done, as `module.verb`.
    public var action: String
    /// The record the row is about.
    public var subject: String
    /// Free text; may be empty.
    public var detail: String

    enum Columns: String { case seq, at, actor, action, subject, detail }

    init(row: SQLRow) throws {
        (seq, at) = (try row.int(Columns.seq), try row.double(Columns.at))
        (actor, action) = (try row.text(Columns.actor), try row.text(Columns.action))
        (subject, detail) = (try row.text(Columns.subject), try row.text(Columns.detail))
    }
}

/// What `AuditLog.verify` found.
public struct AuditVerification: Sendable, Hashable, Codable {
    /// How many rows the log holds.
    public var rows: Int
    /// Whether every row, the head and every checkpoint check out.
    public var intact: Bool
    /// The first sequence number where the chain breaks, and why.
    public var brokenAt: Int?
    /// What is wrong, in words; `nil` when intact.
    public var problem: String?
    /// How many checkpoints were checked.
    public var checkpoints = 0
    /// The newest checkpoint's row: rows after it could be removed unseen until the next one.
    public var newestCheckpoint: Int?
    /// When the newest checkpoint was signed, in seconds since 1970.
    public var newestCheckpointAt: Double?
}
