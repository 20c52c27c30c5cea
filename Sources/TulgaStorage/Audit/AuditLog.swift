import Foundation
import TulgaCrypto

/// The append-only, hash-chained audit log. Each row's hash covers the previous row's hash and
/// its own fields; `audit_head` holds the last sequence number and hash, so deleting the newest
/// rows is detected too. Every module appends inside its own transaction.
///
/// ```swift
/// try AuditLog.append(db, at: now, actor: "policy", action: "attempt.fail", subject: id, detail: "")
/// ```
public enum AuditLog {
    /// The audit tables, as released in v1.
    ///
    /// - Parameter migrator: the migrator to add `audit.v1` to.
    public static func register(_ migrator: inout Migrator) {
        migrator.registerMigration("audit.v1", replaces: ["v1-core"], [
            """
            CREATE TABLE audit (
              seq {INT} PRIMARY KEY, at {REAL} NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL, subject TEXT NOT NULL,
              detail TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL)
            """,
            "CREATE TABLE audit_head (id {INT} PRIMARY KEY, seq {INT} NOT NULL, hash TEXT NOT NULL)",
        ])
    }

    static let genesis = String(repeating: "0", count: 64)

    static func digest(prev: String, seq: Int, at: Double, actor: String, action: String, subject: String, detail: String) -> String {
        let fields = [prev, String(seq), String(format: "%.6f", at), actor, action, subject, detail]
        return sha256Hex(fields.map { "\($0.utf8.count):\($0)" }.joined(separator: "|"))
    }

    /// Appends a row inside the caller's transaction.
    ///
    /// - Parameters:
    ///   - db: the caller's transaction.
    ///   - at: the injected clock's time.
    ///   - actor: `policy`, `applicant:<IIN>`, `moderator:<id>`, `operator:<id>`, …
    ///   - action: `module.verb`.
    ///   - subject: the record the row is about, e.g. an attempt or case id.
    ///   - detail: free text; may be empty.
    /// - Throws: ``DatabaseFailure`` if a statement fails; the caller's transaction then rolls back.
    public static func append(_ db: any SQLSession, at: Double, actor: String, action: String, subject: String, detail: String) throws {
        try db.lock("audit")
        let head = try db.one("SELECT seq, hash FROM audit_head WHERE id = 1")
        let seq = (head?["seq"].int ?? 0) + 1
        let prev = head?["hash"].text ?? genesis
        let hash = digest(prev: prev, seq: seq, at: at, actor: actor, action: action, subject: subject, detail: detail)
        try db.execute("INSERT INTO audit (seq, at, actor, action, subject, detail, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                       [.int(Int64(seq)), .double(at), .text(actor), .text(action), .text(subject), .text(detail), .text(prev), .text(hash)])
        if head == nil {
            try db.execute("INSERT INTO audit_head (id, seq, hash) VALUES (1, ?, ?)", [.int(Int64(seq)), .text(hash)])
        } else {
            try db.execute("UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1", [.int(Int64(seq)), .text(hash)])
        }
    }

    /// Recomputes the whole chain.
    ///
    /// - Parameter database: the database holding the log.
    /// - Returns: Whether the chain is intact and, if not, the first broken row and why; a row that no
    ///   longer decodes is reported as edited, not thrown.
    /// - Throws: ``DatabaseFailure`` from the database.
    public static func verify(_ database: any SQLDatabase) async throws -> AuditVerification {
        try await database.transaction { db in
            // A row whose values no longer decode was tampered with: report it, never fail the check.
            let rows = try db.query("SELECT * FROM audit ORDER BY seq", [])
            let head = try db.one("SELECT seq, hash FROM audit_head WHERE id = 1")
            var prev = genesis
            for (index, row) in rows.enumerated() {
                let seq = row["seq"].int ?? -1
                func broken(_ why: String) -> AuditVerification {
                    AuditVerification(rows: rows.count, intact: false, brokenAt: seq, problem: why)
                }
                if seq != index + 1 { return broken("row \(index + 1) is missing") }
                guard let entry = try? AuditEntry(row: row) else { return broken("row \(seq) was edited (a value has the wrong type)") }
                if row["prev_hash"].text != prev { return broken("row \(seq) does not follow the previous row's hash") }
                let hash = digest(prev: prev, seq: seq, at: entry.at, actor: entry.actor, action: entry.action, subject: entry.subject,
                                  detail: entry.detail)
                if hash != row["hash"].text { return broken("row \(seq) was edited") }
                prev = hash
            }
            let headSeq = head?["seq"].int ?? 0
            if headSeq != rows.count || (head?["hash"].text ?? genesis) != prev {
                return AuditVerification(rows: rows.count, intact: false, brokenAt: rows.count + 1,
                                         problem: "the log ends at row \(rows.count) but its head says \(headSeq): rows were deleted")
            }
            return AuditVerification(rows: rows.count, intact: true, brokenAt: nil, problem: nil)
        }
    }

    /// Rows in order, for one subject or all.
    ///
    /// - Parameters:
    ///   - database: the database holding the log.
    ///   - subject: only rows about this record; `nil` for all.
    /// - Returns: The rows in sequence order.
    /// - Throws: ``DatabaseFailure`` from the database; ``StorageError`` `.damagedRow` if a row cannot be read.
    public static func entries(_ database: any SQLDatabase, subject: String? = nil) async throws -> [AuditEntry] {
        try await database.transaction { db in
            let rows = try subject.map { try db.query("SELECT * FROM audit WHERE subject = ? ORDER BY seq", [.text($0)]) }
                ?? db.query("SELECT * FROM audit ORDER BY seq", [])
            return try rows.map(AuditEntry.init(row:))
        }
    }
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
    /// Whether every row and the head check out.
    public var intact: Bool
    /// The first sequence number where the chain breaks, and why.
    public var brokenAt: Int?
    /// What is wrong, in words; `nil` when intact.
    public var problem: String?
}
