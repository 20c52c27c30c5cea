public import TulgaCore
import TulgaCrypto
public import TulgaStorage

/// A calling system's key: the scopes it may use. Keys are stored scrypt-hashed; the id is a
/// prefix of the key's SHA-256, so a key can be found without storing it.
public struct APIKeyRecord: Sendable, Hashable, Codable {
    /// 16 hex digits of the key's SHA-256 (see ``APIKeyRecords/id(of:)``).
    public var id: String
    /// A name for people, e.g. the calling system.
    public var name: String
    /// What the key may call, e.g. `kiosk`, `issuance`, `moderation`, `admin`.
    public var scopes: Set<String>
}

/// Codes of refused API-key steps.
public enum APIKeyErrorCode: String, ErrorCode {
    /// The key is shorter than 32 characters (422).
    case weakKey = "weak_key"
    /// Always ``ProblemKind/invalid``.
    public var kind: ProblemKind { .invalid }
}

/// A refused API-key step.
public typealias APIKeyError = CodedError<APIKeyErrorCode>

/// The API keys of calling systems. Owns `api_keys`.
///
/// ```swift
/// let keys = APIKeyRecords(context)
/// _ = try await keys.add(name: "kiosk-12", scopes: ["kiosk"], key: key)
/// if let caller = try await keys.authenticate(key), caller.scopes.contains("kiosk") { /* allowed */ }
/// ```
public struct APIKeyRecords: Sendable {
    /// The shared database.
    public let database: any SQLDatabase
    /// The clock keys are stamped with.
    public let clock: any WallClock

    /// Creates the records.
    ///
    /// - Parameter context: the database and the clock.
    public init(_ context: RecordContext) { (database, clock) = (context.database, context.clock) }

    enum Columns: String { case id, name, scopes, secretHash = "secret_hash" }

    /// The key table, as released in v3.
    ///
    /// - Parameter migrator: the migrator to add `api_keys.v1` to.
    public static func register(_ migrator: inout Migrator) {
        migrator.registerMigration("api_keys.v1", replaces: ["v3-api-keys"], [
            "CREATE TABLE api_keys (id TEXT PRIMARY KEY, name TEXT NOT NULL, scopes TEXT NOT NULL, secret_hash TEXT NOT NULL, created_at {REAL} NOT NULL)",
        ])
    }

    /// The id of a key: 16 hex digits of its SHA-256.
    ///
    /// - Parameter key: the key as the caller sends it.
    /// - Returns: 16 lower-case hex digits.
    public static func id(of key: String) -> String { String(sha256Hex(key).prefix(16)) }

    /// Registers a key of at least 32 characters with `scopes`.
    ///
    /// A key with the same id is replaced.
    ///
    /// - Parameters:
    ///   - name: a name for people.
    ///   - scopes: what the key may call.
    ///   - key: the secret key, at least 32 characters; only its scrypt hash is stored.
    /// - Returns: The stored record.
    /// - Throws: ``APIKeyError`` `.weakKey` for a key shorter than 32 characters; `CryptoFailure` if hashing fails;
    ///   ``DatabaseFailure`` from the database.
    public func add(name: String, scopes: Set<String>, key: String) async throws -> APIKeyRecord {
        guard key.count >= 32 else { throw APIKeyError(.weakKey, "an API key must have at least 32 characters") }
        let id = Self.id(of: key), hash = try SecretHash.make(key), now = clock.now()
        try await database.transaction { db in
            try db.execute("DELETE FROM api_keys WHERE id = ?", [.text(id)])
            try db.execute("INSERT INTO api_keys (id, name, scopes, secret_hash, created_at) VALUES (?, ?, ?, ?, ?)",
                           [.text(id), .text(name), .text(scopes.sorted().joined(separator: ",")), .text(hash), .double(now)])
            try AuditLog.append(db, at: now, actor: "admin", action: "api_key.add", subject: id, detail: name)
        }
        return APIKeyRecord(id: id, name: name, scopes: scopes)
    }

    /// The key's record if the key is known and matches; nil otherwise (same cost either way).
    ///
    /// - Parameter key: the key as the caller sends it.
    /// - Returns: The record, or `nil` for an unknown or wrong key.
    /// - Throws: ``StorageError`` `.damagedRow` for a damaged row; ``DatabaseFailure`` from the database.
    public func authenticate(_ key: String) async throws -> APIKeyRecord? {
        let id = Self.id(of: key)
        let row = try await database.transaction { db in try db.one("SELECT * FROM api_keys WHERE id = ?", [.text(id)]) }
        guard let row else {
            _ = SecretHash.verify(key, against: "scrypt$32768$8$1$00$00")
            return nil
        }
        guard SecretHash.verify(key, against: try row.text(Columns.secretHash)) else { return nil }
        return APIKeyRecord(id: id, name: try row.text(Columns.name), scopes: Set(try row.text(Columns.scopes).split(separator: ",").map(String.init)))
    }
}
