public import TulgaCore
import COpenSSL
import Foundation

/// A slow, salted hash of a short secret (PIN, moderator secret, API key) with OpenSSL's scrypt.
///
/// Stored as `scrypt$N$r$p$salt$hash` (hex). Checking is constant-time.
/// ```swift
/// let stored = try SecretHash.make("123456")
/// SecretHash.verify("123456", against: stored)  // true
/// ```
public enum SecretHash {
    /// Cost parameters: N = 2^15, r = 8, p = 1 (32 MiB, about 0.1 s here).
    public static let defaultN: UInt64 = 1 << 15
    public static let r: UInt64 = 8
    public static let p: UInt64 = 1

    public static func make(_ secret: String, n: UInt64 = defaultN) throws -> String {
        let salt = try randomBytes(16)
        let key = try scrypt(secret, salt: salt, n: n, r: r, p: p)
        return "scrypt$\(n)$\(r)$\(p)$\(hex(salt))$\(hex(key))"
    }

    public static func verify(_ secret: String, against stored: String) -> Bool {
        let parts = stored.split(separator: "$").map(String.init)
        guard parts.count == 6, parts[0] == "scrypt", let n = UInt64(parts[1]), let r = UInt64(parts[2]), let p = UInt64(parts[3]),
              let salt = unhex(parts[4]), let expected = unhex(parts[5]), n <= 1 << 20,
              let key = try? scrypt(secret, salt: salt, n: n, r: r, p: p, length: expected.count) else { return false }
        return CRYPTO_memcmp(key, expected, expected.count) == 0 && key.count == expected.count
    }

    static func scrypt(_ secret: String, salt: [UInt8], n: UInt64, r: UInt64, p: UInt64, length: Int = 32) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: length)
        let pass = Array(secret.utf8)
        let ok = pass.withUnsafeBufferPointer { pw in
            pw.withMemoryRebound(to: CChar.self) { pwc in
                EVP_PBE_scrypt(pwc.baseAddress, pw.count, salt, salt.count, n, r, p, 64 << 20, &out, length)
            }
        }
        guard ok == 1 else { throw CryptoFailure("scrypt failed") }
        return out
    }
}

/// Bytes from OpenSSL's CSPRNG.
public func randomBytes(_ count: Int) throws -> [UInt8] {
    var bytes = [UInt8](repeating: 0, count: count)
    guard RAND_bytes(&bytes, Int32(count)) == 1 else { throw CryptoFailure("RAND_bytes failed") }
    return bytes
}

public struct CryptoFailure: TulgaError, Hashable {
    /// What failed, in words.
    public let reason: String
    public let fileID: String
    public let line: Int
    /// - Parameter reason: what failed, in words (never key material).
    public init(_ reason: String, fileID: String = #fileID, line: Int = #line) {
        (self.reason, self.fileID, self.line) = (reason, fileID, line)
    }
    public var errorCode: String { "crypto" }
    public var kind: ProblemKind { .internalError }
    public static func == (a: Self, b: Self) -> Bool { a.errorCode == b.errorCode }
    public func hash(into hasher: inout Hasher) { hasher.combine(errorCode) }
}

public func hex<S: Sequence>(_ bytes: S) -> String where S.Element == UInt8 {
    bytes.map { String(format: "%02x", $0) }.joined()
}

public func unhex(_ text: String) -> [UInt8]? {
    guard text.count % 2 == 0 else { return nil }
    var out: [UInt8] = []
    out.reserveCapacity(text.count / 2)
    var index = text.startIndex
    while index < text.endIndex {
        let next = text.index(index, offsetBy: 2)
        guard let byte = UInt8(text[index..<next], radix: 16) else { return nil }
        out.append(byte)
        index = next
    }
    return out
}
