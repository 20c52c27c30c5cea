internal import Foundation
internal import TulgaCrypto

/// The append-only, hash-chained audit log. Each row's hash covers the previous row's hash
/// and its own fields; `audit_head` holds the last sequence number and hash, so deleting the
/// newest rows is detected too.
enum Audit {
    static let genesis = String(repeating: "0", count: 64)

    static func digest(prev: String, seq: Int, at: Double, actor: String, action: String, subject: String, detail: String) -> String {
        let fields = [prev, String(seq), String(format: "%.6f", at), actor, action, subject, detail]
        return sha256Hex(fields.map { "\($0.utf8.count):\($0)" }.joined(separator: "|"))
    }

    static func append(_ db: any SQLSession, at: Double, actor: String, action: String, subject: String, detail: String) throws {
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
}

/// One audit row as stored.
public struct AuditEntry: Sendable, Hashable, Codable {
    public var seq: Int
    public var at: Double
    public var actor: String
    public var action: String
    public var subject: String
    public var detail: String
}

extension Store {
    /// Appends an audit row inside a transaction of another module's.
    public static func appendAudit(_ db: any SQLSession, at: Double, actor: String, action: String, subject: String, detail: String) throws {
        try Audit.append(db, at: at, actor: actor, action: action, subject: subject, detail: detail)
    }

    /// Puts an SMS in the outbox inside a transaction of another module's.
    public static func enqueueSMS(_ db: any SQLSession, iin: String, phone: String?, language: String, body: String, at: Double) throws {
        let id = "sms-" + hex((try? randomBytes(10)) ?? [])
        try db.execute("INSERT INTO outbox (id, iin, phone, language, body, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                       [.text(id), .text(iin), SQLValue(phone), .text(language), .text(body), .double(at)])
    }

    /// Recomputes the whole chain.
    public func verifyAudit() async throws -> AuditVerification {
        try await database.transaction { db in
            let rows = try db.query("SELECT * FROM audit ORDER BY seq", [])
            let head = try db.one("SELECT seq, hash FROM audit_head WHERE id = 1")
            var prev = Audit.genesis
            var expectedSeq = 1
            for row in rows {
                let seq = row["seq"].int ?? -1
                func broken(_ why: String) -> AuditVerification {
                    AuditVerification(rows: rows.count, intact: false, brokenAt: seq, problem: why)
                }
                if seq != expectedSeq { return broken("row \(expectedSeq) is missing") }
                if row["prev_hash"].text != prev { return broken("row \(seq) does not follow the previous row's hash") }
                let hash = Audit.digest(prev: prev, seq: seq, at: row["at"].double ?? 0, actor: row["actor"].text ?? "",
                                        action: row["action"].text ?? "", subject: row["subject"].text ?? "", detail: row["detail"].text ?? "")
                if hash != row["hash"].text { return broken("row \(seq) was edited") }
                prev = hash
                expectedSeq += 1
            }
            let headSeq = head?["seq"].int ?? 0
            if headSeq != rows.count || (head?["hash"].text ?? Audit.genesis) != prev {
                return AuditVerification(rows: rows.count, intact: false, brokenAt: rows.count + 1,
                                         problem: "the log ends at row \(rows.count) but its head says \(headSeq): rows were deleted")
            }
            return AuditVerification(rows: rows.count, intact: true, brokenAt: nil, problem: nil)
        }
    }

    public func auditEntries(subject: String? = nil) async throws -> [AuditEntry] {
        try await database.transaction { db in
            let rows = try subject.map { try db.query("SELECT * FROM audit WHERE subject = ? ORDER BY seq", [.text($0)]) }
                ?? db.query("SELECT * FROM audit ORDER BY seq", [])
            return rows.map {
                AuditEntry(seq: $0["seq"].int ?? 0, at: $0["at"].double ?? 0, actor: $0["actor"].text ?? "", action: $0["action"].text ?? "",
                           subject: $0["subject"].text ?? "", detail: $0["detail"].text ?? "")
            }
        }
    }
}
