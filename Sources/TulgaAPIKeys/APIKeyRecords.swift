public import TulgaCore
public import TulgaCrypto
public import TulgaStorage

/// A calling system's key: the scopes it may use, and when it stops working.
public struct APIKeyRecord: Sendable, Hashable, Codable {
    /// 16 hex digits of the key's SHA-256 (see ``APIKeyRecords/id(of:)``); safe to show and log.
    public var id: String
    /// A name for people, e.g. the calling system.
    public var name: String
    /// What the key may call, e.g. `kiosk`, `issuance`, `moderation`, `admin`.
    public var scopes: Set<String>
    /// When it was added, in seconds since 1970.
    public var createdAt: Double
    /// When it stops working, if it expires.
    public var expiresAt: Double?
    /// When it was revoked, if it was.
    public var revokedAt: Double?
    /// The key family: the first key's id, kept through rotations. What a calling system files
    /// and starts belongs to its family, so a rotated key still sees it.
    public var owner: String

    /// Whether the key works at `now`: not revoked, not expired.
    ///
    /// - Parameter now: seconds since 1970.
    public func isUsable(at now: Double) -> Bool { revokedAt == nil && (expiresAt.map { now < $0 } ?? true) }
}

/// Codes of refused API-key steps.
public enum APIKeyErrorCode: String, ErrorCode {
    /// The key is shorter than 32 characters (422).
    case weakKey = "weak_key"
    /// No key with that id (404).
    case notFound = "not_found"
    /// The key was revoked, or is in use already: a revoked key never comes back (409).
    case revoked
    /// 422, 404 or 409, as listed on the cases.
    public var kind: ProblemKind {
        switch self {
        case .notFound: .notFound
        case .revoked: .conflict
        case .weakKey: .invalid
        }
    }
}

/// A refused API-key step.
public typealias APIKeyError = CodedError<APIKeyErrorCode>

/// The API keys of calling systems. Owns `api_keys`.
///
/// Keys are high-entropy (32 characters or more), so no slow KDF is needed: each is stored as an
/// HMAC-SHA-256 under a subkey of the service's evidence key, found by its id and compared in
/// constant time. An unknown key costs one indexed read. Keys added by older builds (scrypt
/// hashes) still work, and gain their HMAC on first use.
///
/// ```swift
/// let keys = APIKeyRecords(context, cipher: cipher)
/// _ = try await keys.add(name: "kiosk-12", scopes: ["kiosk"], key: key, expiresAt: nil)
/// if let caller = try await keys.authenticate(key), caller.scopes.contains("kiosk") { /* allowed */ }
/// try await keys.revoke(id)
/// ```
public struct APIKeyRecords: Sendable {
    /// The shared database.
    public let database: any SQLDatabase
    /// The clock keys are stamped with.
    public let clock: any WallClock
    let cipher: SealingKey

    /// Creates the records.
    ///
    /// - Parameters:
    ///   - context: the database and the clock.
    ///   - cipher: the key the lookup HMAC is derived from.
    public init(_ context: RecordContext, cipher: SealingKey) { (database, clock, self.cipher) = (context.database, context.clock, cipher) }

    enum Columns: String {
        case id, name, scopes, secretHash = "secret_hash", lookup, lookupPrevious = "lookup_previous", createdAt = "created_at", expiresAt = "expires_at", revokedAt = "revoked_at", family
    }

    /// The key table: as released in v3, then keyed lookups, expiry and revocation.
    ///
    /// - Parameter migrator: the migrator to add `api_keys.v1` and `api_keys.v2` to.
    public static func register(_ migrator: inout Migrator) {
        migrator.registerMigration("api_keys.v1", replaces: ["v3-api-keys"], [
            "CREATE TABLE api_keys (id TEXT PRIMARY KEY, name TEXT NOT NULL, scopes TEXT NOT NULL, secret_hash TEXT NOT NULL, created_at {REAL} NOT NULL)",
        ])
        migrator.registerMigration("api_keys.v2", [
            "ALTER TABLE api_keys ADD COLUMN lookup TEXT",
            "ALTER TABLE api_keys ADD COLUMN expires_at {REAL}",
            "ALTER TABLE api_keys ADD COLUMN revoked_at {REAL}",
            "ALTER TABLE api_keys ADD COLUMN family TEXT",
        ])
        // A lookup moved to a new evidence key keeps the one before, for nodes not yet restarted with the new key.
        migrator.registerMigration("api_keys.v3", ["ALTER TABLE api_keys ADD COLUMN lookup_previous TEXT"])
    }

    /// The id of a key: 16 hex digits of its SHA-256.
    ///
    /// - Parameter key: the key as the caller sends it.
    /// - Returns: 16 lower-case hex digits.
    public static func id(of key: String) -> String { String(sha256Hex(key).prefix(16)) }

