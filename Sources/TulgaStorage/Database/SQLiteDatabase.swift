import Foundation
import GRDB
import TulgaCore

/// SQLite through GRDB: a WAL-mode `DatabasePool`, immediate write transactions, a busy
/// timeout so several processes can share the file.
public final class SQLiteDatabase: SQLDatabase {
    private let pool: DatabasePool
    /// Always ``SQLDialect/sqlite``.
    public var dialect: SQLDialect { .sqlite }

    /// Opens or creates the database file, creating its folder (mode 0700) if needed.
    ///
    /// - Parameter path: the file path, e.g. `/var/lib/tulga/tulga.sqlite`.
    /// - Throws: ``DatabaseFailure`` if the file cannot be opened; the file system's error if the folder cannot be created.
    public init(path: String) throws {
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            do { try PrivateFile.makeFolder(directory) } catch { throw DatabaseFailure("\(error)") }
        }
        // Private from the first byte: an empty file is an empty database, and SQLite gives its WAL and
        // shared-memory files the database file's mode. Files from older builds are narrowed.
        if PrivateFile.mode(path) == nil {
            do { try PrivateFile.create(path, Data()) } catch { throw DatabaseFailure("cannot create the SQLite database \(error)") }
        }
        for file in [path, path + "-wal", path + "-shm"] where (PrivateFile.mode(file) ?? 0) & 0o077 != 0 {
            do { try PrivateFile.narrow(file) } catch { throw DatabaseFailure("cannot make the SQLite database private: \(error)") }
        }
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        do {
            pool = try DatabasePool(path: path, configuration: configuration)
        } catch {
            throw DatabaseFailure("cannot open the SQLite database \(path): \(error)")
        }
    }

    /// Runs `body` in one immediate transaction; a thrown error rolls it back.
    ///
    /// - Parameter body: the statements, synchronous; its result is returned.
    /// - Returns: What `body` returned.
    /// - Throws: ``DatabaseFailure`` from SQLite, or whatever `body` throws.
    public func transaction<T: Sendable>(_ body: @escaping @Sendable (any SQLSession) throws -> T) async throws -> T {
        try await pool.writeWithoutTransaction { db in
            var result: T?
            try db.inTransaction(.immediate) {
                result = try body(GRDBSession(db: db))
                return .commit
            }
            guard let result else { throw DatabaseFailure("transaction produced no result") }
            return result
        }
    }

    /// Closes the pool; errors on closing are ignored.
    public func close() async { try? pool.close() }
}

struct GRDBSession: SQLSession {
    let db: Database

    func execute(_ sql: String, _ arguments: [SQLValue]) throws {
        do { try db.execute(sql: sql, arguments: StatementArguments(arguments.map(\.grdb))) } catch let error as DatabaseError {
            throw DatabaseFailure(error.message ?? "\(error)", sql: sql)
        }
    }

    func query(_ sql: String, _ arguments: [SQLValue]) throws -> [SQLRow] {
        let rows: [Row]
        do { rows = try Row.fetchAll(db, sql: sql, arguments: StatementArguments(arguments.map(\.grdb))) } catch let error as DatabaseError {
            throw DatabaseFailure(error.message ?? "\(error)", sql: sql)
        }
        return rows.map { row in
            var columns: [String: SQLValue] = [:]
            for (name, value) in row {
                columns[name] = switch value.storage {
                case .null: .null
                case .int64(let v): .int(v)
                case .double(let v): .double(v)
                case .string(let v): .text(v)
                case .blob(let v): .blob(v)
                }
            }
            return SQLRow(columns)
        }
    }

    /// SQLite serialises all writers already (immediate transactions).
    func lock(_ key: String) throws {}
}

extension SQLValue {
    var grdb: (any DatabaseValueConvertible)? {
        switch self {
        case .null: nil
        case .int(let v): v
        case .double(let v): v
        case .text(let v): v
        case .blob(let v): v
        }
    }
}
