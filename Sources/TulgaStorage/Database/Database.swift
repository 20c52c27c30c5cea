public import Foundation
public import TulgaCore
import TulgaCrypto

/// A value bound to or read from SQL.
public enum SQLValue: Sendable, Hashable {
    case null
    case int(Int64)
    case double(Double)
    case text(String)
    case blob(Data)

    public var int: Int? { if case .int(let v) = self { Int(v) } else if case .double(let d) = self { Int(d) } else { nil } }
    public var double: Double? { if case .double(let v) = self { v } else if case .int(let i) = self { Double(i) } else { nil } }
    public var text: String? { if case .text(let v) = self { v } else { nil } }
    public var blob: Data? { if case .blob(let v) = self { v } else { nil } }
    public var isNull: Bool { self == .null }
}

extension SQLValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral, ExpressibleByNilLiteral {
    public init(stringLiteral value: String) { self = .text(value) }
    public init(integerLiteral value: Int64) { self = .int(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(nilLiteral: ()) { self = .null }
    public init(_ value: String?) { self = value.map { .text($0) } ?? .null }
    public init(_ value: Int) { self = .int(Int64(value)) }
    public init(_ value: Double?) { self = value.map { .double($0) } ?? .null }
    public init(_ value: Data?) { self = value.map { .blob($0) } ?? .null }
}

/// One result row, by column name.
public struct SQLRow: Sendable {
    public let columns: [String: SQLValue]
    public init(_ columns: [String: SQLValue]) { self.columns = columns }
    public subscript(_ name: String) -> SQLValue { columns[name] ?? .null }
}

/// SQL inside one transaction. `?` placeholders; the PostgreSQL backend renumbers them.
public protocol SQLSession {
    func execute(_ sql: String, _ arguments: [SQLValue]) throws
    func query(_ sql: String, _ arguments: [SQLValue]) throws -> [SQLRow]
    /// Serialises transactions that name the same key until this one ends.
    func lock(_ key: String) throws
}

extension SQLSession {
    public func execute(_ sql: String) throws { try execute(sql, []) }
    public func one(_ sql: String, _ arguments: [SQLValue] = []) throws -> SQLRow? { try query(sql, arguments).first }
}

/// Which SQL dialect a backend speaks, for DDL only; DML is shared.
public enum SQLDialect: Sendable { case sqlite, postgres }

/// A database that runs synchronous transaction bodies: SQLite through GRDB, or PostgreSQL
/// through postgres-nio. A thrown error rolls the transaction back.
public protocol SQLDatabase: Sendable {
    var dialect: SQLDialect { get }
    func transaction<T: Sendable>(_ body: @escaping @Sendable (any SQLSession) throws -> T) async throws -> T
    func close() async
}

/// A database-level failure, with the SQL that failed when there is one.
public struct DatabaseFailure: Error, CustomStringConvertible, Sendable {
    public let message: String
    public let sql: String?
    public init(_ message: String, sql: String? = nil) {
        self.message = message
        self.sql = sql
    }
    public var description: String { sql.map { "\(message) (in: \($0))" } ?? message }
}

/// Opens `url`: `postgres://user[:password]@host[:port]/database`, `sqlite:PATH`, or a plain path (SQLite).
public func openDatabase(_ url: String) async throws -> any SQLDatabase {
    if url.hasPrefix("postgres://") || url.hasPrefix("postgresql://") {
        return try await PostgresDatabase(url: url)
    }
    let path = url.hasPrefix("sqlite:") ? String(url.dropFirst("sqlite:".count)) : url
    return try SQLiteDatabase(path: path)
}

extension DatabaseFailure: TulgaError {
    public var errorCode: String { "database" }
    public var reason: String { description }
    public var kind: ProblemKind { .internalError }
    public var fileID: String { "TulgaStorage/Database.swift" }
    public var line: Int { 0 }
}

/// A fresh record id: `prefix-` and 20 hex digits from the CSPRNG.
public func newRecordID(_ prefix: String) throws -> String { prefix + "-" + hex(try randomBytes(10)) }

/// What every module's records stand on: one database and the injected clock.
public struct RecordContext: Sendable {
    public let database: any SQLDatabase
    public let clock: any WallClock
    public init(database: any SQLDatabase, clock: any WallClock) {
        self.database = database
        self.clock = clock
    }
}
