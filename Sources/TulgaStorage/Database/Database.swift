public import Foundation
public import TulgaCore
public import TulgaCrypto

/// A value bound to or read from SQL.
///
/// Literals build values directly: `"abc"` is `.text`, `42` is `.int`, `nil` is `.null`.
///
/// ```swift
/// try session.execute("UPDATE cases SET state = ? WHERE id = ?", ["open", SQLValue(id)])
/// ```
public enum SQLValue: Sendable, Hashable {
    /// SQL `NULL`.
    case null
    /// An integer column.
    case int(Int64)
    /// A floating-point column.
    case double(Double)
    /// A text column.
    case text(String)
    /// A byte column (`BLOB` in SQLite, `BYTEA` in PostgreSQL).
    case blob(Data)

    /// The value as an `Int`: integers, and doubles with no fractional part; otherwise `nil`.
    public var int: Int? { if case .int(let v) = self { Int(exactly: v) } else if case .double(let d) = self { Int(exactly: d) } else { nil } }
    /// The value as a `Double`: doubles as they are, integers converted; otherwise `nil`.
    public var double: Double? { if case .double(let v) = self { v } else if case .int(let i) = self { Double(i) } else { nil } }
    /// The text, or `nil` if the value is not text.
    public var text: String? { if case .text(let v) = self { v } else { nil } }
    /// The bytes, or `nil` if the value is not a blob.
    public var blob: Data? { if case .blob(let v) = self { v } else { nil } }
    /// Whether the value is SQL `NULL`.
    public var isNull: Bool { self == .null }
}

extension SQLValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral, ExpressibleByNilLiteral {
    /// A string literal becomes `.text`.
    public init(stringLiteral value: String) { self = .text(value) }
    /// An integer literal becomes `.int`.
    public init(integerLiteral value: Int64) { self = .int(value) }
    /// A float literal becomes `.double`.
    public init(floatLiteral value: Double) { self = .double(value) }
    /// `nil` becomes `.null`.
    public init(nilLiteral: ()) { self = .null }
    /// Optional text: `nil` becomes `.null`.
    ///
    /// - Parameter value: the text, or `nil`.
    public init(_ value: String?) { self = value.map { .text($0) } ?? .null }
    /// An `Int`, stored as a 64-bit integer.
    ///
    /// - Parameter value: the integer.
    public init(_ value: Int) { self = .int(Int64(value)) }
    /// An optional double: `nil` becomes `.null`.
    ///
    /// - Parameter value: the number, or `nil`.
    public init(_ value: Double?) { self = value.map { .double($0) } ?? .null }
    /// Optional bytes: `nil` becomes `.null`.
    ///
    /// - Parameter value: the bytes, or `nil`.
    public init(_ value: Data?) { self = value.map { .blob($0) } ?? .null }
}

/// One result row, by column name.
public struct SQLRow: Sendable {
    /// The row's values by column name.
    public let columns: [String: SQLValue]
    /// Creates a row.
    ///
    /// - Parameter columns: the values by column name.
    public init(_ columns: [String: SQLValue]) { self.columns = columns }
    /// The named column's value; `.null` if the row has no such column.
    ///
    /// - Parameter name: the column name as the query returned it.
    public subscript(_ name: String) -> SQLValue { columns[name] ?? .null }
}

/// SQL inside one transaction. `?` placeholders; the PostgreSQL backend renumbers them.
public protocol SQLSession {
    /// Runs a statement that returns no rows.
    ///
    /// - Parameters:
    ///   - sql: the statement, with `?` placeholders.
    ///   - arguments: one value per placeholder, in order.
    /// - Throws: ``DatabaseFailure`` if the database refuses it.
    func execute(_ sql: String, _ arguments: [SQLValue]) throws
    /// Runs a query.
    ///
    /// - Parameters:
    ///   - sql: the query, with `?` placeholders.
    ///   - arguments: one value per placeholder, in order.
    /// - Returns: The rows, in the database's order.
    /// - Throws: ``DatabaseFailure`` if the database refuses it.
    func query(_ sql: String, _ arguments: [SQLValue]) throws -> [SQLRow]
    /// Serialises transactions that name the same key until this one ends.
    ///
    /// SQLite serialises every writer already, so there it does nothing; PostgreSQL takes a
    /// transaction-scoped advisory lock.
    ///
    /// - Parameter key: any string naming what is locked, e.g. an IIN.
    /// - Throws: ``DatabaseFailure`` if the lock cannot be taken.
    func lock(_ key: String) throws
    /// The key audit rows appended in this transaction are chained with; `nil` on a database not
    /// opened through ``KeyedDatabase``, where appending to the audit log fails.
    var auditKey: AuditKey? { get }
}

