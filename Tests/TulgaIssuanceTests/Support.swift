import Foundation
import Synchronization
import Testing
import TulgaCrypto
import TulgaIdentity
import TulgaIssuance
import TulgaPolicy
import TulgaStorage

enum Backend: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sqlite, postgres
    var testDescription: String { rawValue }

    func open() async throws -> any SQLDatabase {
        switch self {
        case .sqlite:
            return try SQLiteDatabase(path: Temp.dir() + "/tulga.sqlite")
        case .postgres:
            guard let url = ProcessInfo.processInfo.environment["TULGA_TEST_POSTGRES"] else {
                throw DatabaseFailure("TULGA_TEST_POSTGRES is not set: run the tests through scripts/test, which starts PostgreSQL")
            }
            let name = "i_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
            let admin = try await PostgresDatabase(url: url, poolSize: 1)
            try await admin.autocommit("CREATE DATABASE \(name)")
            await admin.close()
            var components = try #require(URLComponents(string: url))
            components.path = "/" + name
            return try await PostgresDatabase(url: try #require(components.string), poolSize: 4)
        }
    }
}

enum Temp {
    static func dir() -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("tulga-iss-\(UUID().uuidString)").path
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }
}

final class ManualClock: Clock {
    private let value = Mutex(Date().timeIntervalSince1970)
    func now() -> Double { value.withLock { $0 } }
    func advance(_ seconds: Double) { value.withLock { $0 += seconds } }
}

/// A store, a CA and the issuance service in a scratch folder.
struct World {
    let dir: String
    let clock: ManualClock
    let store: Store
    let service: IssuanceService
    let ca: LocalCA

    static func make(_ backend: Backend = .sqlite) async throws -> World {
        let dir = Temp.dir()
        let clock = ManualClock()
        let store = try await Store(database: try await backend.open(), cipher: try EvidenceCipher(keyFile: dir + "/evidence.key"), clock: clock)
        var config = CAConfig()
        config.directory = dir + "/ca"
        config.passwordFile = dir + "/ca/password"
        let ca = try LocalCA.initialize(config)
        return World(dir: dir, clock: clock, store: store, service: IssuanceService(store: store, ca: ca), ca: ca)
    }

    func close() async { await store.database.close() }

    static func iin(_ serial: Int) -> String {
        var s = serial
        while true {
            if let iin = IIN.make(year: 1990, month: 7, day: 2, male: true, serial: s) { return iin.value }
            s += 1
        }
    }

    /// Registry entry, phone, a passed attempt (Digital ID), PIN and consent: everything before applying.
    func person(_ iin: String, pin: String = "402719", surname: String = "ABAYEV", givenName: String = "ARMAN") async throws {
        try await store.upsertRegistry(RegistryEntry(iin: iin, surname: surname, givenName: givenName, documentNumber: "N0001", photo: Data([1])))
        try await service.registerPhone(iin: iin, phone: "+77010000001")
        let t = try await store.beginAttempt(iin: iin)
        _ = try await store.finishAttempt(t, outcome: .pass, score: 0.8, livenessPassed: true, reason: "",
                                          evidence: Evidence(selfie: nil, reference: nil, livenessReport: nil))
        try await store.setPIN(iin: iin, pin: pin)
        _ = try await store.grantConsent(iin: iin, scope: "ca.identity", seconds: 3600)
        try await confirmPhone(iin)
    }

    /// Requests a code and reads it from the outbox, as the SMS gateway would deliver it.
    func lastCode(_ iin: String) async throws -> String {
        let body = try #require(try await store.outbox(iin: iin).last?.body)
        return String(try #require(body.split(separator: " ").first { $0.count >= 6 && $0.prefix(6).allSatisfy(\.isNumber) }).prefix(6))
    }

    func confirmPhone(_ iin: String) async throws {
        try await service.requestCode(iin: iin)
        try await service.confirmCode(iin: iin, code: try await lastCode(iin))
    }
}

/// Runs the real openssl command.
func openssl(_ args: [String], stdin: String? = nil) throws -> (status: Int32, out: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
    p.arguments = args
    let out = Pipe()
    p.standardOutput = out
    p.standardError = out
    try p.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: data, as: UTF8.self))
}