    static let purpose = "tulga api-key lookup v1"

    /// `<key id>:<HMAC>` under the current evidence key.
    func lookup(_ key: String) -> String { "\(cipher.keyID):\(cipher.mac(purpose: Self.purpose, key) ?? "")" }

    /// Whether `stored` is the lookup of `key`, and whether under the current evidence key. A lookup
    /// from before key ids were kept (bare HMAC) is tried under every key present.
    func matches(_ stored: String, _ key: String) -> (match: Bool, current: Bool) {
        let parts = stored.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        if parts.count == 2 {
            guard let mac = cipher.mac(purpose: Self.purpose, key, keyID: parts[0]) else { return (false, false) }
            return (constantTimeEquals(parts[1], mac), parts[0] == cipher.keyID)
        }
        let found = ([cipher.keyID] + cipher.retiredIDs).contains { id in cipher.mac(purpose: Self.purpose, key, keyID: id).map { constantTimeEquals(stored, $0) } ?? false }
        return (found, false)
    }

    /// How many usable (neither revoked nor expired) keys' lookups are not under the evidence key `keyID`
    /// (they move on their next use).
    ///
    /// - Throws: ``DatabaseFailure``.
    public func lookupsNotUnder(_ keyID: String) async throws -> Int {
        let now = clock.now()
        return try await database.transaction { db in
            try db.one("""
                SELECT COUNT(*) AS n FROM api_keys WHERE revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?) AND (lookup IS NULL OR lookup NOT LIKE ?)
                """, [.double(now), .text(keyID + ":%")])?["n"].int ?? 0
        }
    }

    /// Registers a key of at least 32 characters with `scopes`. A key with the same id is replaced
    /// (a new name or scopes), unless it was revoked: a revoked key never comes back.
    ///
    /// - Parameters:
    ///   - name: a name for people.
    ///   - scopes: what the key may call.
    ///   - key: the secret key, at least 32 characters; only its keyed HMAC is stored.
    ///   - expiresAt: when it stops working, if it should.
    ///   - actor: who adds it, for the audit.
    /// - Returns: The stored record.
    /// - Throws: ``APIKeyError`` `.weakKey` for a key shorter than 32 characters, `.revoked` for a revoked key;
    ///   ``DatabaseFailure`` from the database.
    public func add(name: String, scopes: Set<String>, key: String, expiresAt: Double? = nil, actor: String = "admin") async throws -> APIKeyRecord {
        guard key.count >= 32 else { throw APIKeyError(.weakKey, "an API key must have at least 32 characters") }
        let id = Self.id(of: key), lookup = lookup(key), now = clock.now()
        return try await database.transaction { db in
            var family = id
            if let existing = try db.one("SELECT * FROM api_keys WHERE id = ?", [.text(id)]) {
                let old = try Self.record(existing)
                guard old.revokedAt == nil else { throw APIKeyError(.revoked, "API key \(id) was revoked; a revoked key is never added again") }
                family = old.owner
            }
            try db.execute("DELETE FROM api_keys WHERE id = ?", [.text(id)])
            try db.execute("INSERT INTO api_keys (id, name, scopes, secret_hash, lookup, created_at, expires_at, family) VALUES (?, ?, ?, '', ?, ?, ?, ?)",
                           [.text(id), .text(name), .text(scopes.sorted().joined(separator: ",")), .text(lookup), .double(now), SQLValue(expiresAt), .text(family)])
            try AuditLog.append(db, at: now, actor: actor, action: "api_key.add", subject: id, detail: name)
            return APIKeyRecord(id: id, name: name, scopes: scopes, createdAt: now, expiresAt: expiresAt, revokedAt: nil, owner: family)
        }
    }

    static func record(_ row: SQLRow) throws -> APIKeyRecord {
        APIKeyRecord(id: try row.text(Columns.id), name: try row.text(Columns.name),
                     scopes: Set(try row.text(Columns.scopes).split(separator: ",").map(String.init)), createdAt: try row.double(Columns.createdAt),
                     expiresAt: try row.optionalDouble(Columns.expiresAt), revokedAt: try row.optionalDouble(Columns.revokedAt),
                     owner: try row.optionalText(Columns.family) ?? row.text(Columns.id))
    }

