import Foundation
import Synchronization
import Testing
import TulgaCrypto
import TulgaIdentity
import TulgaStorage

/// Every storage test runs on both real backends.
enum Backend: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sqlite, postgres
    var testDescription: String { rawValue }

    static let postgresURL = ProcessInfo.processInfo.environment["TULGA_TEST_POSTGRES"]

    /// A fresh, empty database of this kind.
    func open() async throws -> any SQLDatabase {
        switch self {
        case .sqlite:
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("tulga-test-\(UUID().uuidString).sqlite").path
            return try SQLiteDatabase(path: path)
        case .postgres:
            guard let url = Backend.postgresURL else {
                throw DatabaseFailure("TULGA_TEST_POSTGRES is not set: run the tests through scripts/test, which starts PostgreSQL")
            }
            let name = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
            let admin = try await PostgresDatabase(url: url, poolSize: 1)
            try await admin.autocommit("CREATE DATABASE \(name)")
            await admin.close()
            var components = try #require(URLComponents(string: url))
            components.path = "/" + name
            return try await PostgresDatabase(url: try #require(components.string), poolSize: 6)
        }
    }
}

final class ManualClock: Clock {
    private let value = Mutex(1_800_000_000.0)
    func now() -> Double { value.withLock { $0 } }
    func advance(_ seconds: Double) { value.withLock { $0 += seconds } }
}

struct Harness {
    let store: Store
    let clock: ManualClock
    let database: any SQLDatabase

    static func make(_ backend: Backend, settings: StoreSettings = StoreSettings()) async throws -> Harness {
        let database = try await backend.open()
        let keyFile = FileManager.default.temporaryDirectory.appendingPathComponent("tulga-key-\(UUID().uuidString)").path
        let clock = ManualClock()
        let store = try await Store(database: database, cipher: try EvidenceCipher(keyFile: keyFile), settings: settings, clock: clock)
        return Harness(store: store, clock: clock, database: database)
    }
}

/// Made-up but checksum-valid IINs.
enum People {
    static func iin(_ serial: Int, year: Int = 1985) -> String {
        var s = serial
        while true {
            if let iin = IIN.make(year: year, month: 3, day: 14, male: s % 2 == 0, serial: s) { return iin.value }
            s += 1
        }
    }

    static func register(_ store: Store, _ iin: String, photo: Data = Data("photo".utf8)) async throws {
        try await store.upsertRegistry(RegistryEntry(iin: iin, surname: "ABAYEV", givenName: "ARMAN", documentNumber: "N0\(iin.suffix(7))",
                                                     phone: "+7701\(iin.suffix(7))", photo: photo))
    }
}

/// Runs `body` on a fresh store and closes its database afterwards.
func withHarness(_ backend: Backend, settings: StoreSettings = StoreSettings(), _ body: (Harness) async throws -> Void) async throws {
    let h = try await Harness.make(backend, settings: settings)
    do {
        try await body(h)
    } catch {
        await h.database.close()
        throw error
    }
    await h.database.close()
}
