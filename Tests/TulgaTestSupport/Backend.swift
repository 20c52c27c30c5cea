import Foundation
public import TulgaStorage

/// Every storage test runs on both real backends.
public enum Backend: String, CaseIterable, Sendable, CustomStringConvertible {
    case sqlite, postgres
    public var description: String { rawValue }

    /// The throwaway server `scripts/test` starts (TLS only, verified against its test CA).
    public static let postgresURL = ProcessInfo.processInfo.environment["TULGA_TEST_POSTGRES"]

    /// ``postgresURL``, or a failure saying how to get one.
    public static func requirePostgresURL() throws -> String {
        guard let url = postgresURL else {
            throw DatabaseFailure("TULGA_TEST_POSTGRES is not set: run the tests through scripts/test, which starts PostgreSQL")
        }
        return url
    }

    /// A fresh, empty database of this kind.
    public func open() async throws -> any SQLDatabase { try await Self.open(try await freshLocation()) }

    /// Where a fresh, empty database of this kind is: a SQLite path, or the URL of a new PostgreSQL
    /// database (for a `tulga` process to open with `--database`).
    public func freshLocation() async throws -> String {
        switch self {
        case .sqlite:
            return Temp.dir() + "/tulga.sqlite"
        case .postgres:
            let url = try Backend.requirePostgresURL()
            let name = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
            let admin = try await PostgresDatabase(url: url, poolSize: 1)
            try await admin.autocommit("CREATE DATABASE \(name)")
            await admin.close()
            guard var components = URLComponents(string: url) else { throw DatabaseFailure("bad TULGA_TEST_POSTGRES \(url)") }
            // Only the path changes: sslmode and sslrootcert stay.
            components.path = "/" + name
            guard let scoped = components.string else { throw DatabaseFailure("bad TULGA_TEST_POSTGRES \(url)") }
            return scoped
        }
    }

    /// Opens what ``freshLocation()`` gave.
    public static func open(_ location: String) async throws -> any SQLDatabase {
        location.hasPrefix("postgres://") ? try await PostgresDatabase(url: location, poolSize: 6) : try SQLiteDatabase(path: location)
    }
}

/// Scratch folders under the system's temporary folder.
public enum Temp {
    public static func dir(_ prefix: String = "tulga-test") -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)").path
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }
}
