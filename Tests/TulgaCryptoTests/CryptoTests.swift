import Foundation
import Testing
import TulgaCore
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

    @Test("a sealed value opens with its key and in its own place only; a missing key file is refused, never created")
    func sealing() throws {
        let dir = Temp.dir("tulga-crypto")
        #expect(throws: KeyFileError(.missing, "")) { try SealingKey(name: "evidence", folder: dir) }
        #expect(!FileManager.default.fileExists(atPath: dir + "/evidence.key"))
        try SealingKey.create(name: "evidence", folder: dir)
        try SealingKey.create(name: "evidence", folder: dir + "/other")
        let key = try SealingKey(name: "evidence", folder: dir), other = try SealingKey(name: "evidence", folder: dir + "/other")
        let photo = Data("face".utf8), here = SealedPlace("registry", "photo", "850314300013")
        var sealed = try key.seal(photo, for: here)
        #expect(try sealed != photo && key.open(sealed, keyID: key.keyID, for: here) == photo)
        // Moved to another row, another column or another table: refused.
        for elsewhere in [SealedPlace("registry", "photo", "850314300023"), SealedPlace("registry", "selfie", "850314300013"),
                          SealedPlace("cases", "photo", "850314300013")] {
            #expect(throws: CryptoFailure.self) { try key.open(sealed, keyID: key.keyID, for: elsewhere) }
        }
        #expect(throws: CryptoFailure.self) { try other.open(sealed, keyID: key.keyID, for: here) }
        sealed[sealed.count - 1] ^= 1
        #expect(throws: CryptoFailure.self) { try key.open(sealed, keyID: key.keyID, for: here) }
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: dir + "/short.key"))
        #expect(throws: KeyFileError(.invalid, "")) { try SealingKey(name: "short", folder: dir) }
    }

    @Test("rotation makes a new current key and keeps the old one able to open what it sealed, until dropped")
    func rotation() throws {
        let dir = Temp.dir("tulga-crypto")
        try SealingKey.create(name: "outbox", folder: dir)
        let old = try SealingKey(name: "outbox", folder: dir), place = SealedPlace("outbox", "sealed", "sms-1")
        let sealed = try old.seal(Data("code".utf8), for: place)
        let new = try SealingKey.rotate(folder: dir, name: "outbox")
        #expect(new.keyID != old.keyID && new.retiredIDs == [old.keyID])
        #expect(try new.open(sealed, keyID: old.keyID, for: place) == Data("code".utf8))
        #expect(try new.open(try new.seal(Data("x".utf8), for: place), keyID: new.keyID, for: place) == Data("x".utf8))
        #expect(PrivateFile.mode(dir + "/outbox.key") == 0o600 && PrivateFile.mode(dir + "/outbox.\(old.keyID).retired") == 0o600)
        try new.dropRetired(old.keyID)
        let after = try SealingKey(name: "outbox", folder: dir)
        #expect(after.retiredIDs.isEmpty)
        #expect(throws: CryptoFailure.self) { try after.open(sealed, keyID: old.keyID, for: place) }
    }

    @Test("the audit key comes from its file or TULGA_AUDIT_KEY; checkpoints verify only under the signer's public key")
    func auditKeys() throws {
        let dir = Temp.dir("tulga-crypto")
        #expect(throws: KeyFileError(.missing, "")) { try AuditKey(folder: dir, environment: [:]) }
        let created = try ServiceKeys.create(folder: dir)
        #expect(try created.count == 4 && ServiceKeys.create(folder: dir).isEmpty)
        let fromFile = try AuditKey(folder: dir, environment: [:])
        let fromEnv = try AuditKey(folder: Temp.dir(), environment: ["TULGA_AUDIT_KEY": String(repeating: "ab", count: 32)])
        #expect(fromFile.mac(Data("row".utf8)) != fromEnv.mac(Data("row".utf8)) && fromFile.mac(Data("row".utf8)).count == 64)
        #expect(throws: KeyFileError(.invalid, "")) { try AuditKey(folder: dir, environment: ["TULGA_AUDIT_KEY": "abc"]) }
        let signer = try AuditSigner(folder: dir)
        try ServiceKeys.create(folder: dir + "/b")
        let stranger = try AuditSigner(folder: dir + "/b")
        let signature = try signer.sign(Data("head".utf8))
        #expect(AuditSigner.verify(signature, of: Data("head".utf8), publicKey: signer.publicKey))
        #expect(!AuditSigner.verify(signature, of: Data("head".utf8), publicKey: stranger.publicKey))
        #expect(!AuditSigner.verify(signature, of: Data("heaD".utf8), publicKey: signer.publicKey))
    }
}
