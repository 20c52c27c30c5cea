public import Foundation
public import TulgaCore
public import TulgaCrypto
public import TulgaStorage

/// A registry entry: the state database's record of a person.
public struct RegistryEntry: Sendable, Hashable {
    /// The person's 12-digit IIN.
    public var iin: String
    /// The family name.
    public var surname: String
    /// The given name.
    public var givenName: String
    /// The identity document's number.
    public var documentNumber: String
    /// The phone registered with the mobile citizens database, when there is one.
    public var phone: String?
    /// The document photo, plain (sealed only in the table).
    public var photo: Data
    /// Creates an entry.
    ///
    /// - Parameters:
    ///   - iin: the person's 12-digit IIN.
    ///   - surname: the family name.
    ///   - givenName: the given name.
    ///   - documentNumber: the identity document's number.
    ///   - phone: the registered phone, if any.
    ///   - photo: the document photo, plain.
    public init(iin: String, surname: String, givenName: String, documentNumber: String, phone: String? = nil, photo: Data) {
        (self.iin, self.surname, self.givenName, self.documentNumber, self.phone, self.photo) = (iin, surname, givenName, documentNumber, phone, photo)
    }
}

/// A person's names and document, without the photo (what a Digital ID copies).
public struct RegistryPerson: Sendable, Hashable {
    /// The family name.
    public var surname: String
    /// The given name.
    public var givenName: String
    /// The identity document's number.
    public var documentNumber: String
    /// The registered phone, when there is one.
    public var phone: String?
}

/// The registry table: people and their sealed photos. Owns `registry`.
///
/// ```swift
/// let registry = RegistryRecords(RecordContext(database: db, clock: SystemClock()), cipher: cipher)
/// try await registry.upsert(entry)
/// ```
public struct RegistryRecords: Sendable {
    /// The shared database and the clock audit rows are stamped with.
    public let database: any SQLDatabase, clock: any WallClock
    /// Seals photos on write and opens them on read.
    public let cipher: SealingKey
    /// Creates the records.
    ///
    /// - Parameters:
    ///   - context: the database and the clock.
    ///   - cipher: the evidence key photos are sealed with.
    public init(_ context: RecordContext, cipher: SealingKey) { (database, clock, self.cipher) = (context.database, context.clock, cipher) }

    enum Columns: String { case iin, surname, givenName = "given_name", documentNumber = "document_number", phone, photo, keyID = "key_id" }

    /// The registry table, as released in v1.
    ///
    /// - Parameter migrator: the migrator to add `registry.v1` to.
    public static func register(_ migrator: inout Migrator) {
        migrator.registerMigration("registry.v1", replaces: ["v1-core"], [
            """
            CREATE TABLE registry (
              iin TEXT PRIMARY KEY, surname TEXT NOT NULL, given_name TEXT NOT NULL, document_number TEXT NOT NULL,
              phone TEXT, photo {BLOB} NOT NULL, key_id TEXT NOT NULL)
            """,
        ])
        // Photos sealed by earlier builds are sealed again bound to their row, in the migration's transaction.
        migrator.registerMigration("registry.v2", []) { try Reseal.bindEarlier($0, migration: "registry.v2", key: \.evidence, sealed) }
    }

    /// The sealed photo column.
    public static let sealed = SealedColumns("registry", id: "iin", ["photo"])

    /// Adds or replaces a person; the photo is sealed with the evidence key.
    ///
    /// Writes an audit row (`registry.upsert`) in the same transaction.
    ///
    /// - Parameter entry: the person; an existing row with the same IIN is replaced.
    /// - Throws: `CryptoFailure` if the photo cannot be sealed; ``DatabaseFailure`` from the database.
    public func upsert(_ entry: RegistryEntry) async throws {
        let sealed = try cipher.seal(entry.photo, for: Self.sealed.place("photo", entry.iin)), keyID = cipher.keyID, now = clock.now()
        try await database.transaction { db in
            try db.execute("DELETE FROM registry WHERE iin = ?", [.text(entry.iin)])
            try db.execute("""
                INSERT INTO registry (iin, surname, given_name, document_number, phone, photo, key_id) VALUES (?, ?, ?, ?, ?, ?, ?)
                """, [.text(entry.iin), .text(entry.surname), .text(entry.givenName), .text(entry.documentNumber),
                      SQLValue(entry.phone), .blob(sealed), .text(keyID)])
            try AuditLog.append(db, at: now, actor: "registry", action: "registry.upsert", subject: entry.iin, detail: "")
        }
    }

    /// The person with their photo opened, or nil.
    ///
    /// - Parameter iin: the person's IIN.
    /// - Returns: The entry, or `nil` if the registry has no such person.
    /// - Throws: a ``StorageError`` (`.damagedRow`) for a damaged row, a `CryptoFailure` for a photo that
    ///   does not open, a ``DatabaseFailure`` from the database.
    public func entry(_ iin: String) async throws -> RegistryEntry? {
        let row = try await database.transaction { db in try db.one("SELECT * FROM registry WHERE iin = ?", [.text(iin)]) }
        guard let row else { return nil }
        let person = try Self.person(row)
        guard let sealed = try row.optionalBlob(Columns.photo) else { throw StorageError(.damagedRow, "registry row \(iin) has no photo") }
        return RegistryEntry(iin: iin, surname: person.surname, givenName: person.givenName, documentNumber: person.documentNumber,
                             phone: person.phone, photo: try cipher.open(sealed, keyID: try row.text(Columns.keyID), for: Self.sealed.place("photo", iin)))
    }

    /// The person inside another module's transaction (names for a Digital ID, the phone for an SMS).
    ///
    /// - Parameters:
    ///   - db: the caller's transaction.
    ///   - iin: the person's IIN.
    /// - Returns: The names, document and phone, or `nil` if the registry has no such person.
    /// - Throws: ``DatabaseFailure`` from the database; ``StorageError`` `.damagedRow` if the row cannot be read.
    public static func person(_ db: any SQLSession, iin: String) throws -> RegistryPerson? {
        try db.one("SELECT surname, given_name, document_number, phone FROM registry WHERE iin = ?", [.text(iin)]).map(person)
    }

    static func person(_ row: SQLRow) throws -> RegistryPerson {
        RegistryPerson(surname: try row.text(Columns.surname), givenName: try row.text(Columns.givenName),
                       documentNumber: try row.text(Columns.documentNumber), phone: try row.optionalText(Columns.phone))
    }
}
