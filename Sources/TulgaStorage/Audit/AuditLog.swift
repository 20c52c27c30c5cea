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
    /// - Parameters:
    ///   - at: the injected clock's time.
    ///   - actor: `policy`, `applicant:<IIN>`, `moderator:<id>`, `operator:<id>`, …
    ///   - action: `module.verb`.
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
    public static func verify(_ database: any SQLDatabase) async throws -> AuditVerification {
        try await database.transaction { db in
            let rows = try db.query("SELECT * FROM audit ORDER BY seq", []).map(AuditEntry.init(row:))
            let stored = try db.query("SELECT prev_hash, hash FROM audit ORDER BY seq", [])
            let head = try db.one("SELECT seq, hash FROM audit_head WHERE id = 1")
            var prev = genesis
            for (index, (entry, hashes)) in zip(rows, stored).enumerated() {
                func broken(_ why: String) -> AuditVerification {
                    AuditVerification(rows: rows.count, intact: false, brokenAt: entry.seq, problem: why)
                }
                if entry.seq != index + 1 { return broken("row \(index + 1) is missing") }
                if hashes["prev_hash"].text != prev { return broken("row \(entry.seq) does not follow the previous row's hash") }
                let hash = digest(prev: prev, seq: entry.seq, at: entry.at, actor: entry.actor, action: entry.action, subject: entry.subject,
                                  detail: entry.detail)
                if hash != hashes["hash"].text { return broken("row \(entry.seq) was edited") }
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
    public var seq: Int
    public var at: Double
    public var actor: String
    public var action: String
    public var subject: String
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
    public var rows: Int
    public var intact: Bool
    /// The first sequence number where the chain breaks, and why.
    public var brokenAt: Int?
    public var problem: String?
}
