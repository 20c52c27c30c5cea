import Foundation
public import TulgaCore
public import TulgaCrypto

/// SMS messages waiting for the gateway. Modules put a catalogue ``Message`` in the outbox
/// inside their own transaction; it is rendered in the applicant's language there and sealed with
/// the outbox key, bound to its row. Once handed to the gateway only a receipt stays: recipient,
/// language, template and times, no text and so no code.
///
/// ```swift
/// try await database.transaction { db in
///     try Outbox.enqueue(db, key: keys.outbox, iin: iin, phone: phone, language: .kk, message: Message(.smsCode, ["code": code]), at: now)
/// }
/// let pending = try await Outbox.pending(database, key: keys.outbox)   // write them out, then:
/// try await Outbox.markSent(database, ids: pending.map(\.id), at: now)
/// ```
public enum Outbox {
    /// The outbox table, as released in v1, then sealed bodies and receipts.
    ///
    /// - Parameter migrator: the migrator to add `outbox.v1` and `outbox.v2` to.
    public static func register(_ migrator: inout Migrator) {
        migrator.registerMigration("outbox.v1", replaces: ["v1-core"], [
            """
            CREATE TABLE outbox (
              id TEXT PRIMARY KEY, iin TEXT NOT NULL, phone TEXT, language TEXT NOT NULL, body TEXT NOT NULL,
              created_at {REAL} NOT NULL, sent_at {REAL})
            """,
        ])
        // `body` stays empty from now on: the text is in `sealed` until the hand-off, then gone. Earlier
        // builds' messages are sealed (pending) or reduced to their receipt (sent) in the same transaction.
        migrator.registerMigration("outbox.v2", [
            "ALTER TABLE outbox ADD COLUMN sealed {BLOB}",
            "ALTER TABLE outbox ADD COLUMN key_id TEXT",
            "ALTER TABLE outbox ADD COLUMN template TEXT",
        ]) { try sealClearBodies($0.db, key: try $0.requireKeys("outbox.v2").outbox) }
    }

    /// The sealed body column.
    public static let sealed = SealedColumns("outbox", id: "id", ["sealed"])

    static func place(_ id: String) -> SealedPlace { sealed.place("sealed", id) }

    /// Queues `message` for `iin` inside the caller's transaction, sealed with `key`.
    ///
    /// - Parameters:
    ///   - db: the caller's transaction.
    ///   - key: the outbox key.
    ///   - iin: the applicant's IIN.
    ///   - phone: where it goes, when known.
    ///   - language: the applicant's language.
    ///   - message: the catalogue entry, rendered here in `language`.
    ///   - at: the injected clock's time.
    /// - Throws: `CryptoFailure` if the CSPRNG or sealing fails; ``DatabaseFailure`` if the insert fails.
    public static func enqueue(_ db: any SQLSession, key: SealingKey, iin: String, phone: String?, language: Language, message: Message,
                               at: Double) throws {
        let id = "sms-" + hex(try randomBytes(10))
        let sealed = try key.seal(Data(message.text(language).utf8), for: place(id))
        try db.execute("""
            INSERT INTO outbox (id, iin, phone, language, body, sealed, key_id, template, created_at) VALUES (?, ?, ?, ?, '', ?, ?, ?, ?)
            """, [.text(id), .text(iin), SQLValue(phone), .text(language.rawValue), .blob(sealed), .text(key.keyID),
                  .text(message.key.rawValue), .double(at)])
    }

    /// Every message (for one IIN, or all), oldest first; the text only of those not yet handed off.
    ///
    /// - Parameters:
    ///   - database: the database holding the outbox.
    ///   - key: the outbox key.
    ///   - iin: only this applicant's messages; `nil` for all.
    /// - Returns: The messages, sent or not, oldest first.
    /// - Throws: ``DatabaseFailure``; ``StorageError`` `.damagedRow` for a row that cannot be read; `CryptoFailure`
    ///   for a body that does not open.
    public static func messages(_ database: any SQLDatabase, key: SealingKey, iin: String? = nil) async throws -> [OutboxMessage] {
        try await database.transaction { db in
            let rows = try iin.map { try db.query("SELECT * FROM outbox WHERE iin = ? ORDER BY created_at, id", [.text($0)]) }
                ?? db.query("SELECT * FROM outbox ORDER BY created_at, id", [])
            return try rows.map { try OutboxMessage(row: $0, key: key) }
        }
    }

