public import TulgaCore
public import Foundation
import CTulgaPKI

/// A failure inside OpenSSL, with OpenSSL's own reason appended.
public struct PKIError: TulgaError, Hashable {
    /// What failed, with OpenSSL's reason when there is one.
    public let reason: String
    public let fileID: String
    public let line: Int
    init(_ error: tp_error, fileID: String = #fileID, line: Int = #line) {
        var copy = error
        reason = withUnsafeBytes(of: &copy.message) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
        (self.fileID, self.line) = (fileID, line)
    }
    /// A failure described in words.
    ///
    /// - Parameter message: what failed.
    public init(_ message: String, fileID: String = #fileID, line: Int = #line) { (reason, self.fileID, self.line) = (message, fileID, line) }
    public var errorCode: String { "pki" }
    public var kind: ProblemKind { .internalError }
    public static func == (a: Self, b: Self) -> Bool { a.errorCode == b.errorCode }
    public func hash(into hasher: inout Hasher) { hasher.combine(errorCode) }
}

/// The OpenSSL operations issuance uses: thin Swift over CTulgaPKI.
///
/// Every throwing function throws ``PKIError`` with OpenSSL's reason when the shim call fails.
///
/// ```swift
/// let key = try PKI.generateKey(.rsa2048)                      // the CA's own keys only
/// let csr = try PKI.csr(keyPEM: key, subject: [("CN", "TULGA ISSUING CA")])
/// let cert = try PKI.issue(csrPEM: csr, subject: holder, caCertPEM: root, caKeyPEM: rootKey, extensions: e, notBefore: a, notAfter: b)
/// ```
public enum PKI {
    static func string(_ body: (inout UnsafeMutablePointer<CChar>?, inout tp_error) -> Int32) throws -> String {
        var out: UnsafeMutablePointer<CChar>?
        var error = tp_error()
        guard body(&out, &error) == 1, let out else { throw PKIError(error) }
        // Some of these strings are keys (a decrypted CA key): cleansed before they are freed.
        defer { tp_free_secret(out) }
        return String(cString: out)
    }

