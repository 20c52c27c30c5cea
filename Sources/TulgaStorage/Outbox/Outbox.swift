import Foundation
public import TulgaCore
public import TulgaCrypto

/// SMS messages waiting for the gateway, and e-mails waiting for the SMTP server. Modules put a
/// catalogue ``Message`` in the outbox inside their own transaction; it is rendered in the
/// applicant's language there and sealed with the outbox key, bound to its row. Once handed on
/// only a receipt stays: recipient, language, template, attempts and times, no text and so no
/// code or application number. E-mails are claimed for a while before each try
/// (``claimMail(_:key:at:lease:limit:)``), and a failed try is recorded with its next time
/// (``markFailed(_:id:error:retryAt:)``): a refusing or absent server leaves them pending.
///
/// ```swift
/// try await database.transaction { db in
///     try Outbox.enqueue(db, key: keys.outbox, iin: iin, phone: phone, language: .kk, message: Message(.smsCode, ["code": code]), at: now)
/// }
/// let pending = try await Outbox.pending(database, key: keys.outbox)   // write them out, then:
/// try await Outbox.markSent(database, ids: pending.map(\.id), at: now)
/// ```
public enum Outbox {
    /// The outbox table, as released in v1, then sealed bodies and receipts, then e-mail.
    ///
    /// - Parameter migrator: the migrator to add `outbox.v1`, `outbox.v2` and `outbox.v3` to.
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
        // E-mail beside SMS: a channel (earlier rows are SMS), the address, the tries so far, and a
        // sequence so that e-mails queued at one clock reading go in the order they were queued.
        migrator.registerMigration("outbox.v3", [
            "ALTER TABLE outbox ADD COLUMN channel TEXT NOT NULL DEFAULT 'sms'",
            "ALTER TABLE outbox ADD COLUMN address TEXT",
            "ALTER TABLE outbox ADD COLUMN attempts {INT} NOT NULL DEFAULT 0",
            "ALTER TABLE outbox ADD COLUMN last_error TEXT",
            "ALTER TABLE outbox ADD COLUMN next_try_at {REAL}",
            "ALTER TABLE outbox ADD COLUMN seq {INT}",
            "CREATE INDEX outbox_pending ON outbox(channel, sent_at)",
        ])
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

    /// SMS not yet handed to the gateway, oldest first (e-mails are not among them). Read only: the
    /// hand-off marks them with ``markSent(_:ids:at:)`` after it has written them, so a failed hand-off loses nothing.
    /// - Throws: as ``messages(_:key:iin:)``.
    public static func pending(_ database: any SQLDatabase, key: SealingKey) async throws -> [OutboxMessage] {
        try await database.transaction { db in
            try db.query("SELECT * FROM outbox WHERE sent_at IS NULL AND channel = 'sms' ORDER BY created_at, id", [])
                .map { try OutboxMessage(row: $0, key: key) }
        }
    }

    /// Queues an e-mail for `iin` inside the caller's transaction: subject and body rendered in
    /// `language`, sealed together with `key`.
    ///
    /// - Parameters:
    ///   - db: the caller's transaction.
    ///   - key: the outbox key.
    ///   - iin: the applicant's IIN.
    ///   - address: where it goes (checked by the caller).
    ///   - language: the applicant's language.
    ///   - subject: the catalogue entry for the subject line.
    ///   - body: the catalogue entry for the text.
    ///   - at: the injected clock's time.
    /// - Throws: `CryptoFailure` if the CSPRNG or sealing fails; ``DatabaseFailure`` if the insert fails.
    public static func enqueueMail(_ db: any SQLSession, key: SealingKey, iin: String, address: String, language: Language, subject: Message,
                                   body: Message, at: Double) throws {
        let id = "mail-" + hex(try randomBytes(10))
        // The subject is one line: the first line of the sealed text.
        let text = subject.text(language).replacingOccurrences(of: "\n", with: " ") + "\n" + body.text(language)
        let sealed = try key.seal(Data(text.utf8), for: place(id))
        try db.execute("""
            INSERT INTO outbox (id, iin, channel, address, language, body, sealed, key_id, template, created_at, seq)
            VALUES (?, ?, 'email', ?, ?, '', ?, ?, ?, ?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM outbox))
            """, [.text(id), .text(iin), .text(address), .text(language.rawValue), .blob(sealed), .text(key.keyID), .text(body.key.rawValue), .double(at)])
    }

