import Foundation
public import TulgaCore
import TulgaCrypto

/// SMS messages waiting for the gateway. Modules put a catalogue ``Message`` in the outbox
/// inside their own transaction; it is rendered in the applicant's language there.
///
/// ```swift
/// try await database.transaction { db in
///     try Outbox.enqueue(db, iin: iin, phone: phone, language: .kk, message: Message(.smsCode, ["code": code]), at: now)
/// }
/// let pending = try await Outbox.pending(database)   // write them out, then:
/// try await Outbox.markSent(database, ids: pending.map(\.id), at: now)
/// ```
public enum Outbox {
    /// The outbox table, as released in v1.
    ///
    /// - Parameter migrator: the migrator to add `outbox.v1` to.
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
    ///
    /// - Parameters:
    ///   - db: the caller's transaction.
    ///   - iin: the applicant's IIN.
    ///   - phone: where it goes, when known.
    ///   - language: the applicant's language.
    ///   - message: the catalogue entry, rendered here in `language`.
    ///   - at: the injected clock's time.
    /// - Throws: `CryptoFailure` if the CSPRNG fails; ``DatabaseFailure`` if the insert fails.
    public static func enqueue(_ db: any SQLSession, iin: String, phone: String?, language: Language, message: Message, at: Double) throws {
        let id = "sms-" + hex(try randomBytes(10))
        try db.execute("INSERT INTO outbox (id, iin, phone, language, body, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                       [.text(id), .text(iin), SQLValue(phone), .text(language.rawValue), .text(message.text(language)), .double(at)])
    }

    /// Every message (for one IIN, or all), oldest first.
    ///
    /// - Parameters:
    ///   - database: the database holding the outbox.
    ///   - iin: only this applicant's messages; `nil` for all.
    /// - Returns: The messages, sent or not, oldest first.
    /// - Throws: ``DatabaseFailure`` from the database; ``StorageError`` `.damagedRow` if a row cannot be read.
    public static func messages(_ database: any SQLDatabase, iin: String? = nil) async throws -> [OutboxMessage] {
        try await database.transaction { db in
            let rows = try iin.map { try db.query("SELECT * FROM outbox WHERE iin = ? ORDER BY created_at, id", [.text($0)]) }
                ?? db.query("SELECT * FROM outbox ORDER BY created_at, id", [])
            return try rows.map(OutboxMessage.init(row:))
        }
    }

    /// Messages not yet handed to the gateway, oldest first. Read only: the hand-off marks them
    /// with ``markSent(_:ids:at:)`` after it has written them, so a failed hand-off loses nothing.
    /// - Throws: ``DatabaseFailure`` from the database; ``StorageError`` `.damagedRow` if a row cannot be read.
    public static func pending(_ database: any SQLDatabase) async throws -> [OutboxMessage] {
        try await database.transaction { db in
            try db.query("SELECT * FROM outbox WHERE sent_at IS NULL ORDER BY created_at, id", []).map(OutboxMessage.init(row:))
        }
    }

    /// Marks messages handed to the gateway.
    /// - Parameters:
    ///   - ids: the messages written out.
    ///   - now: the injected clock's time.
    /// - Throws: ``DatabaseFailure`` from the database.
    public static func markSent(_ database: any SQLDatabase, ids: [String], at now: Double) async throws {
        try await database.transaction { db in
            try db.lock("outbox")
            for id in ids { try db.execute("UPDATE outbox SET sent_at = ? WHERE id = ? AND sent_at IS NULL", [.double(now), .text(id)]) }
        }
    }
}

/// One queued SMS.
public struct OutboxMessage: Sendable, Hashable, Codable {
    /// The message id, `sms-` and 20 hex digits.
    public var id: String
    /// The applicant's IIN.
    public var iin: String
    /// Where it goes, when known.
    public var phone: String?
    /// The language code it was rendered in (`ru`, `kk` or `en`).
    public var language: String
    /// The rendered text.
    public var body: String
    /// When it was queued, in seconds since 1970.
    public var createdAt: Double

    enum Columns: String { case id, iin, phone, language, body, createdAt = "created_at" }

    init(row: SQLRow) throws {
        (id, iin, phone) = (try row.text(Columns.id), try row.text(Columns.iin), try row.optionalText(Columns.phone))
        (language, body, createdAt) = (try row.text(Columns.language), try row.text(Columns.body), try row.double(Columns.createdAt))
    }
}
