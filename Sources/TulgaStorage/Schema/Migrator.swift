import Foundation

/// One named migration: DDL statements, applied once, in one transaction.
/// `{REAL}`, `{BLOB}` and `{INT}` become each dialect's type.
public struct Migration: Sendable {
    public let name: String
    /// Names under which the same tables were released before (a database that recorded one
    /// of them already has this migration's tables).
    public let replaces: [String]
    public let statements: [String]
}

/// The one ordered migrator, in GRDB's `DatabaseMigrator` style: each module registers its own
/// named migrations; released migrations are never edited, new ones are added after them.
///
/// ```swift
/// var migrator = Migrator()
/// migrator.registerMigration("registry.v1", replaces: ["v1-core"], ["CREATE TABLE registry (…)"])
/// try await migrator.migrate(database)
/// ```
///
/// ## Topics
/// - ``registerMigration(_:replaces:_:)``
/// - ``migrate(_:)``
public struct Migrator: Sendable {
    public private(set) var migrations: [Migration] = []

    public init() {}

    /// Adds a migration after those already registered.
    /// - Parameters:
    ///   - name: unique and never changed once released.
    ///   - replaces: older names the same statements were released under.
    ///   - statements: DDL, with `{REAL}`, `{BLOB}`, `{INT}` placeholders.
    public mutating func registerMigration(_ name: String, replaces: [String] = [], _ statements: [String]) {
        precondition(!migrations.contains { $0.name == name }, "migration \(name) is registered twice")
        migrations.append(Migration(name: name, replaces: replaces, statements: statements))
    }

    /// Applies, in order, each migration for which neither its name nor one it replaces is recorded.
    /// - Throws: ``DatabaseFailure`` naming the statement that failed; that migration is rolled back.
    public func migrate(_ database: any SQLDatabase) async throws {
        let dialect = database.dialect
        try await database.transaction { db in
            try db.lock("schema")
            try db.execute("CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY)")
        }
        for migration in migrations {
            try await database.transaction { db in
                try db.lock("schema")
                for name in [migration.name] + migration.replaces
                where try db.one("SELECT name FROM schema_migrations WHERE name = ?", [.text(name)]) != nil { return }
                for statement in migration.statements { try db.execute(Self.dialectSQL(statement, dialect)) }
                try db.execute("INSERT INTO schema_migrations (name) VALUES (?)", [.text(migration.name)])
            }
        }
    }

    static func dialectSQL(_ sql: String, _ dialect: SQLDialect) -> String {
        let types = dialect == .sqlite ? ("REAL", "BLOB", "INTEGER") : ("DOUBLE PRECISION", "BYTEA", "BIGINT")
        return sql.replacingOccurrences(of: "{REAL}", with: types.0).replacingOccurrences(of: "{BLOB}", with: types.1)
            .replacingOccurrences(of: "{INT}", with: types.2)
    }
}