    /// Takes up to `limit` e-mails due at `at`, oldest first, and holds them for `lease` seconds
    /// (a second sender skips them meanwhile); each comes back as ``markSent(_:ids:at:)`` or
    /// ``markFailed(_:id:error:retryAt:)`` records it, or is due again when the lease runs out.
    ///
    /// - Parameters:
    ///   - database: the database holding the outbox.
    ///   - key: the outbox key.
    ///   - at: the injected clock's time.
    ///   - lease: seconds the claim holds.
    ///   - limit: the most taken at once.
    /// - Returns: The claimed e-mails, with their subject and text.
    /// - Throws: as ``messages(_:key:iin:)``.
    public static func claimMail(_ database: any SQLDatabase, key: SealingKey, at: Double, lease: Double, limit: Int = 50) async throws -> [OutboxMessage] {
        try await database.transaction { db in
            try db.lock("outbox")
            let rows = try db.query("""
                SELECT * FROM outbox WHERE channel = 'email' AND sent_at IS NULL AND (next_try_at IS NULL OR next_try_at <= ?)
                ORDER BY created_at, seq, id LIMIT \(max(1, limit))
                """, [.double(at)])
            let messages = try rows.map { try OutboxMessage(row: $0, key: key) }
            for m in messages { try db.execute("UPDATE outbox SET next_try_at = ? WHERE id = ?", [.double(at + lease), .text(m.id)]) }
            return messages
        }
    }

    /// Records a failed try of a pending message: one more attempt, the reason (no secrets in it)
    /// and when to try again. The text stays sealed.
    ///
    /// - Parameters:
    ///   - id: the message.
    ///   - error: why it failed, without the address or the text.
    ///   - retryAt: when it is due again.
    /// - Throws: ``DatabaseFailure`` from the database.
    public static func markFailed(_ database: any SQLDatabase, id: String, error: String, retryAt: Double) async throws {
        try await database.transaction { db in
            try db.lock("outbox")
            try db.execute("UPDATE outbox SET attempts = attempts + 1, last_error = ?, next_try_at = ? WHERE id = ? AND sent_at IS NULL",
                           [.text(String(error.prefix(300))), .double(retryAt), .text(id)])
        }
    }

    /// When the oldest message of `channel` (`sms` or `email`) still waiting was queued, or `nil` when
    /// none waits: a readiness check reads it to tell a stuck hand-off. Opens no body.
    ///
    /// - Throws: ``DatabaseFailure``; ``StorageError`` `.damagedRow`.
    public static func oldestPending(_ database: any SQLDatabase, channel: String = "sms") async throws -> Double? {
        try await database.transaction { db in
            try db.query("SELECT MIN(created_at) AS created_at FROM outbox WHERE sent_at IS NULL AND channel = ?", [.text(channel)])
                .first?.optionalDouble(OutboxMessage.Columns.createdAt)
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
                try db.execute("UPDATE outbox SET sent_at = ?, sealed = NULL, body = '', next_try_at = NULL, attempts = attempts + 1 WHERE id = ? AND sent_at IS NULL",
                               [.double(now), .text(id)])
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

/// One queued SMS or e-mail, or the receipt of one handed off.
public struct OutboxMessage: Sendable, Hashable, Codable {
    /// The message id, `sms-` or `mail-` and 20 hex digits.
    public var id: String
    /// The applicant's IIN.
    public var iin: String
    /// `sms` or `email`.
    public var channel: String
    /// Where an SMS goes, when known.
    public var phone: String?
    /// Where an e-mail goes.
    public var address: String?
    /// An e-mail's subject line; `nil` for an SMS, and once handed on.
    public var subject: String?
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
    /// Tries so far (an e-mail's failed ones, then the one that delivered it).
    public var attempts: Int
    /// Why the last try failed, without secrets.
    public var lastError: String?
    /// When a pending e-mail is due (after a failure, or while claimed).
    public var nextTryAt: Double?

    enum Columns: String {
        case id, iin, channel, phone, address, language, template, body, sealed, keyID = "key_id", createdAt = "created_at", sentAt = "sent_at"
        case attempts, lastError = "last_error", nextTryAt = "next_try_at"
    }

    init(row: SQLRow, key: SealingKey) throws {
        (id, iin, channel) = (try row.text(Columns.id), try row.text(Columns.iin), try row.text(Columns.channel))
        (phone, address) = (try row.optionalText(Columns.phone), try row.optionalText(Columns.address))
        (language, template) = (try row.text(Columns.language), try row.optionalText(Columns.template))
        (createdAt, sentAt) = (try row.double(Columns.createdAt), try row.optionalDouble(Columns.sentAt))
        (attempts, lastError, nextTryAt) = (try row.int(Columns.attempts), try row.optionalText(Columns.lastError), try row.optionalDouble(Columns.nextTryAt))
        let clear = try row.text(Columns.body)
        if let sealed = try row.optionalBlob(Columns.sealed) {
            body = String(decoding: try key.open(sealed, keyID: try row.text(Columns.keyID), for: Outbox.place(id)), as: UTF8.self)
        } else {
            body = clear.isEmpty ? nil : clear
        }
        // An e-mail's sealed text is its subject line, then the body.
        if channel == "email", let text = body, let cut = text.firstIndex(of: "\n") {
            (subject, body) = (String(text[..<cut]), String(text[text.index(after: cut)...]))
        }
    }
}
