import Foundation
public import TulgaCrypto

/// Where a module keeps sealed blobs: the table, its key column, the sealed columns and the column
/// naming the key that sealed them. Each value is bound to `SealedPlace(table, column, id)`.
public struct SealedColumns: Sendable, Hashable {
    /// The table.
    public let table: String
    /// The row's key column (the place's row).
    public let id: String
    /// The sealed columns; any may be `NULL`.
    public let columns: [String]
    /// The column holding the sealing key's id; `unbound:<id>` marks a blob sealed before places were bound.
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

    /// The statement a migration runs to mark every existing blob as sealed before places were bound.
    public var markUnbound: String { "UPDATE \(table) SET \(keyColumn) = 'unbound:' || \(keyColumn) WHERE \(keyColumn) NOT LIKE 'unbound:%'" }
}

/// Re-sealing under the current key: blobs from before places were bound (once, at start-up) and
/// blobs under a retired key (`tulga secrets rotate`). Each row moves in its own short transaction,
/// only if no one changed it meanwhile, so a crash or a concurrent writer loses nothing.
public enum Reseal {
    /// Re-seals the rows of `spec` not sealed with `key`'s current key.
    ///
    /// - Parameters:
    ///   - database: the database.
    ///   - key: the sealing key, with its retired keys.
    ///   - spec: the table and columns.
    ///   - onlyUnbound: only the rows sealed before places were bound.
    /// - Returns: How many rows moved.
    /// - Throws: ``DatabaseFailure``; `CryptoFailure` for a blob no key opens (the row is left as it is).
    @discardableResult
    public static func run(_ database: any SQLDatabase, key: SealingKey, _ spec: SealedColumns, onlyUnbound: Bool = false) async throws -> Int {
        let filter = onlyUnbound ? "\(spec.keyColumn) LIKE 'unbound:%'" : "\(spec.keyColumn) <> ?"
        let ids = try await database.transaction { db in
            try db.query("SELECT \(spec.id) AS row_id FROM \(spec.table) WHERE \(filter)", onlyUnbound ? [] : [.text(key.keyID)])
                .compactMap { $0["row_id"].text }
        }
        var moved = 0
        for id in ids {
            moved += try await database.transaction { db in
                guard let row = try db.one("SELECT * FROM \(spec.table) WHERE \(spec.id) = ?", [.text(id)]),
                      let stored = row[spec.keyColumn].text, stored != key.keyID else { return 0 }
                var sets: [String] = [], values: [SQLValue] = []
                for column in spec.columns {
                    guard let sealed = row[column].blob else { continue }
                    let plain = stored.hasPrefix("unbound:")
                        ? try key.openUnbound(sealed, keyID: String(stored.dropFirst("unbound:".count)))
                        : try key.open(sealed, keyID: stored, for: spec.place(column, id))
                    sets.append("\(column) = ?")
                    values.append(.blob(try key.seal(plain, for: spec.place(column, id))))
                }
                sets.append("\(spec.keyColumn) = ?")
                try db.execute("UPDATE \(spec.table) SET \(sets.joined(separator: ", ")) WHERE \(spec.id) = ? AND \(spec.keyColumn) = ?",
                               values + [.text(key.keyID), .text(id), .text(stored)])
                return 1
            }
        }
        return moved
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
