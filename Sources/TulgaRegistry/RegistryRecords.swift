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
    /// The patronymic («Отчество»), when the person has one.
    public var patronymic: String?
    /// The phone registered with the mobile citizens database, when there is one.
    public var phone: String?
    /// The document photo, plain (sealed only in the table).
    public var photo: Data
    /// The photo's face embedding, cached (sealed in the table); `nil` until computed.
    public var reference: ReferenceEmbedding?
    /// The names in Latin letters as the identity documents print them in their MRZ, when recorded.
    public var latin: LatinNames?
    /// The passport's number, when the person has one (`documentNumber` is the ID card's).
    public var passportNumber: String?
    /// Creates an entry.
    ///
    /// - Parameters:
    ///   - iin: the person's 12-digit IIN.
    ///   - surname: the family name.
    ///   - givenName: the given name.
    ///   - documentNumber: the identity document's number.
    ///   - phone: the registered phone, if any.
    ///   - photo: the document photo, plain.
    ///   - reference: the photo's face embedding, when computed.
    ///   - patronymic: the patronymic, if any.
    ///   - latin: the Latin names as the documents print them, if recorded.
    ///   - passportNumber: the passport's number, if any.
    public init(iin: String, surname: String, givenName: String, documentNumber: String, phone: String? = nil, photo: Data,
                reference: ReferenceEmbedding? = nil, patronymic: String? = nil, latin: LatinNames? = nil, passportNumber: String? = nil) {
        (self.iin, self.surname, self.givenName, self.documentNumber, self.phone, self.photo) = (iin, surname, givenName, documentNumber, phone, photo)
        (self.reference, self.patronymic, self.latin, self.passportNumber) = (reference, patronymic, latin, passportNumber)
    }
}

/// A person's names in Latin letters, as their identity documents print them in the MRZ
/// (`ABAYEV`, `ARMAN`): upper case, words separated by single spaces.
public struct LatinNames: Sendable, Hashable, Codable {
    /// The primary identifier (family name).
    public var surname: String
    /// The secondary identifier (given names, space-separated).
    public var givenNames: String
    /// Normalises both: upper case, `<` and runs of spaces become one space, trimmed.
    ///
    /// - Parameters:
    ///   - surname: the family name.
    ///   - givenNames: the given names.
    public init(surname: String, givenNames: String) {
        (self.surname, self.givenNames) = (Self.normalised(surname), Self.normalised(givenNames))
    }

    /// Upper case, `<` as a space, single spaces, trimmed.
    public static func normalised(_ name: String) -> String {
        name.uppercased().replacingOccurrences(of: "<", with: " ").split(separator: " ").joined(separator: " ")
    }

    /// Whether both are made of the MRZ's letters (A–Z) and spaces, and the surname is not empty.
    public var isMRZAlphabet: Bool {
        !surname.isEmpty && (surname + givenNames).allSatisfy { $0 == " " || ($0.isASCII && $0.isUppercase) }
    }
}

/// The registry photo's face embedding, computed once (at import, or when the models change) and
/// reused by every attempt. It names the models that made it and the photo it was made from, so a
/// new model or a new photo makes it stale by itself.
public struct ReferenceEmbedding: Sendable, Hashable {
    /// The face models' fingerprint (SHA-256 of the model files).
    public var models: String
    /// SHA-256 of the plain photo.
    public var photoDigest: String
    /// The 128 values.
    public var values: [Float]

    public init(models: String, photoDigest: String, values: [Float]) { (self.models, self.photoDigest, self.values) = (models, photoDigest, values) }

    /// Whether it was made from `photo` by the models `models`.
    public func fits(photo: Data, models: String) -> Bool { self.models == models && photoDigest == sha256Hex(photo) }

    static let magic = "tulga-reference-1"
    /// SFace's embedding length: a cached value of any other length, or not finite, is not used.
    public static let dimension = 128

