public import TulgaCrypto

/// A database whose transactions carry the audit key, so every module's `AuditLog.append` chains
/// its row with the key without each caller passing it. The key stays in memory, outside the database.
///
/// ```swift
/// let database = KeyedDatabase(try await openDatabase(url), auditKey: keys.audit)
/// ```
public struct KeyedDatabase: SQLDatabase {
    /// The database underneath.
    public let base: any SQLDatabase
    /// The audit key.
    public let auditKey: AuditKey

    /// - Parameters:
    ///   - base: the database to wrap (a wrapped one is unwrapped first).
    ///   - auditKey: the key audit rows are chained with.
    public init(_ base: any SQLDatabase, auditKey: AuditKey) {
        self.base = (base as? KeyedDatabase)?.base ?? base
        self.auditKey = auditKey
    }

    /// The dialect of the database underneath.
    public var dialect: SQLDialect { base.dialect }

    /// Runs `body` in one transaction of the database underneath, with the audit key.
    public func transaction<T: Sendable>(_ body: @escaping @Sendable (any SQLSession) throws -> T) async throws -> T {
        let key = auditKey
        return try await base.transaction { session in try body(KeyedSession(base: session, auditKey: key)) }
    }

    /// Closes the database underneath.
    public func close() async { await base.close() }
}

struct KeyedSession: SQLSession {
    let base: any SQLSession
    let auditKey: AuditKey?
    func execute(_ sql: String, _ arguments: [SQLValue]) throws { try base.execute(sql, arguments) }
    func query(_ sql: String, _ arguments: [SQLValue]) throws -> [SQLRow] { try base.query(sql, arguments) }
    func lock(_ key: String) throws { try base.lock(key) }
}
