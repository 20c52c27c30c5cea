import Foundation
public import TulgaCrypto

/// One named migration: DDL statements, then an optional step in Swift, applied once, in one
/// transaction. `{REAL}`, `{BLOB}` and `{INT}` become each dialect's type.
public struct Migration: Sendable {
    /// Unique, e.g. `"attempts.v1"`; never changed once released.
    public let name: String
    /// Names under which the same tables were released before (a database that recorded one
    /// of them already has this migration's tables).
    public let replaces: [String]
    /// The DDL statements, with `{REAL}`, `{BLOB}` and `{INT}` placeholders.
    public let statements: [String]
    /// Work on the rows after the statements, in the same transaction (re-sealing with the keys,
    /// the audit log's first keyed row); `nil` for DDL only.
    public let step: (@Sendable (MigrationContext) throws -> Void)?
}

/// What a migration's step works with.
public struct MigrationContext {
    /// The migration's transaction; its audit key is the one the records were opened with.
    public let db: any SQLSession
    /// The service's keys, when the migrator was given them.
    public let keys: ServiceKeys?
    /// The injected clock's time.
    public let now: Double

    /// The keys, or a failure naming the migration that needs them.
    public func requireKeys(_ migration: String) throws -> ServiceKeys {
        guard let keys else { throw DatabaseFailure("migration \(migration) needs the service's keys: open the records with them") }
        return keys
    }
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
    /// Every registered migration, in the order they apply.
    public private(set) var migrations: [Migration] = []

    /// Creates a migrator with no migrations.
    public init() {}

    /// Adds a migration after those already registered.
    ///
    /// - Parameters:
    ///   - name: unique and never changed once released.
    ///   - replaces: older names the same statements were released under.
    ///   - statements: DDL, with `{REAL}`, `{BLOB}`, `{INT}` placeholders.
    ///   - step: work on the rows after the statements, in the same transaction.
    ///
    /// - Precondition: `name` is not registered yet.
    public mutating func registerMigration(_ name: String, replaces: [String] = [], _ statements: [String],
                                           step: (@Sendable (MigrationContext) throws -> Void)? = nil) {
        precondition(!migrations.contains { $0.name == name }, "migration \(name) is registered twice")
        migrations.append(Migration(name: name, replaces: replaces, statements: statements, step: step))
    }

    /// Applies, in order, each migration for which neither its name nor one it replaces is recorded.
    ///
    /// - Parameters:
    ///   - database: the database to bring up to date; it records applied names in `schema_migrations`.
    ///   - keys: the service's keys, for migrations whose step re-seals rows.
    ///   - now: the injected clock's time, for rows a step writes.
    /// - Throws: ``DatabaseFailure`` naming the statement that failed; whatever a step throws; that migration is rolled back.
    public func migrate(_ database: any SQLDatabase, keys: ServiceKeys? = nil, now: Double = 0) async throws {
        let dialect = database.dialect
        try await database.transaction { db in
            try db.lock("schema")
            try db.execute("CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY)")
        }
        for migration in migrations {
            try await database.transaction { db in
                try db.lock("schema")
                for name in [migration.name] + migration.replaces where try Self.isRecorded(db, name) { return }
                for statement in migration.statements { try db.execute(Self.dialectSQL(statement, dialect)) }
                try migration.step?(MigrationContext(db: db, keys: keys, now: now))
                try db.execute("INSERT INTO schema_migrations (name) VALUES (?)", [.text(migration.name)])
                // Once every migration that replaces a released name is in, record that name too,
                // so an older build opening this database does not create the tables again.
                for legacy in migration.replaces where try !Self.isRecorded(db, legacy) {
                    let all = try migrations.filter { $0.replaces.contains(legacy) }.allSatisfy { try Self.isRecorded(db, $0.name) }
                    if all { try db.execute("INSERT INTO schema_migrations (name) VALUES (?)", [.text(legacy)]) }
                }
            }
        }
    }

    static func isRecorded(_ db: any SQLSession, _ name: String) throws -> Bool {
        try db.one("SELECT name FROM schema_migrations WHERE name = ?", [.text(name)]) != nil
    }

    static func dialectSQL(_ sql: String, _ dialect: SQLDialect) -> String {
        let types = dialect == .sqlite ? ("REAL", "BLOB", "INTEGER") : ("DOUBLE PRECISION", "BYTEA", "BIGINT")
        return sql.replacingOccurrences(of: "{REAL}", with: types.0).replacingOccurrences(of: "{BLOB}", with: types.1)
            .replacingOccurrences(of: "{INT}", with: types.2)
    }
}
