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

    /// HMAC-SHA-256 of `message` under a subkey derived (HKDF-SHA-256) from this key for `purpose`,
    /// hex: a keyed lookup for high-entropy secrets (API keys), so none needs a KDF per request and
    /// the database alone does not tell which key a row belongs to.
    ///
    /// - Parameters:
    ///   - purpose: names the subkey, e.g. `"api-key lookup v1"`.
    ///   - message: what to authenticate.
    /// - Returns: 64 lower-case hex digits.
    public func mac(purpose: String, _ message: String) -> String {
        let subkey = HKDF<SHA256>.deriveKey(inputKeyMaterial: key, info: Data(purpose.utf8), outputByteCount: 32)
        return hex(HMAC<SHA256>.authenticationCode(for: Data(message.utf8), using: subkey))
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

/// Compares two strings in time that depends only on their lengths.
public func constantTimeEquals(_ a: String, _ b: String) -> Bool {
    let x = Array(a.utf8), y = Array(b.utf8)
    guard x.count == y.count else { return false }
    var difference: UInt8 = 0
    for i in 0..<x.count { difference |= x[i] ^ y[i] }
    return difference == 0
}

/// SHA-256 in hex.
public func sha256Hex(_ data: Data) -> String { hex(SHA256.hash(data: data)) }
public func sha256Hex(_ text: String) -> String { sha256Hex(Data(text.utf8)) }