    /// Messages not yet handed to the gateway, oldest first. Read only: the hand-off marks them
    /// with ``markSent(_:ids:at:)`` after it has written them, so a failed hand-off loses nothing.
    /// - Throws: as ``messages(_:key:iin:)``.
    public static func pending(_ database: any SQLDatabase, key: SealingKey) async throws -> [OutboxMessage] {
        try await database.transaction { db in
            try db.query("SELECT * FROM outbox WHERE sent_at IS NULL ORDER BY created_at, id", []).map { try OutboxMessage(row: $0, key: key) }
        }
    }

    /// When the oldest message still waiting for the gateway was queued, or `nil` when none waits: a
    /// readiness check reads it to tell a stuck hand-off. Opens no body.
    ///
    /// - Throws: ``DatabaseFailure``; ``StorageError`` `.damagedRow`.
    public static func oldestPending(_ database: any SQLDatabase) async throws -> Double? {
        try await database.transaction { db in
            try db.query("SELECT MIN(created_at) AS created_at FROM outbox WHERE sent_at IS NULL", []).first?.optionalDouble(OutboxMessage.Columns.createdAt)
        }
    }

    /// Marks messages handed to the gateway and drops their text, leaving a receipt.
    /// - Parameters:
    ///   - ids: the messages written out.
    ///   - now: the injected clock's time.
    /// - Throws: ``DatabaseFailure`` from the database.
    public static func markSent(_ database: any SQLDatabase, ids: [String], at now: Double) async throws {
        try await database.transaction { db in
            try db.lock("outbox")
            for id in ids {
                try db.execute("UPDATE outbox SET sent_at = ?, sealed = NULL, body = '' WHERE id = ? AND sent_at IS NULL", [.double(now), .text(id)])
            }
        }
    }

    /// Rows from before sealing: a sent one keeps only its receipt, a pending one is sealed.
    static func sealClearBodies(_ db: any SQLSession, key: SealingKey) throws {
        for row in try db.query("SELECT id, body, sent_at FROM outbox WHERE body <> ''", []) {
            let id = try row.text(OutboxMessage.Columns.id)
            if row["sent_at"].isNull {
                let sealed = try key.seal(Data(try row.text(OutboxMessage.Columns.body).utf8), for: place(id))
                try db.execute("UPDATE outbox SET body = '', sealed = ?, key_id = ? WHERE id = ?", [.blob(sealed), .text(key.keyID), .text(id)])
            } else {
                try db.execute("UPDATE outbox SET body = '' WHERE id = ?", [.text(id)])
            }
        }
    }
}

/// One queued SMS, or the receipt of one handed off.
public struct OutboxMessage: Sendable, Hashable, Codable {
    /// The message id, `sms-` and 20 hex digits.
    public var id: String
    /// The applicant's IIN.
    public var iin: String
    /// Where it goes, when known.
    public var phone: String?
    /// The language code it was rendered in (`ru`, `kk` or `en`).
    public var language: String
    /// The catalogue entry it was rendered from; `nil` for a message queued before templates were kept.
    public var template: String?
    /// The rendered text; `nil` once handed to the gateway.
    public var body: String?
    /// When it was queued, in seconds since 1970.
    public var createdAt: Double
    /// When it was handed to the gateway, if it was.
    public var sentAt: Double?

    enum Columns: String { case id, iin, phone, language, template, body, sealed, keyID = "key_id", createdAt = "created_at", sentAt = "sent_at" }

    init(row: SQLRow, key: SealingKey) throws {
        (id, iin, phone) = (try row.text(Columns.id), try row.text(Columns.iin), try row.optionalText(Columns.phone))
        (language, template) = (try row.text(Columns.language), try row.optionalText(Columns.template))
        (createdAt, sentAt) = (try row.double(Columns.createdAt), try row.optionalDouble(Columns.sentAt))
        let clear = try row.text(Columns.body)
        if let sealed = try row.optionalBlob(Columns.sealed) {
            body = String(decoding: try key.open(sealed, keyID: try row.text(Columns.keyID), for: Outbox.place(id)), as: UTF8.self)
        } else {
            body = clear.isEmpty ? nil : clear
        }
    }
}
