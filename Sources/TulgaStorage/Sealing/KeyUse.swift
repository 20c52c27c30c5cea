import Foundation
public import TulgaCrypto

/// Which sealing keys each running node works with, so a rotation never re-seals rows a running node
/// could no longer open, nor removes a key a running node still seals with. Each `tulga serve` writes
/// its row at start and on every background pass, and deletes it when it stops; a row not renewed
/// for ``staleSeconds`` is a node that is gone.
public enum KeyUse {
    /// A node not heard from for five of its own report intervals (at least this long) is gone.
    public static let staleSeconds = 300.0

    /// The `key_use` table.
    ///
    /// - Parameter migrator: the migrator to add `key_use.v1` to.
    public static func register(_ migrator: inout Migrator) {
        migrator.registerMigration("key_use.v1", [
            """
            CREATE TABLE key_use (
              node TEXT PRIMARY KEY, evidence_key TEXT NOT NULL, outbox_key TEXT NOT NULL, seen_at {REAL} NOT NULL, stale_at {REAL} NOT NULL)
            """,
        ])
    }

    /// Records that `node` runs with `keys` now, and will report again within `interval` seconds.
    ///
    /// - Throws: ``DatabaseFailure``.
    public static func report(_ database: any SQLDatabase, node: String, keys: ServiceKeys, interval: Double = 60, at now: Double) async throws {
        try await database.transaction { db in
            try db.execute("DELETE FROM key_use WHERE node = ?", [.text(node)])
            try db.execute("INSERT INTO key_use (node, evidence_key, outbox_key, seen_at, stale_at) VALUES (?, ?, ?, ?, ?)",
                           [.text(node), .text(keys.evidence.keyID), .text(keys.outbox.keyID), .double(now),
                            .double(now + max(staleSeconds, 5 * interval))])
        }
    }

    /// Forgets `node` (it stopped).
    ///
    /// - Throws: ``DatabaseFailure``.
    public static func forget(_ database: any SQLDatabase, node: String) async throws {
        try await database.transaction { db in try db.execute("DELETE FROM key_use WHERE node = ?", [.text(node)]) }
    }

    /// The live nodes still working with a `name` key other than `current`, each with how long ago it was heard from.
    ///
    /// - Parameters:
    ///   - name: `evidence` or `outbox`.
    ///   - current: the current key's id.
    ///   - now: the injected clock's time.
    /// - Throws: ``DatabaseFailure``.
    public static func nodesBehind(_ database: any SQLDatabase, name: String, current: String, at now: Double) async throws -> [(node: String, secondsAgo: Double)] {
        let column = name == "outbox" ? "outbox_key" : "evidence_key"
        return try await database.transaction { db in
            try db.query("SELECT node, seen_at FROM key_use WHERE \(column) <> ? AND stale_at > ?", [.text(current), .double(now)])
                .map { ($0["node"].text ?? "?", now - ($0["seen_at"].double ?? now)) }
        }
    }
}
