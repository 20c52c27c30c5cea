internal import Foundation
internal import TulgaCrypto

/// A calling system's key: scopes it may use. Keys are stored scrypt-hashed; the id is a
/// prefix of the key's SHA-256, so a key can be found without storing it.
public struct APIKeyRecord: Sendable, Hashable, Codable {
    public var id: String
    public var name: String
    public var scopes: Set<String>
}

extension Store {
    public static func apiKeyID(_ key: String) -> String { String(sha256Hex(key).prefix(16)) }

    public func addAPIKey(name: String, scopes: Set<String>, key: String) async throws -> APIKeyRecord {
        guard key.count >= 32 else { throw StoreError(.unauthorized, "an API key must have at least 32 characters") }
        let id = Self.apiKeyID(key), hash = try SecretHash.make(key), now = clock.now()
        try await database.transaction { db in
            try db.execute("DELETE FROM api_keys WHERE id = ?", [.text(id)])
            try db.execute("INSERT INTO api_keys (id, name, scopes, secret_hash, created_at) VALUES (?, ?, ?, ?, ?)",
                           [.text(id), .text(name), .text(scopes.sorted().joined(separator: ",")), .text(hash), .double(now)])
            try Audit.append(db, at: now, actor: "admin", action: "api_key.add", subject: id, detail: name)
        }
        return APIKeyRecord(id: id, name: name, scopes: scopes)
    }

    /// The key's record if the key is known and matches; nil otherwise (same cost either way).
    public func authenticateAPIKey(_ key: String) async throws -> APIKeyRecord? {
        let id = Self.apiKeyID(key)
        let row = try await database.transaction { db in try db.one("SELECT * FROM api_keys WHERE id = ?", [.text(id)]) }
        guard let row, let hash = row["secret_hash"].text else {
            _ = SecretHash.verify(key, against: "scrypt$32768$8$1$00$00")
            return nil
        }
        guard SecretHash.verify(key, against: hash) else { return nil }
        return APIKeyRecord(id: id, name: row["name"].text ?? "", scopes: Set((row["scopes"].text ?? "").split(separator: ",").map(String.init)))
    }

    /// How many cases wait for a moderator (open or with an expired claim), for metrics.
    public func queueDepth() async throws -> Int {
        let now = clock.now()
        return try await database.transaction { db in
            try db.one("SELECT COUNT(*) AS n FROM cases WHERE state = 'open' OR (state = 'claimed' AND lease_until <= ?)", [.double(now)])?["n"].int ?? 0
        }
    }
}
