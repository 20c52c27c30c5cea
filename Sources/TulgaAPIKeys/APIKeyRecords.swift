public import TulgaCore
import TulgaCrypto
public import TulgaStorage

/// A calling system's key: the scopes it may use. Keys are stored scrypt-hashed; the id is a
/// prefix of the key's SHA-256, so a key can be found without storing it.
public struct APIKeyRecord: Sendable, Hashable, Codable {
    public var id: String
    public var name: String
    public var scopes: Set<String>
}

/// Codes of refused API-key steps.
public enum APIKeyErrorCode: String, ErrorCode {
    case weakKey = "weak_key"
    public var kind: ProblemKind { .invalid }
}

public typealias APIKeyError = CodedError<APIKeyErrorCode>

/// The API keys of calling systems. Owns `api_keys`.
public struct APIKeyRecords: Sendable {
    public let database: any SQLDatabase
    public let clock: any WallClock

    public init(_ context: RecordContext) { (database, clock) = (context.database, context.clock) }

    enum Columns: String { case id, name, scopes, secretHash = "secret_hash" }

    /// The key table, as released in v3.
    public static func register(_ migrator: inout Migrator) {
        migrator.registerMigration("api_keys.v1", replaces: ["v3-api-keys"], [
            "CREATE TABLE api_keys (id TEXT PRIMARY KEY, name TEXT NOT NULL, scopes TEXT NOT NULL, secret_hash TEXT NOT NULL, created_at {REAL} NOT NULL)",
        ])
    }

    /// The id of a key: 16 hex digits of its SHA-256.
    public static func id(of key: String) -> String { String(sha256Hex(key).prefix(16)) }

    /// Registers a key of at least 32 characters with `scopes`.
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
