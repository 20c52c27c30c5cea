import Foundation
import Testing
import TulgaCrypto
import TulgaTestSupport

@Suite("scrypt, the CSPRNG and evidence sealing")
struct CryptoTests {
    @Test("scrypt hashes verify the right secret only, with a fresh salt each time")
    func secretHash() throws {
        let a = try SecretHash.make("402719", n: 1 << 10), b = try SecretHash.make("402719", n: 1 << 10)
        #expect(a != b && a.hasPrefix("scrypt$1024$8$1$") && !a.contains("402719"))
        #expect(SecretHash.verify("402719", against: a) && !SecretHash.verify("402718", against: a))
        #expect(!SecretHash.verify("402719", against: "scrypt$garbage") && !SecretHash.verify("402719", against: ""))
    }

    @Test("random bytes differ")
    func random() throws {
        let a = try randomBytes(16), b = try randomBytes(16)
        #expect(a != b && a.count == 16)
    }

    @Test("sealed evidence opens with its key only and refuses tampering; the key file is 0600")
    func evidence() throws {
        let dir = Temp.dir("tulga-crypto")
        let cipher = try EvidenceCipher(keyFile: dir + "/a.key"), other = try EvidenceCipher(keyFile: dir + "/b.key")
        let mode = try FileManager.default.attributesOfItem(atPath: dir + "/a.key")[.posixPermissions] as? Int
        #expect(mode == 0o600)
        let photo = Data("face".utf8)
        var sealed = try cipher.seal(photo)
        let opened = try cipher.open(sealed, keyID: cipher.keyID)
        #expect(sealed != photo && opened == photo)
        #expect(throws: CryptoFailure.self) { try other.open(sealed, keyID: cipher.keyID) }
        sealed[sealed.count - 1] ^= 1
        #expect(throws: CryptoFailure.self) { try cipher.open(sealed, keyID: cipher.keyID) }
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: dir + "/short.key"))
        #expect(throws: CryptoFailure.self) { try EvidenceCipher(keyFile: dir + "/short.key") }
    }
}
