import Foundation
public import TulgaCrypto
import TulgaCore

/// Where a module keeps sealed blobs: the table, its key column, the sealed columns and the column
/// naming the key that sealed them. Each value is bound to `SealedPlace(table, column, id)`.
public struct SealedColumns: Sendable, Hashable {
    /// The table.
    public let table: String
    /// The row's key column (the place's row).
    public let id: String
    /// The sealed columns; any may be `NULL`.
    public let columns: [String]
    /// The column holding the sealing key's id.
    public let keyColumn: String

    /// - Parameters:
    ///   - table: the table.
    ///   - id: the row's key column.
    ///   - columns: the sealed columns.
    ///   - keyColumn: the key-id column, `key_id` unless given.
    public init(_ table: String, id: String, _ columns: [String], keyColumn: String = "key_id") {
        (self.table, self.id, self.columns, self.keyColumn) = (table, id, columns, keyColumn)
    }

    /// The place a value of `column` in row `row` is bound to.
    public func place(_ column: String, _ row: String) -> SealedPlace { SealedPlace(table, column, row) }
}

/// Re-sealing: once, inside the migration that binds values to their rows (blobs sealed by earlier
/// builds, without associated data), and under a new key after `tulga secrets rotate`, each row in
/// its own short transaction and only if no one changed it meanwhile.
public enum Reseal {
    /// Inside a migration's transaction: every blob of `spec`, sealed by an earlier build without
    /// associated data, sealed again bound to its row. A row whose blob does not open (damaged, or sealed
    /// with a key lost long ago) is set aside as `unreadable:<key id>`, audited, and left for an operator:
    /// it never blocks the upgrade. Once the keys say the binding is done (``ServiceKeys/acceptsUnbound``),
    /// nothing unbound is opened again, even if the migration is made to run twice.
    ///
    /// - Returns: The rows set aside.
    /// - Throws: ``DatabaseFailure``; `CryptoFailure` if sealing fails.
    @discardableResult
    public static func bindEarlier(_ context: MigrationContext, migration: String, key: (ServiceKeys) -> SealingKey, _ spec: SealedColumns) throws -> [String] {
        let keys = try context.requireKeys(migration), key = key(keys), db = context.db
        // Unbound values are opened only on the first upgrade: the keys folder has no `bound` marker, and the keyed
        // audit log holds nothing but its first row and rows set aside (a database that has run since says otherwise).
        let ranSince = try db.one("SELECT COUNT(*) AS n FROM audit_log WHERE action NOT IN (?, ?)",
                                  [.text(AuditLog.anchorAction), .text("sealing.unreadable")])?["n"].int ?? 0
        let firstUpgrade = keys.acceptsUnbound && ranSince == 0
        var setAside: [String] = []
        for row in try db.query("SELECT * FROM \(spec.table) WHERE \(spec.keyColumn) IS NOT NULL", []) {
            guard let id = row[spec.id].text, let stored = row[spec.keyColumn].text, !stored.hasPrefix("unreadable:") else { continue }
            // Already bound (the migration made to run again): left as it is.
            let bound = spec.columns.allSatisfy { column in
                row[column].blob.map { (try? key.open($0, keyID: stored, for: spec.place(column, id))) != nil } ?? true
            }
            if bound { continue }
            guard firstUpgrade else {
                throw StorageError(.auditBroken, """
                    \(spec.table) \(id) holds a value sealed without its row, but the binding was done already (\(keys.folder)/bound, or the \
                    audit log since): a database restored from before the upgrade (then remove \(keys.folder)/bound and start again), \
                    or a value planted by someone who can write the database (restore it from a backup)
                    """)
            }
            do {
                try reseal(db, row, id: id, stored: stored, spec, key: key) { sealed, _ in try key.openUnbound(sealed, keyID: stored) }
            } catch let failure as CryptoFailure {
                try db.execute("UPDATE \(spec.table) SET \(spec.keyColumn) = ? WHERE \(spec.id) = ?", [.text("unreadable:" + stored), .text(id)])
                try AuditLog.append(db, at: context.now, actor: "tulga", action: "sealing.unreadable", subject: "\(spec.table) \(id)",
                                    detail: "\(migration): \(failure.reason)")
                setAside.append("\(spec.table) \(id)")
            }
        }
        return setAside
    }

    /// Seals every value of `row` again under `key`'s current key, bound to its place, opening each with
    /// `open`; the row is updated only if its key id is still `stored`.
    static func reseal(_ db: any SQLSession, _ row: SQLRow, id: String, stored: String, _ spec: SealedColumns, key: SealingKey,
                       open: (Data, String) throws -> Data) throws {
        var sets: [String] = [], values: [SQLValue] = []
        for column in spec.columns {
            guard let sealed = row[column].blob else { continue }
            sets.append("\(column) = ?")
            values.append(.blob(try key.seal(try open(sealed, column), for: spec.place(column, id))))
        }
        sets.append("\(spec.keyColumn) = ?")
        try db.execute("UPDATE \(spec.table) SET \(sets.joined(separator: ", ")) WHERE \(spec.id) = ? AND \(spec.keyColumn) = ?",
                       values + [.text(key.keyID), .text(id), .text(stored)])
    }

    /// What a re-sealing pass did.
    public struct Outcome: Sendable, Hashable {
        /// Rows now under the current key.
        public var moved = 0
        /// Rows left as they were because a value did not open (altered, or under a key no longer present).
        public var failed: [String] = []
    }

    /// Re-seals the rows of `spec` sealed with a retired key under `key`'s current key; a row that does
    /// not open is left as it is and reported, the others still move.
    ///
    /// - Parameters:
    ///   - database: the database.
    ///   - key: the sealing key, with its retired keys.
    ///   - spec: the table and columns.
    /// - Returns: The rows moved and those that could not be.
    /// - Throws: ``DatabaseFailure``.
    @discardableResult
    public static func run(_ database: any SQLDatabase, key: SealingKey, _ spec: SealedColumns) async throws -> Outcome {
        let ids = try await database.transaction { db in
            try db.query("SELECT \(spec.id) AS row_id FROM \(spec.table) WHERE \(spec.keyColumn) <> ?", [.text(key.keyID)]).compactMap { $0["row_id"].text }
        }
        var outcome = Outcome()
        for id in ids {
            do {
                outcome.moved += try await database.transaction { db in
                    guard let row = try db.one("SELECT * FROM \(spec.table) WHERE \(spec.id) = ?", [.text(id)]),
                          let stored = row[spec.keyColumn].text, stored != key.keyID else { return 0 }
                    try reseal(db, row, id: id, stored: stored, spec, key: key) { sealed, column in
                        try key.open(sealed, keyID: stored, for: spec.place(column, id))
                    }
                    return 1
                }
            } catch is CryptoFailure {
                outcome.failed.append("\(spec.table) \(id)")
            }
        }
        return outcome
    }

    /// How many rows of `spec` are still sealed with a key other than `keyID`.
    ///
    /// - Throws: ``DatabaseFailure``.
    public static func remaining(_ database: any SQLDatabase, keyID: String, _ spec: SealedColumns) async throws -> Int {
        try await database.transaction { db in
            try db.one("SELECT COUNT(*) AS n FROM \(spec.table) WHERE \(spec.keyColumn) <> ?", [.text(keyID)])?["n"].int ?? 0
        }
    }
}