    /// `magic`, the models, the digest, each on its own line, then the values as little-endian floats.
    var encoded: Data {
        var data = Data((Self.magic + "\n" + models + "\n" + photoDigest + "\n").utf8)
        for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { data.append(contentsOf: $0) } }
        return data
    }

    /// Reads ``encoded``; `nil` for anything else.
    init?(encoded data: Data) {
        let bytes = [UInt8](data)
        var lines: [String] = [], start = 0
        for (i, b) in bytes.enumerated() where b == 0x0A && lines.count < 3 {
            lines.append(String(decoding: bytes[start..<i], as: UTF8.self))
            start = i + 1
        }
        let rest = bytes.count - start
        guard lines.count == 3, lines[0] == Self.magic, rest == 4 * Self.dimension else { return nil }
        values = stride(from: start, to: bytes.count, by: 4).map { i in
            Float(bitPattern: UInt32(bytes[i]) | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2]) << 16 | UInt32(bytes[i + 3]) << 24)
        }
        guard values.allSatisfy(\.isFinite) else { return nil }
        (models, photoDigest) = (lines[1], lines[2])
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
    /// The patronymic, when there is one.
    public var patronymic: String?
    /// The Latin names as the documents print them, when recorded.
    public var latin: LatinNames? = nil
    /// The passport's number, when recorded.
    public var passportNumber: String? = nil

    /// Creates a person value.
    ///
    /// - Parameters:
    ///   - surname: the family name.
    ///   - givenName: the given name.
    ///   - documentNumber: the ID card's number.
    ///   - phone: the registered phone, if any.
    ///   - patronymic: the patronymic, if any.
    ///   - latin: the Latin names as the documents print them, if recorded.
    ///   - passportNumber: the passport's number, if recorded.
    public init(surname: String, givenName: String, documentNumber: String, phone: String? = nil, patronymic: String? = nil,
                latin: LatinNames? = nil, passportNumber: String? = nil) {
        (self.surname, self.givenName, self.documentNumber, self.phone) = (surname, givenName, documentNumber, phone)
        (self.patronymic, self.latin, self.passportNumber) = (patronymic, latin, passportNumber)
    }
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

    enum Columns: String {
        case iin, surname, givenName = "given_name", documentNumber = "document_number", phone, photo, keyID = "key_id"
        case reference, referenceKeyID = "reference_key_id", patronymic
        case latinSurname = "latin_surname", latinGivenNames = "latin_given_names", passportNumber = "passport_number"
    }

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
        // The photo's embedding, cached and sealed under its own key id (it is written after the photo).
        migrator.registerMigration("registry.v3", [
            "ALTER TABLE registry ADD COLUMN reference {BLOB}",
            "ALTER TABLE registry ADD COLUMN reference_key_id TEXT",
            "ALTER TABLE registry ADD COLUMN patronymic TEXT",
        ])
        // The identity-document step compares the document with these: the Latin names as the
        // documents print them, and the passport's number (the birth date is the IIN's).
        migrator.registerMigration("registry.v4", [
            "ALTER TABLE registry ADD COLUMN latin_surname TEXT",
            "ALTER TABLE registry ADD COLUMN latin_given_names TEXT",
            "ALTER TABLE registry ADD COLUMN passport_number TEXT",
        ])
    }

    /// The sealed photo column.
    public static let sealed = SealedColumns("registry", id: "iin", ["photo"])
    /// The sealed reference embedding, with its own key id (`NULL` until computed).
    public static let sealedReference = SealedColumns("registry", id: "iin", ["reference"], keyColumn: "reference_key_id")

    /// Adds or replaces a person; the photo is sealed with the evidence key.
    ///
    /// Writes an audit row (`registry.upsert`) in the same transaction.
    ///
    /// - Parameter entry: the person; an existing row with the same IIN is replaced.
    /// - Throws: `CryptoFailure` if the photo cannot be sealed; ``DatabaseFailure`` from the database.
    public func upsert(_ entry: RegistryEntry) async throws {
        let sealed = try cipher.seal(entry.photo, for: Self.sealed.place("photo", entry.iin)), keyID = cipher.keyID, now = clock.now()
        let reference = try entry.reference.map { try cipher.seal($0.encoded, for: Self.sealedReference.place("reference", entry.iin)) }
        try await database.transaction { db in
            try db.execute("DELETE FROM registry WHERE iin = ?", [.text(entry.iin)])
            try db.execute("""
                INSERT INTO registry (iin, surname, given_name, document_number, phone, photo, key_id, reference, reference_key_id, patronymic,
                                      latin_surname, latin_given_names, passport_number)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, [.text(entry.iin), .text(entry.surname), .text(entry.givenName), .text(entry.documentNumber),
                      SQLValue(entry.phone), .blob(sealed), .text(keyID), reference.map { .blob($0) } ?? .null,
                      reference == nil ? .null : .text(keyID), SQLValue(entry.patronymic), SQLValue(entry.latin?.surname),
                      SQLValue(entry.latin?.givenNames), SQLValue(entry.passportNumber)])
            try AuditLog.append(db, at: now, actor: "registry", action: "registry.upsert", subject: entry.iin,
                                detail: entry.reference == nil ? "" : "with reference embedding")
        }
    }

    /// Caches a newly computed embedding of the person's photo, sealed with the evidence key.
    ///
    /// Writes an audit row (`registry.reference`) in the same transaction. An embedding of a photo
    /// that has since been replaced is harmless: it names its photo's digest and is never used for another.
    ///
    /// - Parameters:
    ///   - reference: the embedding, naming its models and photo.
    ///   - iin: the person's IIN.
    ///   - replacing: why an earlier one was not used (for the audit row).
    /// - Throws: `CryptoFailure` if it cannot be sealed; ``DatabaseFailure`` from the database.
    public func storeReference(_ reference: ReferenceEmbedding, iin: String, replacing: String) async throws {
        // Only what would be read back: anything else is left uncached and computed again.
        guard reference.values.count == ReferenceEmbedding.dimension, reference.values.allSatisfy(\.isFinite) else { return }
        let sealed = try cipher.seal(reference.encoded, for: Self.sealedReference.place("reference", iin)), keyID = cipher.keyID, now = clock.now()
        try await database.transaction { db in
            try db.execute("UPDATE registry SET reference = ?, reference_key_id = ? WHERE iin = ?", [.blob(sealed), .text(keyID), .text(iin)])
            try AuditLog.append(db, at: now, actor: "registry", action: "registry.reference", subject: iin, detail: replacing)
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
                             phone: person.phone, photo: try cipher.open(sealed, keyID: try row.text(Columns.keyID), for: Self.sealed.place("photo", iin)),
                             reference: referenceIfReadable(row, iin: iin), patronymic: person.patronymic, latin: person.latin,
                             passportNumber: person.passportNumber)
    }

    /// The cached embedding, or `nil` when there is none or it does not open (damaged, or set aside by a
    /// rotation): it is derived from the photo, so the caller computes it again and ``storeReference(_:iin:replacing:)``
    /// audits why.
    func referenceIfReadable(_ row: SQLRow, iin: String) -> ReferenceEmbedding? {
        guard let sealed = try? row.optionalBlob(Columns.reference), let keyID = try? row.optionalText(Columns.referenceKeyID),
              let plain = try? cipher.open(sealed, keyID: keyID, for: Self.sealedReference.place("reference", iin)) else { return nil }
        return ReferenceEmbedding(encoded: plain)
    }

    /// The person inside another module's transaction (names for a Digital ID, the phone for an SMS).
    ///
    /// - Parameters:
    ///   - db: the caller's transaction.
    ///   - iin: the person's IIN.
    /// - Returns: The names, document and phone, or `nil` if the registry has no such person.
    /// - Throws: ``DatabaseFailure`` from the database; ``StorageError`` `.damagedRow` if the row cannot be read.
    public static func person(_ db: any SQLSession, iin: String) throws -> RegistryPerson? {
        try db.one("""
            SELECT surname, given_name, document_number, phone, patronymic, latin_surname, latin_given_names, passport_number
            FROM registry WHERE iin = ?
            """, [.text(iin)]).map(person)
    }

    static func person(_ row: SQLRow) throws -> RegistryPerson {
        // Latin names are recorded together or not at all (a surname without given names is kept with empty ones).
        let latin = try row.optionalText(Columns.latinSurname).map {
            LatinNames(surname: $0, givenNames: try row.optionalText(Columns.latinGivenNames) ?? "")
        }
        return RegistryPerson(surname: try row.text(Columns.surname), givenName: try row.text(Columns.givenName),
                              documentNumber: try row.text(Columns.documentNumber), phone: try row.optionalText(Columns.phone),
                              patronymic: try row.optionalText(Columns.patronymic), latin: latin,
                              passportNumber: try row.optionalText(Columns.passportNumber))
    }
}
