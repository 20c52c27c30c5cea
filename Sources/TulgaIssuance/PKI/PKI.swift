public import Foundation
import CTulgaPKI

/// A failure inside OpenSSL, with OpenSSL's own reason appended.
public struct PKIError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ error: tp_error) {
        var copy = error
        description = withUnsafeBytes(of: &copy.message) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
    }
    public init(_ message: String) { description = message }
}

public enum KeyAlgorithm: String, Sendable, Codable, CaseIterable {
    case rsa2048 = "rsa2048"
    case p256 = "p256"
    var c: Int32 { self == .p256 ? Int32(TP_EC_P256.rawValue) : Int32(TP_RSA_2048.rawValue) }
}

/// The OpenSSL operations issuance uses: thin Swift over CTulgaPKI.
public enum PKI {
    private static func string(_ body: (inout UnsafeMutablePointer<CChar>?, inout tp_error) -> Int32) throws -> String {
        var out: UnsafeMutablePointer<CChar>?
        var error = tp_error()
        guard body(&out, &error) == 1, let out else { throw PKIError(error) }
        defer { tp_free(out) }
        return String(cString: out)
    }

    private static func withEntries<T>(_ pairs: [(String, String)], _ body: (UnsafePointer<tp_name_entry>?, Int32) throws -> T) rethrows -> T {
        let fields = pairs.map { strdup($0.0) }, values = pairs.map { strdup($0.1) }
        defer { (fields + values).forEach { free($0) } }
        let entries = zip(fields, values).map { tp_name_entry(field: $0, value: $1) }
        return try entries.withUnsafeBufferPointer { try body($0.baseAddress, Int32($0.count)) }
    }

    private static func withExtensions<T>(_ pairs: [(String, String)], _ body: (UnsafePointer<tp_extension>?, Int32) throws -> T) rethrows -> T {
        let names = pairs.map { strdup($0.0) }, values = pairs.map { strdup($0.1) }
        defer { (names + values).forEach { free($0) } }
        let entries = zip(names, values).map { tp_extension(name: $0, value: $1) }
        return try entries.withUnsafeBufferPointer { try body($0.baseAddress, Int32($0.count)) }
    }

    /// A new private key, PKCS#8 PEM (seal it before storing).
    public static func generateKey(_ algorithm: KeyAlgorithm) throws -> String {
        try string { tp_key_generate(algorithm.c, &$0, &$1) }
    }

    public static func encryptKey(_ pem: String, password: String) throws -> String {
        try string { tp_key_encrypt(pem, password, &$0, &$1) }
    }

    public static func decryptKey(_ pem: String, password: String) throws -> String {
        try string { tp_key_decrypt(pem, password, &$0, &$1) }
    }

    public static func csr(keyPEM: String, subject: [(String, String)]) throws -> String {
        try withEntries(subject) { entries, count in try string { tp_csr_create(keyPEM, entries, count, &$0, &$1) } }
    }

    /// 16 bytes from the CSPRNG, made a positive INTEGER by the shim.
    public static func randomSerial() -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) }
    }

    public static func selfSigned(keyPEM: String, subject: [(String, String)], extensions: [(String, String)],
                                  notBefore: Date, notAfter: Date) throws -> String {
        let serial = randomSerial()
        return try withEntries(subject) { entries, count in
            try withExtensions(extensions) { exts, extCount in
                try string {
                    tp_self_signed(keyPEM, entries, count, exts, extCount, serial, Int64(notBefore.timeIntervalSince1970),
                                   Int64(notAfter.timeIntervalSince1970), &$0, &$1)
                }
            }
        }
    }

    public static func issue(csrPEM: String, caCertPEM: String, caKeyPEM: String, extensions: [(String, String)],
                             notBefore: Date, notAfter: Date) throws -> String {
        let serial = randomSerial()
        return try withExtensions(extensions) { exts, extCount in
            try string {
                tp_issue(csrPEM, caCertPEM, caKeyPEM, exts, extCount, serial, Int64(notBefore.timeIntervalSince1970),
                         Int64(notAfter.timeIntervalSince1970), &$0, &$1)
            }
        }
    }

    public struct Revoked: Sendable {
        public var serialHex: String
        public var revokedAt: Date
        public var reason: RevocationReason
        public init(serialHex: String, revokedAt: Date, reason: RevocationReason) {
            self.serialHex = serialHex
            self.revokedAt = revokedAt
            self.reason = reason
        }
    }

    public static func crl(caCertPEM: String, caKeyPEM: String, revoked: [Revoked], thisUpdate: Date, nextUpdate: Date, number: Int64) throws -> String {
        let serials = revoked.map { strdup($0.serialHex) }
        defer { serials.forEach { free($0) } }
        let entries = zip(serials, revoked).map {
            tp_revoked(serial_hex: $0, revoked_at: Int64($1.revokedAt.timeIntervalSince1970), reason: $1.reason.code)
        }
        return try entries.withUnsafeBufferPointer { buffer in
            try string {
                tp_crl(caCertPEM, caKeyPEM, buffer.baseAddress, Int32(buffer.count), Int64(thisUpdate.timeIntervalSince1970),
                       Int64(nextUpdate.timeIntervalSince1970), number, &$0, &$1)
            }
        }
    }

    /// PKCS#12 with PBES2 (PBKDF2, AES-256-CBC) for key and certificates and a SHA-256 MAC.
    public static func pkcs12(keyPEM: String, certPEM: String, chainPEM: String, password: String, name: String,
                              iterations: Int32 = 100_000) throws -> Data {
        var der: UnsafeMutablePointer<UInt8>?
        var length = 0
        var error = tp_error()
        guard tp_pkcs12(keyPEM, certPEM, chainPEM, password, name, iterations, &der, &length, &error) == 1, let der else {
            throw PKIError(error)
        }
        defer { tp_free(der) }
        return Data(bytes: der, count: length)
    }

    public static func serialHex(certPEM: String) throws -> String {
        try string { tp_cert_serial(certPEM, &$0, &$1) }
    }
}

/// CRL reason codes (RFC 5280).
public enum RevocationReason: String, Sendable, Codable, CaseIterable {
    case unspecified, keyCompromise, cACompromise, affiliationChanged, superseded, cessationOfOperation
    var code: Int32 {
        switch self {
        case .unspecified: 0
        case .keyCompromise: 1
        case .cACompromise: 2
        case .affiliationChanged: 3
        case .superseded: 4
        case .cessationOfOperation: 5
        }
    }
}
