import TulgaCore
public import Foundation
public import TulgaPKI
import CTulgaPKI

/// A PKCS#11 token: keys are generated on it (sensitive, never extractable) and sign their own
/// requests there; the certificates are stored on it next to their keys (same `CKA_ID`). A key's
/// label (`tulga AUTH`, `tulga SIGN`) keeps its purpose; the private key's `CKA_SUBJECT` the request's
/// subject (the IIN, readable only after login).
///
/// ```swift
/// let store = TokenKeyStore(module: "/usr/lib/softhsm/libsofthsm2.so", label: "tulga", pin: pin)
/// let requests = try store.generate(iin: iin, algorithm: .p256)
/// ```
public struct TokenKeyStore: KeyStore {
    /// The PKCS#11 module's path.
    public let module: String
    /// The token's label.
    public let label: String
    let pin: String

    public var kind: KeyStorageKind { .token }

    /// A token in a PKCS#11 module; nothing is opened until it is used.
    ///
    /// - Parameters:
    ///   - module: the PKCS#11 module's path.
    ///   - label: the token's label.
    ///   - pin: the user PIN.
    public init(module: String, label: String, pin: String) { (self.module, self.label, self.pin) = (module, label, pin) }

    /// Opens the token, runs `body` in one logged-in session, closes it.
    func session<T>(_ body: (OpaquePointer) throws -> T) throws -> T {
        var token: OpaquePointer?
        var error = tp_error()
        guard tp_token_open(module, label, pin, &token, &error) == 1, let token else { throw Self.refusal(error) }
        defer { tp_token_close(token) }
        return try body(token)
    }

    /// A token's refusal as a ``KeyError``: `.password` for a wrong PIN, `.noKey` for a missing key, else `.token`.
    static func refusal(_ error: tp_error) -> KeyError {
        switch error.kind {
        case Int32(TP_WRONG_SECRET.rawValue): KeyError(.password, message(error))
        case Int32(TP_NO_KEY.rawValue): KeyError(.noKey, message(error))
        default: KeyError(.token, message(error))
        }
    }

    public func generate(iin: String, algorithm: KeyAlgorithm) throws -> [GeneratedRequest] {
        try session { token in
            var made: [(GeneratedRequest, [UInt8])] = []
            for purpose in KeyPurpose.allCases {
                var csr: UnsafeMutablePointer<CChar>?
                var id = [UInt8](repeating: 0, count: 20)
                var error = tp_error()
                // Labels are public (readable without the PIN): they name the purpose, not the person.
                let ok = withSubject(requestSubject(iin: iin)) { entries, count in
                    tp_token_generate(token, algorithm == .p256 ? Int32(TP_EC_P256.rawValue) : Int32(TP_RSA_2048.rawValue),
                                      "tulga \(purpose.rawValue)", entries, count, &csr, &id, &error)
                }
                defer { tp_free(csr) }
                guard ok == 1, let csr else {
                    // Both pairs or neither: the AUTH pair made before a failed SIGN pair goes too.
                    for (_, earlier) in made { var ignored = tp_error(); _ = tp_token_delete(token, earlier, &ignored) }
                    throw KeyError(.token, message(error))
                }
                made.append((GeneratedRequest(purpose: purpose, pem: String(cString: csr), keyID: hex(id)), id))
            }
            return made.map(\.0)
        }
    }

    public func sign(_ message: Data, certificatePEM: String) throws -> Data {
        var id = [UInt8](repeating: 0, count: 20)
        var error = tp_error()
        guard tp_public_key_id(certificatePEM, &id, &error) == 1 else { throw KeyError(.keyStore, TulgaKeyStore.message(error)) }
        return try session { token in
            var signature: UnsafeMutablePointer<UInt8>?
            var length = 0
            let ok = message.withUnsafeBytes { m in
                tp_token_sign(token, id, m.bindMemory(to: UInt8.self).baseAddress, m.count, &signature, &length, &error)
            }
            defer { tp_free(signature) }
            guard ok == 1, let signature else { throw Self.refusal(error) }
            return Data(bytes: signature, count: length)
        }
    }

    public func install(_ certificates: [KeyPurpose: String], chainPEM: String, trustedRoot: TrustedRoot?, at date: Date) throws -> [String] {
        try session { token in
            // Both certificates are checked before anything is stored; the keys are read, never used to sign.
            let checked = try checkedForInstall(certificates, chainPEM: chainPEM, trustedRoot: trustedRoot, at: date) { _, cert in
                guard let id = Self.keyIDBytes(cert.keyID), let key = try Self.key(token, id) else { return nil }
                return HeldKey(purpose: key.purpose, iin: key.iin)
            }
            return try checked.map { purpose, cert in
                var error = tp_error()
                let name = purpose.fileName(serialHex: cert.serialHex, algorithm: cert.algorithm)
                guard tp_token_store_certificate(token, cert.pem, name, &error) == 1 else { throw Self.refusal(error) }
                return "token \(label): \(name) (id \(cert.keyID))"
            }
        }
    }

