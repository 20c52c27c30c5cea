import Foundation
public import TulgaCore
import TulgaCrypto

/// SMS messages waiting for the gateway. Modules put a catalogue ``Message`` in the outbox
/// inside their own transaction; it is rendered in the applicant's language there.
public enum Outbox {
    /// The outbox table, as released in v1.
    public static func register(_ migrator: inout Migrator) {
        migrator.registerMigration("outbox.v1", replaces: ["v1-core"], [
            """
            CREATE TABLE outbox (
              id TEXT PRIMARY KEY, iin TEXT NOT NULL, phone TEXT, language TEXT NOT NULL, body TEXT NOT NULL,
              created_at {REAL} NOT NULL, sent_at {REAL})
            """,
        ])
    }

    /// Queues `message` for `iin` inside the caller's transaction.
    /// - Parameters:
    ///   - phone: where it goes, when known.
    ///   - language: the applicant's language.
    public static func enqueue(_ db: any SQLSession, iin: String, phone: String?, language: Language, message: Message, at: Double) throws {
        let id = "sms-" + hex(try randomBytes(10))
        try db.execute("INSERT INTO outbox (id, iin, phone, language, body, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                       [.text(id), .text(iin), SQLValue(phone), .text(language.rawValue), .text(message.text(language)), .double(at)])
    }

    /// Every message (for one IIN, or all), oldest first.
    public static func messages(_ database: any SQLDatabase, iin: String? = nil) async throws -> [OutboxMessage] {
        try await database.transaction { db in
            let rows = try iin.map { try db.query("SELECT * FROM outbox WHERE iin = ? ORDER BY created_at, id", [.text($0)]) }
                ?? db.query("SELECT * FROM outbox ORDER BY created_at, id", [])
            return try rows.map(OutboxMessage.init(row:))
        }
    }

    /// Pending messages for the SMS gateway, marked sent in the same transaction.
    public static func takePending(_ database: any SQLDatabase, at now: Double) async throws -> [OutboxMessage] {
        try await database.transaction { db in
            try db.lock("outbox")
            let rows = try db.query("SELECT * FROM outbox WHERE sent_at IS NULL ORDER BY created_at, id", [])
            try db.execute("UPDATE outbox SET sent_at = ? WHERE sent_at IS NULL", [.double(now)])
            return try rows.map(OutboxMessage.init(row:))
        }
    }
}

/// One queued SMS.
public struct OutboxMessage: Sendable, Hashable, Codable {
    public var id: String
    public var iin: String
    public var phone: String?
    public var language: String
    public var body: String
    public var createdAt: Double

    enum Columns: String { case id, iin, phone, language, body, createdAt = "created_at" }

    init(row: SQLRow) throws {
        (id, iin, phone) = (try row.text(Columns.id), try row.text(Columns.iin), try row.optionalText(Columns.phone))
        (language, body, createdAt) = (try row.text(Columns.language), try row.text(Columns.body), try row.double(Columns.createdAt))
    }
}
