public import TulgaCore
import TulgaCrypto
public import TulgaStorage

/// The browser portal's sessions. Owns `portal_sessions`: each row keeps the SHA-256 of the
/// cookie's secret (never the secret), the IIN bound by SMS, and the SHA-256 of a sign-in's token.
///
/// ```swift
/// let portal = PortalSessionRecords(context, settings: PortalSettings())
/// let (credential, session) = try await portal.begin()                  // Set-Cookie: credential.secret
/// let same = try await portal.session(credential)                       // on each request
/// _ = try await portal.apply(.codeRequested(iin: iin), to: session.id)
/// ```
public struct PortalSessionRecords: Sendable {
    /// The shared database.
    public let database: any SQLDatabase
    /// The clock sessions are stamped and expired with.
    public let clock: any WallClock
    /// Lifetimes and binding.
    public let rules: PortalRules

    /// Creates the records.
    ///
    /// - Parameters:
    ///   - context: the database and the clock.
    ///   - settings: the `portal` section.
    public init(_ context: RecordContext, settings: PortalSettings) {
        (database, clock, rules) = (context.database, context.clock, PortalRules(settings: settings))
    }

    enum Columns: String {
        case id, secretHash = "secret_hash", createdAt = "created_at", lastSeenAt = "last_seen_at", expiresAt = "expires_at"
        case pendingIIN = "pending_iin", iin, signedInIIN = "signed_in_iin", signInHash = "signin_hash", endedAt = "ended_at"
    }

    /// The session table.
    ///
    /// - Parameter migrator: the migrator to add `portal.v1` to.
    public static func register(_ migrator: inout Migrator) {
        migrator.registerMigration("portal.v1", [
            """
            CREATE TABLE portal_sessions (
              id TEXT PRIMARY KEY, secret_hash TEXT NOT NULL UNIQUE, created_at {REAL} NOT NULL, last_seen_at {REAL} NOT NULL,
              expires_at {REAL} NOT NULL, pending_iin TEXT, iin TEXT, signed_in_iin TEXT, signin_hash TEXT, ended_at {REAL})
            """,
            "CREATE INDEX portal_sessions_expires ON portal_sessions(expires_at)",
        ])
    }

    static func session(_ row: SQLRow) throws -> PortalSession {
        var s = PortalSession(id: try row.text(Columns.id), now: try row.double(Columns.createdAt))
        s.lastSeenAt = try row.double(Columns.lastSeenAt)
        s.pendingIIN = try row.optionalText(Columns.pendingIIN)
        s.iin = try row.optionalText(Columns.iin)
        s.signedInIIN = try row.optionalText(Columns.signedInIIN)
        s.signInHash = try row.optionalText(Columns.signInHash)
        s.endedAt = try row.optionalDouble(Columns.endedAt)
        return s
    }

    /// Begins a session. Rows ended or expired a day ago go as new ones come.
    ///
    /// - Returns: The credential for the cookie (given this once) and the session.
    /// - Throws: `CryptoFailure`; ``DatabaseFailure``.
    public func begin() async throws -> (PortalCredential, PortalSession) {
        let credential = try PortalCredential(), session = PortalSession(id: hex(try randomBytes(16)), now: clock.now())
        let expires = rules.expiresAt(session)
        try await database.transaction { db in
            try db.execute("DELETE FROM portal_sessions WHERE expires_at < ?", [.double(session.createdAt - 86400)])
            try db.execute("""
                INSERT INTO portal_sessions (id, secret_hash, created_at, last_seen_at, expires_at) VALUES (?, ?, ?, ?, ?)
                """, [.text(session.id), .text(credential.hash), .double(session.createdAt), .double(session.lastSeenAt), .double(expires)])
        }
        return (credential, session)
    }

