import Foundation
import Synchronization
import Testing
import TulgaCrypto
import TulgaIdentity
import TulgaIssuance
import TulgaPolicy
import TulgaStorage
import TulgaCore
import TulgaFlow
import TulgaAttempts
import TulgaModeration
import TulgaRegistry
import TulgaDigitalID
import TulgaTestSupport
import TulgaFaceModel
import TulgaLiveness

/// A store, a CA and the issuance service in a scratch folder.
struct World {
    let dir: String
    let clock: ManualClock
    let store: Records
    let ca: LocalCA
    var service: IssuanceService { store.issuance }

    static func make(_ backend: Backend = .sqlite) async throws -> World {
        let dir = Temp.dir("tulga-iss")
        let clock = ManualClock()
        var config = CAConfig()
        config.directory = dir + "/ca"
        config.passwordFile = dir + "/ca/password"
        let ca = try LocalCA.initialize(config, now: clock.date)
        return World(dir: dir, clock: clock, store: try await Records.scratch(backend, clock: clock, ca: ca), ca: ca)
    }

    /// Installs both containers and writes them into `folder` as the applicant's computer would; returns the paths.
    func install(_ number: String, folder: String, password: String) async throws -> [String] {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        return try await service.install(number, password: password) { containers in
            try containers.map { c in
                let path = folder + "/" + c.fileName
                guard FileManager.default.createFile(atPath: path, contents: c.pkcs12, attributes: [.posixPermissions: 0o600]) else {
                    throw CocoaError(.fileWriteUnknown)
                }
                return path
            }
        }
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
        try await store.registry.upsert(RegistryEntry(iin: iin, surname: surname, givenName: givenName, documentNumber: "N0001", photo: Data([1])))
        try await service.registerPhone(iin: iin, phone: "+77010000001")
        let t = try await store.attempts.begin(iin: iin)
        _ = try await store.runner.record(t, outcome: .pass, score: 0.8, livenessPassed: true, reason: "",
                                          evidence: Evidence(selfie: nil, reference: nil, livenessReport: nil))
        try await store.digitalIDs.setPIN(iin: iin, pin: pin)
        _ = try await store.digitalIDs.grantConsent(iin: iin, scope: "ca.identity", seconds: 3600)
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
