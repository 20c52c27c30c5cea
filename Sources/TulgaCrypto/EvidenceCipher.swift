public import Foundation
import Crypto

/// AES-256-GCM for biometric evidence at rest. The key lives in a file outside the database;
/// its id (first 16 hex digits of the key's SHA-256) is stored with each blob.
///
/// ```swift
/// let cipher = try EvidenceCipher(keyFile: "var/evidence.key")   // created 0600 if missing
/// let sealed = try cipher.seal(photoBytes)
/// let photo = try cipher.open(sealed, keyID: cipher.keyID)
/// ```
public struct EvidenceCipher: Sendable {
    private let key: SymmetricKey
    public let keyID: String

    public init(keyFile path: String) throws {
        let fm = FileManager.default
        if !fm.fileExists(atPath: path) {
            try fm.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true,
                                   attributes: [.posixPermissions: 0o700])
            let material = Data(try randomBytes(32))
            guard fm.createFile(atPath: path, contents: material, attributes: [.posixPermissions: 0o600]) else {
                throw CryptoFailure("cannot create the evidence key file \(path)")
            }
        }
        guard let data = fm.contents(atPath: path), data.count == 32 else {
            throw CryptoFailure("the evidence key file \(path) must hold exactly 32 bytes")
        }
        key = SymmetricKey(data: data)
        keyID = String(hex(SHA256.hash(data: data)).prefix(16))
    }

    /// nonce ‖ ciphertext ‖ tag.
    public func seal(_ plaintext: Data) throws -> Data {
        guard let combined = try AES.GCM.seal(plaintext, using: key).combined else { throw CryptoFailure("AES-GCM seal failed") }
        return combined
    }

    public func open(_ sealed: Data, keyID: String) throws -> Data {
        guard keyID == self.keyID else { throw CryptoFailure("evidence was sealed with key \(keyID), this key is \(self.keyID)") }
        do {
            return try AES.GCM.open(AES.GCM.SealedBox(combined: sealed), using: key)
        } catch {
            throw CryptoFailure("evidence failed authentication (tampered or wrong key)")
        }
    }
}

/// SHA-256 in hex.
public func sha256Hex(_ data: Data) -> String { hex(SHA256.hash(data: data)) }
public func sha256Hex(_ text: String) -> String { sha256Hex(Data(text.utf8)) }