    /// The live session the credential opens; its last use is written at most once a minute.
    ///
    /// - Parameter credential: the cookie's secret.
    /// - Returns: The session.
    /// - Throws: ``PortalError`` `.session` for an unknown, ended or expired session; ``StorageError``; ``DatabaseFailure``.
    public func session(_ credential: PortalCredential) async throws -> PortalSession {
        let now = clock.now(), rules = rules, hash = credential.hash
        return try await database.transaction { db in
            guard let row = try db.one("SELECT * FROM portal_sessions WHERE secret_hash = ?", [.text(hash)]) else {
                throw PortalError(.session, "no such session: start again")
            }
            var session = try Self.session(row)
            guard rules.isLive(session, now: now) else { throw PortalError(.session, "the session has ended or expired: start again") }
            if now - session.lastSeenAt >= 60 {
                session.lastSeenAt = now
                try db.execute("UPDATE portal_sessions SET last_seen_at = ?, expires_at = ? WHERE id = ?",
                               [.double(now), .double(rules.expiresAt(session)), .text(session.id)])
            }
            return session
        }
    }

    /// Gives the live session `id` a new secret: the old cookie opens nothing from now on (against a cookie planted
    /// before the applicant bound an IIN or signed in).
    ///
    /// - Parameter id: the session's id.
    /// - Returns: The new credential, for the `Set-Cookie` and the page's new CSRF token.
    /// - Throws: ``PortalError`` `.session` for an unknown session; `CryptoFailure`; ``DatabaseFailure``.
    public func rotate(_ id: String) async throws -> PortalCredential {
        let credential = try PortalCredential(), now = clock.now()
        try await database.transaction { db in
            try db.lock("portal:" + id)
            guard try db.one("SELECT id FROM portal_sessions WHERE id = ? AND ended_at IS NULL", [.text(id)]) != nil else {
                throw PortalError(.session, "no such session: start again")
            }
            try db.execute("UPDATE portal_sessions SET secret_hash = ? WHERE id = ?", [.text(credential.hash), .text(id)])
            try AuditLog.append(db, at: now, actor: "portal:" + id, action: "portal.rotate", subject: "", detail: "")
        }
        return credential
    }

    /// Moves the session by `event` under ``PortalRules/transition(from:event:now:)`` and saves it, in one
    /// transaction holding the session's lock; binding, sign-in and the end are audited.
    ///
    /// - Parameters:
    ///   - event: what happened.
    ///   - id: the session's id.
    /// - Returns: The session after it.
    /// - Throws: ``PortalError``; ``StorageError``; ``DatabaseFailure``.
    @discardableResult
    public func apply(_ event: PortalEvent, to id: String) async throws -> PortalSession {
        let now = clock.now(), rules = rules
        return try await database.transaction { db in
            try db.lock("portal:" + id)
            guard let row = try db.one("SELECT * FROM portal_sessions WHERE id = ?", [.text(id)]) else {
                throw PortalError(.session, "no such session: start again")
            }
            let next = try rules.transition(from: try Self.session(row), event: event, now: now)
            try db.execute("""
                UPDATE portal_sessions SET last_seen_at = ?, expires_at = ?, pending_iin = ?, iin = ?, signed_in_iin = ?, signin_hash = ?, ended_at = ?
                WHERE id = ?
                """, [.double(next.lastSeenAt), .double(rules.expiresAt(next)), SQLValue(next.pendingIIN), SQLValue(next.iin),
                      SQLValue(next.signedInIIN), SQLValue(next.signInHash), SQLValue(next.endedAt), .text(id)])
            let actor = "portal:" + id
            switch event {
            case .codeConfirmed: try AuditLog.append(db, at: now, actor: actor, action: "portal.bind", subject: next.iin ?? "", detail: "")
            case .signedIn(let iin, _): try AuditLog.append(db, at: now, actor: actor, action: "portal.signin", subject: iin, detail: "")
            case .ended: try AuditLog.append(db, at: now, actor: actor, action: "portal.end", subject: next.iin ?? next.signedInIIN ?? "", detail: "")
            case .codeRequested: break
            }
            return next
        }
    }
}