    /// The key pairs labelled `tulga AUTH` or `tulga SIGN` with no certificate stored next to them; only
    /// those sign a new request. A pair that cannot be read is skipped and named.
    public func pendingKeys() throws -> PendingKeys {
        var found: [GeneratedRequest] = [], skipped: [String] = []
        try session { token in
            for id in try Self.keyIDs(token) {
                do {
                    // Read first: an installed (certified) key, or one not ours, signs nothing.
                    guard let key = try Self.key(token, id), !key.certified else { continue }
                    let request = try Self.request(token, id)
                    guard request.keyID == hex(id) else { throw KeyError(.token, "the key's request is not for its key ID") }
                    found.append(GeneratedRequest(purpose: key.purpose, pem: request.pem, keyID: hex(id)))
                } catch let error as KeyError where error.code != .password {
                    skipped.append("token \(label): key \(hex(id)) is damaged: \(error.reason)")
                }
            }
        }
        return PendingKeys(requests: found.sorted { ($0.purpose == .auth ? 0 : 1) < ($1.purpose == .auth ? 0 : 1) }, skipped: skipped)
    }

    /// The IDs of every private key labelled `tulga …`.
    static func keyIDs(_ token: OpaquePointer) throws -> [[UInt8]] {
        var ids: UnsafeMutablePointer<UInt8>?
        var count: Int32 = 0
        var error = tp_error()
        defer { tp_free(ids) }
        guard tp_token_key_ids(token, "tulga ", &ids, &count, &error) == 1 else { throw refusal(error) }
        guard let ids, count > 0 else { return [] }
        return (0..<Int(count)).map { i in Array(UnsafeBufferPointer(start: ids + 20 * i, count: 20)) }
    }

    /// What the token holds of the key pair `id`, read from its attributes (nothing is signed): its purpose
    /// (from its label), the IIN its subject names, and whether a certificate is stored next to it; `nil`
    /// when the token has no such pair of ours.
    static func key(_ token: OpaquePointer, _ id: [UInt8]) throws -> (purpose: KeyPurpose, iin: String?, certified: Bool)? {
        var label: UnsafeMutablePointer<CChar>?, subject: UnsafeMutablePointer<UInt8>?
        var length = 0
        var publicID = [UInt8](repeating: 0, count: 20)
        var certified: Int32 = 0
        var error = tp_error()
        defer { tp_free(label); tp_free(subject) }
        guard tp_token_key_info(token, id, &label, &subject, &length, &publicID, &certified, &error) == 1, let label else {
            if error.kind == Int32(TP_NO_KEY.rawValue) { return nil }
            throw refusal(error)
        }
        let name = String(cString: label)
        guard name.hasPrefix("tulga "), let made = purpose(named: name.dropFirst(6)) else { return nil }
        guard publicID == id else { throw KeyError(.token, "the key's CKA_ID is not its public key's identifier") }
        let iin = subject.flatMap { PKI.iin(subjectDER: Array(UnsafeBufferPointer(start: $0, count: length))) }
        return (made, iin, certified == 1)
    }

    /// A new request for the key pair `id`, signed on the token with the subject it was made with.
    static func request(_ token: OpaquePointer, _ id: [UInt8]) throws -> CertificateRequest {
        var csr: UnsafeMutablePointer<CChar>?
        var error = tp_error()
        defer { tp_free(csr) }
        guard tp_token_request(token, id, &csr, &error) == 1, let csr else { throw refusal(error) }
        return try CertificateRequest(pem: String(cString: csr))
    }

    /// A key ID's 20 bytes from its 40 hex digits.
    static func keyIDBytes(_ keyID: String) -> [UInt8]? {
        let digits = Array(keyID.utf8)
        guard digits.count == 40 else { return nil }
        var id = [UInt8](repeating: 0, count: 20)
        for i in 0..<20 {
            guard let byte = UInt8(String(decoding: digits[2 * i..<2 * i + 2], as: UTF8.self), radix: 16) else { return nil }
            id[i] = byte
        }
        return id
    }

    /// Private keys labelled `tulga AUTH` or `tulga SIGN` (the labels ``generate(iin:algorithm:)`` gives).
    public func holdsKeys() throws -> Bool {
        try session { token in
            var count: Int32 = 0
            var error = tp_error()
            guard tp_token_key_count(token, "tulga ", &count, &error) == 1 else { throw Self.refusal(error) }
            return count > 0
        }
    }

    /// Read from the certificate objects labelled `AUTH_…` (the labels ``install(_:chainPEM:)`` gives).
    public func authenticationCertificate() throws -> String {
        let bundle: String = try session { token in
            var pems: UnsafeMutablePointer<CChar>?
            var count: Int32 = 0
            var error = tp_error()
            defer { tp_free(pems) }
            guard tp_token_certificates(token, "AUTH_", &pems, &count, &error) == 1, let pems else { throw Self.refusal(error) }
            return String(cString: pems)
        }
        return try newestAuthentication(certificatePEMs(bundle), in: "token \(label)")
    }

    /// For audits: asks the token for the secret value of the private key `keyID`.
    ///
    /// - Parameter keyID: the key identifier, hex.
    /// - Returns: Whether the token handed it out (it must not), and the token's answer (`CKR_ATTRIBUTE_SENSITIVE` is 0x11).
    /// - Throws: ``KeyError`` `.token` when the token cannot be opened or has no such key.
    public func secretReadable(keyID: String) throws -> (readable: Bool, answer: UInt64) {
        guard let id = Self.keyIDBytes(keyID) else { throw KeyError(.token, "a key ID is 40 hex digits") }
        return try session { token in
            var answer: UInt64 = 0
            var error = tp_error()
            let readable = tp_token_probe_secret(token, id, &answer, &error)
            if readable == 0, answer == 0 { throw KeyError(.token, message(error)) }
            return (readable == 1, answer)
        }
    }
}