    /// The key's record if the key is known, matches, and is neither revoked nor expired; nil otherwise.
    ///
    /// - Parameter key: the key as the caller sends it.
    /// - Returns: The record, or `nil` for an unknown, wrong, revoked or expired key.
    /// - Throws: ``StorageError`` `.damagedRow` for a damaged row; ``DatabaseFailure`` from the database.
    public func authenticate(_ key: String) async throws -> APIKeyRecord? {
        let id = Self.id(of: key), expected = lookup(key), now = clock.now()
        guard let row = try await database.transaction({ db in try db.one("SELECT * FROM api_keys WHERE id = ?", [.text(id)]) }) else { return nil }
        let record = try Self.record(row)
        if let stored = try row.optionalText(Columns.lookup), !stored.isEmpty {
            let (match, current) = matches(stored, key)
            // A node still on the key before a rotation finds the lookup it knows in `lookup_previous`.
            let previous = try row.optionalText(Columns.lookupPrevious)
            guard match || previous.map({ matches($0, key).match }) == true else { return nil }
            // Made under a key since rotated: moved to the current one now that the key is at hand.
            if match && !current {
                try await database.transaction { db in
                    try db.execute("UPDATE api_keys SET lookup = ?, lookup_previous = ? WHERE id = ? AND lookup = ?",
                                   [.text(expected), .text(stored), .text(id), .text(stored)])
                }
            }
        } else {
            // A key from an older build: its scrypt hash once, then the keyed lookup from now on.
            guard SecretHash.verify(key, against: try row.text(Columns.secretHash)) else { return nil }
            try await database.transaction { db in
                try db.execute("UPDATE api_keys SET lookup = ?, secret_hash = '' WHERE id = ?", [.text(expected), .text(id)])
            }
        }
        return record.isUsable(at: now) ? record : nil
    }

    /// Every key, usable or not, oldest first; no secret in them.
    ///
    /// - Returns: The records.
    /// - Throws: ``StorageError`` `.damagedRow`; ``DatabaseFailure``.
    public func list() async throws -> [APIKeyRecord] {
        try await database.transaction { db in try db.query("SELECT * FROM api_keys ORDER BY created_at, id", []).map(Self.record) }
    }

    /// Revokes a key: every node refuses it once its short cache entry lapses.
    ///
    /// - Parameters:
    ///   - id: the key's id.
    ///   - actor: who revokes it, for the audit.
    /// - Throws: ``APIKeyError`` `.notFound`; ``DatabaseFailure``.
    public func revoke(_ id: String, actor: String = "admin") async throws {
        let now = clock.now()
        try await database.transaction { db in
            guard try db.one("SELECT id FROM api_keys WHERE id = ?", [.text(id)]) != nil else { throw APIKeyError(.notFound, "no API key \(id)") }
            try db.execute("UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", [.double(now), .text(id)])
            try AuditLog.append(db, at: now, actor: actor, action: "api_key.revoke", subject: id, detail: "")
        }
    }

    /// Replaces a key with `newKey` (same name, scopes and family, so everything the old key filed
    /// stays its own) and revokes the old one, in one transaction.
    ///
    /// - Parameters:
    ///   - id: the old key's id.
    ///   - newKey: the new secret key, at least 32 characters.
    ///   - expiresAt: when the new key stops working, if it should.
    ///   - actor: who rotates it, for the audit.
    /// - Returns: The new key's record.
    /// - Throws: ``APIKeyError`` `.notFound`, `.weakKey`, `.revoked` for a revoked old key or a new key already known;
    ///   ``DatabaseFailure``.
    public func rotate(_ id: String, to newKey: String, expiresAt: Double? = nil, actor: String = "admin") async throws -> APIKeyRecord {
        guard newKey.count >= 32 else { throw APIKeyError(.weakKey, "an API key must have at least 32 characters") }
        let newID = Self.id(of: newKey), lookup = lookup(newKey), now = clock.now()
        return try await database.transaction { db in
            guard let row = try db.one("SELECT * FROM api_keys WHERE id = ?", [.text(id)]) else { throw APIKeyError(.notFound, "no API key \(id)") }
            let old = try Self.record(row)
            guard old.revokedAt == nil else { throw APIKeyError(.revoked, "API key \(id) is revoked: add a new key instead") }
            guard try db.one("SELECT id FROM api_keys WHERE id = ?", [.text(newID)]) == nil else {
                throw APIKeyError(.revoked, "the new key is known already: use a new one")
            }
            try db.execute("UPDATE api_keys SET revoked_at = ? WHERE id = ?", [.double(now), .text(id)])
            try db.execute("INSERT INTO api_keys (id, name, scopes, secret_hash, lookup, created_at, expires_at, family) VALUES (?, ?, ?, '', ?, ?, ?, ?)",
                           [.text(newID), .text(old.name), .text(old.scopes.sorted().joined(separator: ",")), .text(lookup), .double(now), SQLValue(expiresAt),
                            .text(old.owner)])
            try AuditLog.append(db, at: now, actor: actor, action: "api_key.rotate", subject: id, detail: newID)
            return APIKeyRecord(id: newID, name: old.name, scopes: old.scopes, createdAt: now, expiresAt: expiresAt, revokedAt: nil, owner: old.owner)
        }
    }
}