extension SQLSession {
    /// No audit key: only ``KeyedDatabase``'s sessions carry one.
    public var auditKey: AuditKey? { nil }
    /// Runs a statement without arguments.
    ///
    /// - Parameter sql: the statement.
    /// - Throws: ``DatabaseFailure`` if the database refuses it.
    public func execute(_ sql: String) throws { try execute(sql, []) }
    /// Runs a query and keeps its first row.
    ///
    /// - Parameters:
    ///   - sql: the query, with `?` placeholders.
    ///   - arguments: one value per placeholder, in order.
    /// - Returns: The first row, or `nil` if there is none.
    /// - Throws: ``DatabaseFailure`` if the database refuses it.
    public func one(_ sql: String, _ arguments: [SQLValue] = []) throws -> SQLRow? { try query(sql, arguments).first }
}

/// Which SQL dialect a backend speaks, for DDL only; DML is shared.
/// SQLite (GRDB) or PostgreSQL (postgres-nio).
public enum SQLDialect: Sendable { case sqlite, postgres }

/// A database that runs synchronous transaction bodies: SQLite through GRDB, or PostgreSQL
/// through postgres-nio. A thrown error rolls the transaction back.
///
/// ```swift
/// let database = try await openDatabase("sqlite:/var/lib/tulga/tulga.sqlite")
/// let count = try await database.transaction { session in
///     try session.one("SELECT count(*) AS n FROM attempts")?["n"].int ?? 0
/// }
/// ```
public protocol SQLDatabase: Sendable {
    /// The backend's dialect, for DDL.
    var dialect: SQLDialect { get }
    /// Runs `body` in one transaction and commits it; a thrown error rolls it back.
    ///
    /// - Parameter body: the statements, synchronous; its result is returned.
    /// - Returns: What `body` returned.
    /// - Throws: ``DatabaseFailure`` from the database, or whatever `body` throws.
    func transaction<T: Sendable>(_ body: @escaping @Sendable (any SQLSession) throws -> T) async throws -> T
    /// Closes the database's connections.
    func close() async
}

/// A database-level failure, with the SQL that failed when there is one.
public struct DatabaseFailure: Error, CustomStringConvertible, Sendable {
    /// What failed, in words.
    public let message: String
    /// The statement that failed, when there is one.
    public let sql: String?
    /// Creates a failure.
    ///
    /// - Parameters:
    ///   - message: what failed, in words.
    ///   - sql: the statement that failed, if any.
    public init(_ message: String, sql: String? = nil) {
        self.message = message
        self.sql = sql
    }
    /// The message, then the SQL in parentheses when there is one.
    public var description: String { sql.map { "\(message) (in: \($0))" } ?? message }
}

/// Opens `url`: `postgres://user[:password]@host[:port]/database[?sslmode=MODE&sslrootcert=PATH]`,
/// `sqlite:PATH`, or a plain path (SQLite).
///
/// PostgreSQL's `sslmode` is libpq's (`disable`, `prefer`, `require`, `verify-ca`, `verify-full`); without it
/// a loopback host is `prefer` and any other `verify-full`, against `sslrootcert` (a PEM file of CAs) or the
/// system's trust roots. See ``PostgresDatabase/init(url:poolSize:)``.
///
/// - Parameter url: the database URL or file path.
/// - Returns: A ``PostgresDatabase`` or a ``SQLiteDatabase``.
/// - Throws: ``DatabaseFailure`` if the URL cannot be read or the database cannot be opened or reached.
public func openDatabase(_ url: String) async throws -> any SQLDatabase {
    if url.hasPrefix("postgres://") || url.hasPrefix("postgresql://") {
        return try await PostgresDatabase(url: url)
    }
    let path = url.hasPrefix("sqlite:") ? String(url.dropFirst("sqlite:".count)) : url
    return try SQLiteDatabase(path: path)
}

extension DatabaseFailure: TulgaError {
    /// Always `"database"`.
    public var errorCode: String { "database" }
    /// The description: the message and any SQL.
    public var reason: String { description }
    /// Always ``ProblemKind/internalError``: the reason is logged, never shown.
    public var kind: ProblemKind { .internalError }
    /// A fixed file name; the failing SQL says more than a line would.
    public var fileID: String { "TulgaStorage/Database.swift" }
    /// Always 0.
    public var line: Int { 0 }
}

/// A fresh record id: `prefix-` and 20 hex digits from the CSPRNG.
///
/// - Parameter prefix: the record kind, e.g. `"att"`.
/// - Returns: An id such as `att-3f9c…`.
/// - Throws: `CryptoFailure` if the CSPRNG fails.
public func newRecordID(_ prefix: String) throws -> String { prefix + "-" + hex(try randomBytes(10)) }

/// What every module's records stand on: one database and the injected clock.
public struct RecordContext: Sendable {
    /// The database every module's records live in.
    public let database: any SQLDatabase
    /// The clock record timestamps come from.
    public let clock: any WallClock
    /// Creates a context.
    ///
    /// - Parameters:
    ///   - database: the shared database.
    ///   - clock: the clock; ``SystemClock`` in the service.
    public init(database: any SQLDatabase, clock: any WallClock) {
        self.database = database
        self.clock = clock
    }
}
