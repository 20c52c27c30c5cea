import Foundation
import Testing
import TulgaCore
import TulgaIssuance
import TulgaTestSupport

@Suite("The CA's secrets apart: the password outside the CA folder, the root key off the host")
struct CASecretsTests {
    /// The default layout (`var/ca`, `var/keys/ca-password`) under a scratch folder.
    static func defaults(_ dir: String) -> CAConfig {
        var config = CAConfig()
        config.directory = dir + "/" + config.directory
        config.passwordFile = dir + "/" + config.passwordFile
        return config
    }

    static func mode(_ path: String) -> Int? { try? FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int }

    static func files(_ folder: String) -> Set<String> { Set((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []) }

    @Test("by default the password is made in var/keys (0700) as a 0600 file, and the CA folder holds none")
    func defaultPlace() throws {
        #expect(CAConfig().passwordFile == "var/keys/ca-password" && !CAConfig().passwordFile.hasPrefix(CAConfig().directory + "/"))
        let dir = Temp.dir("tulga-ca")
        let config = Self.defaults(dir)
        let ca = try LocalCA.initialize(config, now: ManualClock().date)
        #expect(ca.passwordSource == config.passwordFile)
        #expect(Self.files(config.directory) == ["root.crt", "issuing.crt", "root.key", "issuing.key", "ocsp.pem"])
        #expect(Self.mode(config.passwordFile) == 0o600 && Self.mode(dir + "/var/keys") == 0o700 && Self.mode(config.directory) == 0o700)
        #expect(try LocalCA(config).issuingCertPEM == ca.issuingCertPEM)
    }

    @Test("a password file configured inside the CA folder is refused, however it is spelt; nothing is made",
          arguments: ["var/ca/password", "var/ca/sub/../pw", "var/link/password", "var/ca"])
    func insideRefused(place: String) throws {
        let dir = Temp.dir("tulga-ca")
        var config = Self.defaults(dir)
        try FileManager.default.createDirectory(atPath: config.directory, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: dir + "/var/link", withDestinationPath: config.directory)
        config.passwordFile = dir + "/" + place
        let error = #expect(throws: IssuanceError.self) { try LocalCA.initialize(config, now: ManualClock().date) }
        #expect(error?.reason.contains("inside the CA folder") == true && error?.reason.contains("move it out") == true
                && error?.reason.contains("var/keys/ca-password") == true, "\(String(describing: error))")
        #expect(Self.files(config.directory).isEmpty && !FileManager.default.fileExists(atPath: dir + "/var/keys"))
    }

    @Test("an existing CA whose password file is configured inside its folder does not open, nor load for the service")
    func insideRefusedOnLoad() throws {
        let dir = Temp.dir("tulga-ca")
        var config = Self.defaults(dir)
        try LocalCA.initialize(config, now: ManualClock().date)
        config.passwordFile = config.directory + "/password"
        try FileManager.default.copyItem(atPath: Self.defaults(dir).passwordFile, toPath: config.passwordFile)
        #expect(throws: IssuanceError(.ca, "")) { try LocalCA(config) }
        #expect(throws: IssuanceError(.ca, "")) { try LocalCA.load(config) }
    }

    @Test("a password an older build left in <ca>/password is refused with where to move it, not read; moved, the CA opens")
    func legacyRefused() throws {
        let dir = Temp.dir("tulga-ca")
        let config = Self.defaults(dir), legacy = config.directory + "/password"
        try LocalCA.initialize(config, now: ManualClock().date)
        #expect(rename(config.passwordFile, legacy) == 0)
        let error = #expect(throws: IssuanceError.self) { try LocalCA(config) }
        #expect(error?.reason.contains("the CA password is in \(legacy)") == true
                && error?.reason.contains("move it to \(config.passwordFile)") == true, "\(String(describing: error))")
        // The service does not start without it either: a refusal, not a missing CA.
        #expect(throws: IssuanceError(.ca, "")) { try LocalCA.load(config) }
        // ca init on such a folder says the same, before "a CA already exists", and makes no new password.
        let again = #expect(throws: IssuanceError.self) { try LocalCA.initialize(config, now: ManualClock().date) }
        #expect(again?.reason.contains("move it to") == true, "\(String(describing: again))")
        #expect(!FileManager.default.fileExists(atPath: config.passwordFile))

        #expect(rename(legacy, config.passwordFile) == 0)
        #expect(try LocalCA.load(config) != nil)
    }

    @Test("no CA yet: nothing to load, and nothing refused")
    func noCA() throws {
        var config = Self.defaults(Temp.dir("tulga-ca"))
        config.passwordFile = config.directory + "/password"
        #expect(try LocalCA.load(config) == nil)
    }

    @Test("--root-offline refuses a file inside the CA folder and one that exists (left as it was); nothing is made")
    func offlineRefused() throws {
        let dir = Temp.dir("tulga-ca")
        let config = Self.defaults(dir)
        #expect(throws: IssuanceError(.ca, "")) {
            try LocalCA.initialize(config, now: ManualClock().date, offlineRootKey: config.directory + "/offline.key")
        }
        let existing = dir + "/existing.key"
        try Data("keep".utf8).write(to: URL(fileURLWithPath: existing))
        let error = #expect(throws: IssuanceError.self) { try LocalCA.initialize(config, now: ManualClock().date, offlineRootKey: existing) }
        #expect(error?.reason.contains("exists") == true, "\(String(describing: error))")
        #expect(try String(contentsOfFile: existing, encoding: .utf8) == "keep")
        #expect(Self.files(config.directory).isEmpty)
    }

    @Test("--root-offline: no root.key in the CA folder; the key file is 0600 and opens with the CA password to root.crt's key; issuing, OCSP and the CRL run on issuing.key alone")
    func offlineRoot() async throws {
        let (w, _, auth, sign) = try await RevocationTests.issued(offlineRoot: true)
        let ca = w.dir + "/ca", offline = w.dir + "/offline-root.key"
        #expect(Self.files(ca) == ["root.crt", "issuing.crt", "issuing.key", "ocsp.pem"])
        #expect(Self.mode(offline) == 0o600)
        let key = try openssl(["pkey", "-in", offline, "-passin", "file:" + w.dir + "/keys/ca-password", "-pubout"])
        let certificate = try openssl(["x509", "-in", ca + "/root.crt", "-noout", "-pubkey"])
        #expect(key.status == 0 && key.out.contains("BEGIN PUBLIC KEY") && key.out == certificate.out, "\(key.out)")
        #expect(try openssl(["pkey", "-in", offline, "-passin", "pass:wrong", "-noout"]).status != 0)

        let verify = try openssl(["verify", "-CAfile", ca + "/root.crt", "-untrusted", ca + "/issuing.crt", auth, sign])
        #expect(verify.status == 0 && verify.out.contains("\(auth): OK") && verify.out.contains("\(sign): OK"), "\(verify.out)")
        #expect(try await RevocationTests.ask(w, [auth, sign]).contains("Response verify OK"))
        let crl = w.dir + "/offline.crl"
        try await w.service.currentCRL().write(to: URL(fileURLWithPath: crl))
        #expect(try openssl(["crl", "-inform", "DER", "-in", crl, "-noout", "-CAfile", ca + "/issuing.crt"]).out.contains("verify OK"))
        await w.close()
    }
}