    static func withEntries<T>(_ pairs: [(String, String)], _ body: (UnsafePointer<tp_name_entry>?, Int32) throws -> T) rethrows -> T {
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
    ///
    /// - Parameter algorithm: RSA-2048 or P-256.
    /// - Throws: ``PKIError`` if OpenSSL fails.
    public static func generateKey(_ algorithm: KeyAlgorithm) throws -> String {
        try string { tp_key_generate(algorithm.c, &$0, &$1) }
    }

    /// Encrypts a private key as PKCS#8 PEM (PBES2, AES-256-CBC) under `password`.
    ///
    /// - Parameters:
    ///   - pem: the plain private key, PEM.
    ///   - password: the password to encrypt under.
    /// - Returns: The encrypted key, PEM.
    /// - Throws: ``PKIError`` if OpenSSL fails.
    public static func encryptKey(_ pem: String, password: String) throws -> String {
        try string { tp_key_encrypt(pem, password, &$0, &$1) }
    }

    /// Decrypts a key made by ``encryptKey(_:password:)``.
    ///
    /// - Parameters:
    ///   - pem: the encrypted private key, PEM.
    ///   - password: the password it was encrypted under.
    /// - Returns: The plain private key, PEM.
    /// - Throws: ``PKIError`` for a wrong password or a damaged key.
    public static func decryptKey(_ pem: String, password: String) throws -> String {
        try string { tp_key_decrypt(pem, password, &$0, &$1) }
    }

    /// A PKCS#10 certificate request signed with the key.
    ///
    /// - Parameters:
    ///   - keyPEM: the private key, PEM.
    ///   - subject: attribute name (or OID) and value pairs, in order (see ``Holder/subject``).
    /// - Returns: The request, PEM.
    /// - Throws: ``PKIError`` if OpenSSL fails.
    public static func csr(keyPEM: String, subject: [(String, String)]) throws -> String {
        try withEntries(subject) { entries, count in try string { tp_csr_create(keyPEM, entries, count, &$0, &$1) } }
    }

    /// 16 bytes from the CSPRNG, made a positive INTEGER by the shim.
    ///
    /// - Returns: The 16 serial bytes.
    /// The key identifier (SHA-1 of the subjectPublicKey bits, lower-case hex) of a PEM
    /// certificate's or request's key, whatever its strength; nil for text that is neither.
    ///
    /// - Parameter pem: a certificate or a request, PEM.
    public static func keyID(pem: String) -> String? {
        var id = [UInt8](repeating: 0, count: 20)
        var error = tp_error()
        guard tp_public_key_id(pem, &id, &error) == 1 else { return nil }
        return id.map { String(format: "%02x", $0) }.joined()
    }

    public static func randomSerial() -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) }
    }

    /// A self-signed certificate (the root CA's), with a random serial.
    ///
    /// - Parameters:
    ///   - keyPEM: the private key, PEM.
    ///   - subject: attribute name (or OID) and value pairs.
    ///   - extensions: X.509v3 extensions in OpenSSL's config syntax.
    ///   - notBefore: the start of validity.
    ///   - notAfter: the end of validity.
    /// - Returns: The certificate, PEM.
    /// - Throws: ``PKIError`` if OpenSSL fails.
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

    /// Signs a request with a CA's key, with a random serial.
    ///
    /// - Parameters:
    ///   - csrPEM: the request, PEM.
    ///   - subject: the subject the CA decides; `nil` keeps the request's (only for the CA's own certificates).
    ///   - caCertPEM: the signing CA's certificate, PEM.
    ///   - caKeyPEM: the signing CA's private key, PEM.
    ///   - extensions: X.509v3 extensions in OpenSSL's config syntax.
    ///   - notBefore: the start of validity.
    ///   - notAfter: the end of validity.
    /// - Returns: The certificate, PEM.
    /// - Throws: ``PKIError`` for a request whose signature does not verify, or if OpenSSL fails.
    public static func issue(csrPEM: String, subject: [(String, String)]? = nil, caCertPEM: String, caKeyPEM: String,
                             extensions: [(String, String)], notBefore: Date, notAfter: Date) throws -> String {
        let serial = randomSerial()
        return try withEntries(subject ?? []) { entries, count in
            try withExtensions(extensions) { exts, extCount in
                try string {
                    tp_issue(csrPEM, subject == nil ? nil : entries, count, caCertPEM, caKeyPEM, exts, extCount, serial,
                             Int64(notBefore.timeIntervalSince1970), Int64(notAfter.timeIntervalSince1970), &$0, &$1)
                }
            }
        }
    }

    /// One entry of a CRL.
    public struct Revoked: Sendable {
        /// The certificate's serial, in hex.
        public var serialHex: String
        /// When it was revoked.
        public var revokedAt: Date
        /// Why it was revoked.
        public var reason: RevocationReason
        /// Creates an entry.
        ///
        /// - Parameters:
        ///   - serialHex: the serial, in hex.
        ///   - revokedAt: when it was revoked.
        ///   - reason: why.
        public init(serialHex: String, revokedAt: Date, reason: RevocationReason) {
            self.serialHex = serialHex
            self.revokedAt = revokedAt
            self.reason = reason
        }
    }

    /// A CRL signed by the CA.
    ///
    /// - Parameters:
    ///   - caCertPEM: the signing CA's certificate, PEM.
    ///   - caKeyPEM: the signing CA's private key, PEM.
    ///   - revoked: the revoked certificates.
    ///   - thisUpdate: when the CRL is issued.
    ///   - nextUpdate: when the next CRL is due.
    ///   - number: the CRL number; must grow with each CRL.
    /// - Returns: The CRL, PEM.
    /// - Throws: ``PKIError`` if OpenSSL fails.
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
    ///
    /// - Parameters:
    ///   - keyPEM: the private key, PEM.
    ///   - certPEM: its certificate, PEM.
    ///   - chainPEM: the CA certificates to include, PEM, issuing CA first.
    ///   - password: the container password.
    ///   - name: the friendly name shown by key stores.
    ///   - iterations: PBKDF2 iterations.
    /// - Returns: The container, DER.
    /// - Throws: ``PKIError`` if OpenSSL fails, e.g. the key does not match the certificate.
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

    /// The DER inside a PEM block.
    ///
    /// - Parameter pem: one PEM block.
    /// - Returns: Its bytes.
    /// - Throws: ``PKIError`` for text that is not PEM.
    public static func der(pem: String) throws -> Data {
        let body = pem.split(whereSeparator: \.isNewline).filter { !$0.hasPrefix("-----") }.joined()
        guard let data = Data(base64Encoded: body), !data.isEmpty else { throw PKIError("not a PEM block") }
        return data
    }

    /// A PEM block around DER bytes.
    ///
    /// - Parameters:
    ///   - der: the bytes.
    ///   - label: e.g. `CERTIFICATE`, `X509 CRL`.
    /// - Returns: The PEM text, 64 characters a line.
    public static func pem(der: Data, label: String) -> String {
        let base64 = der.base64EncodedString(options: [.lineLength64Characters, .endLineWithLineFeed])
        return "-----BEGIN \(label)-----\n\(base64)\n-----END \(label)-----\n"
    }

    /// A certificate's serial number.
    ///
    /// - Parameter certPEM: the certificate, PEM.
    /// - Returns: The serial in upper-case hex.
    /// - Throws: ``PKIError`` if the certificate cannot be read.
    public static func serialHex(certPEM: String) throws -> String {
        try string { tp_cert_serial(certPEM, &$0, &$1) }
    }
}

/// CRL reason codes (RFC 5280).
public enum RevocationReason: String, Sendable, Codable, CaseIterable {
    /// `superseded` is what a reissue records; `keyCompromise` and `cACompromise` say a key leaked.
    case unspecified, keyCompromise, cACompromise, affiliationChanged, superseded, cessationOfOperation
    /// The RFC 5280 CRLReason code.
    public var code: Int32 {
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
