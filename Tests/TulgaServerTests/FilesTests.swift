import Foundation
import Testing
import TulgaConfig
import TulgaCore
import TulgaCrypto
import TulgaFace
import TulgaFlow
import TulgaIssuance
import TulgaKeyStore
import TulgaLiveness
import TulgaPKI
import TulgaPolicy
import TulgaServer
import TulgaStorage
import TulgaTestSupport

@Suite("Files private from their first byte", .serialized)
struct FilesTests {
    @Test("under umask 022 every kind of secret file is 0600, and its folder 0700, at the first stat after the call that creates it")
    func firstByte() async throws {
        let saved = umask(0o022)
        defer { umask(saved) }
        let dir = Temp.dir("tulga-files")
        func mode(_ path: String) -> mode_t? { PrivateFile.mode(dir + "/" + path) }

        try ServiceKeys.create(folder: dir + "/var/keys")
        for name in ["evidence.key", "outbox.key", "audit.key", "audit-signing.key"] { #expect(mode("var/keys/" + name) == 0o600, "\(name)") }
        #expect(mode("var/keys") == 0o700 && mode("var") == 0o700)
        let old = try SealingKey(name: "evidence", folder: dir + "/var/keys").keyID
        _ = try SealingKey.rotate(folder: dir + "/var/keys", name: "evidence")
        #expect(mode("var/keys/evidence.key") == 0o600 && mode("var/keys/evidence.\(old).retired") == 0o600)

        let database = try SQLiteDatabase(path: dir + "/var/db/tulga.sqlite")
        #expect(mode("var/db/tulga.sqlite") == 0o600 && mode("var/db") == 0o700)
        let store = try await Records.open(database: database, keys: try ServiceKeys(folder: dir + "/var/keys"), clock: ManualClock())
        #expect(mode("var/db/tulga.sqlite-wal") == 0o600 && mode("var/db/tulga.sqlite-shm") == 0o600)

        let iin = "850314300013"
        try await store.issuance.registerPhone(iin: iin, phone: "+77010000001")
        try await store.issuance.requestCode(iin: iin)
        let sms = try #require(try await store.pendingSMS().first)
        try await SMSSpool.handOff(store, to: dir + "/var/spool")
        #expect(mode("var/spool") == 0o700 && mode("var/spool/\(sms.id).sms") == 0o600)

        // What the review PNG, the clip buffer and the key store's files are written with.
        try PrivateFile.makeFolder(dir + "/var/review")
        try PrivateFile.replace(dir + "/var/review/case-1.png", Data([0x89]))
        try PrivateFile.create(dir + "/var/tmp-clip", Data([0]))
        #expect(mode("var/review") == 0o700 && mode("var/review/case-1.png") == 0o600 && mode("var/tmp-clip") == 0o600)
        let keyStore = try FolderKeyStore(directory: dir + "/var/applicant", password: "Passw0rd-for-a-test")
        _ = try keyStore.generate(iin: iin, algorithm: .p256)
        let files = try FileManager.default.subpathsOfDirectory(atPath: dir + "/var/applicant")
        for file in files {
            var folder: ObjCBool = false
            _ = FileManager.default.fileExists(atPath: dir + "/var/applicant/" + file, isDirectory: &folder)
            #expect(mode("var/applicant/" + file) == (folder.boolValue ? 0o700 : 0o600), "\(file)")
        }
        #expect(files.count >= 2 && mode("var/applicant") == 0o700)

        // The CA's keys and its password (apart from the CA folder).
        var ca = CAConfig()
        ca.directory = dir + "/var/ca"
        ca.passwordFile = dir + "/var/keys/ca-password"
        try LocalCA.initialize(ca, now: Date(timeIntervalSince1970: 1_790_000_000))
        for name in ["root.key", "issuing.key", "ocsp.pem"] { #expect(mode("var/ca/" + name) == 0o600, "\(name)") }
        #expect(mode("var/keys/ca-password") == 0o600 && mode("var/ca") == 0o700)

        // Checkpoints are public statements, readable by whoever checks them.
        let signer = try AuditSigner(folder: dir + "/var/keys")
        try #require(try await AuditLog.checkpoint(store.database, key: store.keys.audit, signer: signer, folder: dir + "/var/checkpoints", at: 1) != nil)
        let checkpoint = try #require(try FileManager.default.contentsOfDirectory(atPath: dir + "/var/checkpoints").first)
        #expect(mode("var/checkpoints/" + checkpoint) == 0o644)
        await database.close()
    }

    @Test("the server's temporary folder is made private and emptied at start-up, so nothing a killed server left stays")
    func temporaryFolder() async throws {
        let dir = Temp.dir("tulga-files")
        try FileManager.default.createDirectory(atPath: dir + "/tmp/left", withIntermediateDirectories: true)
        try Data("clip a killed server left".utf8).write(to: URL(fileURLWithPath: dir + "/tmp/clip-old"))
        let store = try await Records.scratch(clock: ManualClock())
        _ = try ServerEnvironment(config: ServerConfig(), records: store, face: FaceConfig(modelsDirectory: Paths.root + "/Models"),
                                  liveness: LivenessConfig(), bands: DecisionBands(accept: 0.363, review: 0.31), temporaryFolder: dir + "/tmp")
        // Left: only this process's own, empty folder.
        let left = try FileManager.default.subpathsOfDirectory(atPath: dir + "/tmp")
        #expect(left.count == 1 && left[0].hasPrefix("\(getpid())-") && PrivateFile.mode(dir + "/tmp/" + left[0]) == 0o700, "\(left)")
        #expect(PrivateFile.mode(dir + "/tmp") == 0o700)
        // A folder that is a symbolic link is refused, and what it points at is left alone.
        try FileManager.default.createDirectory(atPath: dir + "/elsewhere", withIntermediateDirectories: true)
        try Data("precious".utf8).write(to: URL(fileURLWithPath: dir + "/elsewhere/keep"))
        try FileManager.default.createSymbolicLink(atPath: dir + "/linked", withDestinationPath: dir + "/elsewhere")
        #expect(throws: FileFailure.self) {
            _ = try ServerEnvironment(config: ServerConfig(), records: store, face: FaceConfig(modelsDirectory: Paths.root + "/Models"),
                                      liveness: LivenessConfig(), bands: DecisionBands(accept: 0.363, review: 0.31), temporaryFolder: dir + "/linked")
        }
        #expect(FileManager.default.fileExists(atPath: dir + "/elsewhere/keep"))
        await store.database.close()
    }
}
