public import TulgaPKI
import TulgaCore
public import Foundation
import Synchronization

/// Where the local CA keeps its files, and the URL its CRL is published at.
public struct CAConfig: Sendable, Codable {
    /// The folder holding `root.crt`, `issuing.crt`, their encrypted keys and `crl.pem`.
    public var directory = "var/ca"
    /// File holding the password that encrypts the CA keys on disk (else $TULGA_CA_PASSWORD). It must lie
    /// outside ``directory``: a password beside the keys it opens protects nothing.
    public var passwordFile = "var/keys/ca-password"
    /// The public base URL `tulga serve` answers revocation under: certificates point at
    /// `<base>/issuing.crl` and `<base>/ocsp`, and its origin is the sign-in audience. Empty (the
    /// default): `/pki` where the service listens, as the configuration derives it (``baseURL``).
    public var publicBaseURL = ""
    /// ``publicBaseURL``, or `http://127.0.0.1:8080/pki` (`tulga serve`'s default address) while it is empty.
    public var baseURL: String { publicBaseURL.isEmpty ? "http://127.0.0.1:8080/pki" : publicBaseURL }
    /// How long an end-entity certificate is valid, in days.
    public var validityDays = 365.0
    /// How long a CRL is valid (its next update), in days; a new one is signed at half time.
    public var crlValidityDays = 7.0
    /// How long an OCSP answer is valid (its next update), in minutes.
    public var ocspValidityMinutes = 60.0
    /// How long the delegated OCSP-signing certificate is valid, in days; renewed with 30 days left.
    public var ocspSignerValidityDays = 90.0
    /// The defaults: `var/ca`, the password in `var/keys/ca-password`, one-year certificates, weekly CRLs.
    public init() {}
}

/// A root and an issuing CA on disk, and the issuing CA's delegated OCSP signer: certificates in
/// PEM, keys as encrypted PKCS#8 (PBES2, AES-256-CBC). `tulga ca init` creates them. Once made, only
/// `issuing.key` is used: the root's key may live off the host.
///
/// ```swift
/// try LocalCA.initialize(config, now: clock.date, offlineRootKey: "/media/usb/root.key")   // once: `tulga ca init`
/// let ca = try LocalCA(config)
/// let cert = try ca.issue(csrPEM: csr, subject: holder.subject, extensions: extensions, now: clock.date)
/// let crl = try ca.crl(revoked, number: 1, now: clock.date)
/// ```
public struct LocalCA: Sendable {
    /// Where the files are and how long things last.
    public let config: CAConfig
    /// The root CA's certificate, PEM.
    public let rootCertPEM: String
    /// The issuing CA's certificate, PEM.
    public let issuingCertPEM: String
    private let password: String

    var rootCertPath: String { Self.path(config, "root.crt") }
    var issuingCertPath: String { Self.path(config, "issuing.crt") }
    static func path(_ c: CAConfig, _ name: String) -> String { (c.directory as NSString).appendingPathComponent(name) }

    /// Where the password comes from: `$TULGA_CA_PASSWORD` or the password file.
    public var passwordSource: String { Self.environmentPassword == nil ? config.passwordFile : "$TULGA_CA_PASSWORD" }

    /// `$TULGA_CA_PASSWORD`, unless unset or empty.
    static var environmentPassword: String? {
        ProcessInfo.processInfo.environment["TULGA_CA_PASSWORD"].flatMap { $0.isEmpty ? nil : $0 }
    }

    static func password(_ config: CAConfig) throws -> String {
        try checkPasswordPlace(config)
        if let env = environmentPassword { return env }
        guard let data = FileManager.default.contents(atPath: config.passwordFile),
              let text = String(data: data, encoding: .utf8)?.trimmingCharacters(in: .whitespacesAndNewlines), !text.isEmpty else {
            throw IssuanceError(.ca, "no CA password: set TULGA_CA_PASSWORD or create \(config.passwordFile) (tulga ca init does)")
        }
        return text
    }

    /// Refuses a password file inside the CA folder, and the one older builds kept there (`<ca>/password`) while the
    /// configured file is missing: the operator moves it, it is never read from beside the keys.
    static func checkPasswordPlace(_ config: CAConfig) throws {
        guard !isInside(config.passwordFile, config.directory) else {
            throw IssuanceError(.ca, "the CA password file \(config.passwordFile) is inside the CA folder \(config.directory), beside the keys it "
                                + "opens; move it out (the default is \(CAConfig().passwordFile), in a 0700 folder) and set ca.passwordFile")
        }
        let legacy = path(config, "password"), fm = FileManager.default
        if environmentPassword == nil, !fm.fileExists(atPath: config.passwordFile), fm.fileExists(atPath: legacy) {
            throw IssuanceError(.ca, "the CA password is in \(legacy), beside the keys it opens; move it to \(config.passwordFile) "
                                + "(its folder 0700, the file 0600)")
        }
    }

    /// Whether `path` is `folder` or lies below it, both made absolute with links resolved as far as they exist.
    static func isInside(_ path: String, _ folder: String) -> Bool {
        let p = resolved(path), f = resolved(folder)
        return p == f || p.hasPrefix(f == "/" ? f : f + "/")
    }

    private static func resolved(_ path: String) -> String {
        var head = URL(fileURLWithPath: path).standardizedFileURL.path, tail: [String] = []
        while head != "/", !FileManager.default.fileExists(atPath: head) {
            tail.insert((head as NSString).lastPathComponent, at: 0)
            head = (head as NSString).deletingLastPathComponent
        }
        let pointer = realpath(head, nil)
        defer { free(pointer) }
        let real = pointer.map { String(cString: $0) } ?? head
        return tail.reduce(real) { ($0 as NSString).appendingPathComponent($1) }
    }

    /// Creates the root (10 years) and the issuing CA (5 years). Refuses to overwrite.
    ///
    /// Without `$TULGA_CA_PASSWORD` and a password file, a random password is written to
    /// ``CAConfig/passwordFile`` (mode 0600, a missing folder made 0700), which must lie outside the CA folder.
    /// With `offlineRootKey`, the root's encrypted key is written there instead of `root.key`, to be moved off
    /// the host: certificates, CRLs and OCSP need only `issuing.key`.
    ///
    /// - Parameters:
    ///   - config: where to write the files.
    ///   - now: the start of validity (backdated a minute).
    ///   - offlineRootKey: a new file outside the CA folder for the root's key (0600); `nil` keeps it in `root.key`.
    /// - Returns: The new CA, loaded.
    /// - Throws: ``IssuanceError`` `.ca` if a CA exists already, the password file is in the CA folder or an older
    ///   build's `<ca>/password` waits to be moved, `offlineRootKey` is in the CA folder or exists, or a file cannot
    ///   be written; ``PKIError`` if OpenSSL fails.
    @discardableResult
    public static func initialize(_ config: CAConfig, now: Date, offlineRootKey: String? = nil) throws -> LocalCA {
        let fm = FileManager.default
        try checkPasswordPlace(config)
        guard !fm.fileExists(atPath: path(config, "root.crt")) else {
            throw IssuanceError(.ca, "a CA already exists in \(config.directory); move it away to create a new one")
        }
        if let offlineRootKey {
            guard !isInside(offlineRootKey, config.directory) else {
                throw IssuanceError(.ca, "the offline root key \(offlineRootKey) would be inside the CA folder \(config.directory); name a file outside it")
            }
            var info = stat()
            guard lstat(offlineRootKey, &info) != 0 else { throw IssuanceError(.ca, "\(offlineRootKey) exists; the root key is never written over a file") }
        }
        try makePrivateFolder(config.directory)
        if environmentPassword == nil, !fm.fileExists(atPath: config.passwordFile) {
            try makePrivateFolder((config.passwordFile as NSString).deletingLastPathComponent)
            let generated = PKI.randomSerial().map { String(format: "%02x", $0) }.joined()
            try writePrivate(Data(generated.utf8), to: config.passwordFile, mode: 0o600)
        }
        let password = try Self.password(config)
        let rootKey = try PKI.generateKey(.rsa2048)
        let root = try PKI.selfSigned(
            keyPEM: rootKey, subject: [("CN", "TULGA ROOT CA (TEST)"), ("O", "tulga"), ("C", "KZ")],
            extensions: [("basicConstraints", "critical,CA:TRUE"), ("keyUsage", "critical,keyCertSign,cRLSign"),
                         ("subjectKeyIdentifier", "hash")],
            notBefore: now.addingTimeInterval(-60), notAfter: now.addingTimeInterval(3650 * 86400))
        let issuingKey = try PKI.generateKey(.rsa2048)
        let csr = try PKI.csr(keyPEM: issuingKey, subject: [("CN", "TULGA ISSUING CA (TEST)"), ("O", "tulga"), ("C", "KZ")])
        let issuing = try PKI.issue(
            csrPEM: csr, caCertPEM: root, caKeyPEM: rootKey,
            extensions: [("basicConstraints", "critical,CA:TRUE,pathlen:0"), ("keyUsage", "critical,keyCertSign,cRLSign"),
                         ("subjectKeyIdentifier", "hash"), ("authorityKeyIdentifier", "keyid:always")],
            notBefore: now.addingTimeInterval(-60), notAfter: now.addingTimeInterval(1825 * 86400))
        let encryptedRoot = try PKI.encryptKey(rootKey, password: password)
        // The offline key first: if it cannot be written, the CA folder stays empty.
        if let offlineRootKey { try createPrivate(Data(encryptedRoot.utf8), at: offlineRootKey, mode: 0o600) }
        var files = [("root.crt", root, 0o644), ("issuing.crt", issuing, 0o644),
                     ("issuing.key", try PKI.encryptKey(issuingKey, password: password), 0o600)]
        if offlineRootKey == nil { files.append(("root.key", encryptedRoot, 0o600)) }
        for (name, content, mode) in files {
            // Created with their final mode (O_EXCL, then renamed): the keys are never readable by others, not even for a moment.
            try writePrivate(Data(content.utf8), to: path(config, name), mode: mode_t(mode))
        }
        let ca = try LocalCA(config)
        _ = try ca.ocspSigner(now: now)
        return ca
    }

    /// The CA, or `nil` when there is none yet or its password is not at hand (an operation that needs it then
    /// says so).
    ///
    /// - Parameter config: where the files are.
    /// - Returns: The CA, loaded, or `nil`.
    /// - Throws: ``IssuanceError`` `.ca` if the password file is in the CA folder or an older build's `<ca>/password`
    ///   waits to be moved: that is the operator's to fix, not a CA to do without.
    public static func load(_ config: CAConfig) throws -> LocalCA? {
        guard FileManager.default.fileExists(atPath: path(config, "root.crt")) else { return nil }
        try checkPasswordPlace(config)
        return try? LocalCA(config)
    }

    /// Loads the CA's certificates and its password.
    ///
    /// - Parameter config: where the files are.
    /// - Throws: ``IssuanceError`` `.ca` if there is no CA or no password.
    public init(_ config: CAConfig) throws {
        self.config = config
        guard let root = try? String(contentsOfFile: Self.path(config, "root.crt"), encoding: .utf8),
              let issuing = try? String(contentsOfFile: Self.path(config, "issuing.crt"), encoding: .utf8) else {
            throw IssuanceError(.ca, "no CA in \(config.directory): run tulga ca init")
        }
        rootCertPEM = root
        issuingCertPEM = issuing
        password = try Self.password(config)
    }

    /// The CA's files no longer on disk (certificates and the issuing key), for a readiness check.
    public var missingFiles: [String] {
        ["root.crt", "issuing.crt", "issuing.key"].filter { !FileManager.default.fileExists(atPath: Self.path(config, $0)) }
    }

    /// The issuing CA's key, decrypted for one operation.
    func issuingKey() throws -> String {
        guard let encrypted = try? String(contentsOfFile: Self.path(config, "issuing.key"), encoding: .utf8) else {
            throw IssuanceError(.ca, "cannot read \(Self.path(config, "issuing.key"))")
        }
        do { return try PKI.decryptKey(encrypted, password: password) } catch {
            throw IssuanceError(.ca, "cannot decrypt the issuing CA key: wrong CA password?")
        }
    }

    /// Signs a request with the issuing CA; one year by default. The subject is the CA's, not the request's.
    ///
    /// - Parameters:
    ///   - csrPEM: the request, PEM (its signature is verified again).
    ///   - subject: the subject the CA writes (``Holder/subject``).
    ///   - extensions: X.509v3 extensions in OpenSSL's config syntax (see ``KeyPurpose/extensions(template:remote:urls:)``).
    ///   - now: the start of validity (backdated a minute).
    /// - Returns: The certificate, PEM, valid for ``CAConfig/validityDays``.
    /// - Throws: ``IssuanceError`` `.ca` if the issuing key cannot be read or decrypted; ``PKIError`` if signing fails.
    public func issue(csrPEM: String, subject: [(String, String)], extensions: [(String, String)], now: Date) throws -> String {
        try PKI.issue(csrPEM: csrPEM, subject: subject, caCertPEM: issuingCertPEM, caKeyPEM: try issuingKey(), extensions: extensions,
                      notBefore: now.addingTimeInterval(-60), notAfter: now.addingTimeInterval(config.validityDays * 86400))
    }

    /// A CRL signed by the issuing CA.
    ///
    /// - Parameters:
    ///   - revoked: every revoked certificate.
    ///   - number: the CRL number; must grow with each CRL.
    ///   - now: `thisUpdate`; `nextUpdate` is ``CAConfig/crlValidityDays`` later.
    /// - Returns: The CRL, PEM.
    /// - Throws: ``IssuanceError`` `.ca` if the issuing key cannot be read or decrypted; ``PKIError`` if signing fails.
    public func crl(_ revoked: [PKI.Revoked], number: Int64, now: Date) throws -> String {
        try PKI.crl(caCertPEM: issuingCertPEM, caKeyPEM: try issuingKey(), revoked: revoked, thisUpdate: now,
                    nextUpdate: now.addingTimeInterval(config.crlValidityDays * 86400), number: number)
    }

    /// Writes `crl.pem` in the CA folder and returns its path.
    ///
    /// - Parameter pem: the CRL, PEM.
    /// - Returns: The path.
    /// - Throws: the file system's error if the file cannot be written.
    public func writeCRL(pem: String) throws -> String {
        let path = Self.path(config, "crl.pem")
        try Data(pem.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
        return path
    }

    /// The delegated OCSP signer (`ocsp.pem`: its certificate, then its encrypted key), issued by the issuing CA with
    /// extendedKeyUsage OCSPSigning and id-pkix-ocsp-nocheck; made when missing or within 30 days
    /// of its end.
    ///
    /// - Parameter now: the time to judge and date it by.
    /// - Returns: The signer.
    /// - Throws: ``IssuanceError`` `.ca` if a file cannot be written or the issuing key read; ``PKIError``.
    public func ocspSigner(now: Date) throws -> OCSP.Signer {
        // One rotation at a time in this process; certificate and key share one file, replaced by
        // one rename, so a reader never sees a key that does not match its certificate.
        try Self.rotation.withLock { _ in
            let path = Self.path(config, "ocsp.pem"), marker = "-----BEGIN ENCRYPTED PRIVATE KEY-----"
            if let text = try? String(contentsOfFile: path, encoding: .utf8), let split = text.range(of: marker) {
                let cert = String(text[..<split.lowerBound]), key = String(text[split.lowerBound...])
                if let parsed = try? IssuedCertificate(pem: cert), parsed.notValidAfter.timeIntervalSince(now) > 30 * 86400 {
                    return OCSP.Signer(certificatePEM: cert, encryptedKeyPEM: key, password: password)
                }
            }
            let key = try PKI.generateKey(.rsa2048)
            let csr = try PKI.csr(keyPEM: key, subject: [("CN", "TULGA OCSP RESPONDER (TEST)"), ("O", "tulga"), ("C", "KZ")])
            let cert = try PKI.issue(csrPEM: csr, caCertPEM: issuingCertPEM, caKeyPEM: try issuingKey(),
                                     extensions: [("basicConstraints", "critical,CA:FALSE"), ("keyUsage", "critical,digitalSignature"),
                                                  ("extendedKeyUsage", "critical,OCSPSigning"), ("noCheck", "ignored"),
                                                  ("subjectKeyIdentifier", "hash"), ("authorityKeyIdentifier", "keyid:always")],
                                     notBefore: now.addingTimeInterval(-60), notAfter: now.addingTimeInterval(config.ocspSignerValidityDays * 86400))
            let encrypted = try PKI.encryptKey(key, password: password)
            try Self.writePrivate(Data((cert + encrypted).utf8), to: path, mode: 0o600)
            // The two files of older builds go: one signer, one file.
            for old in ["ocsp.key", "ocsp.crt"] { unlink(Self.path(config, old)) }
            return OCSP.Signer(certificatePEM: cert, encryptedKeyPEM: encrypted, password: password)
        }
    }

    private static let rotation = Mutex<Void>(())

    /// Writes through a temporary file created with `mode` and `O_EXCL`, then renames it over `path` (``PrivateFile``).
    static func writePrivate(_ data: Data, to path: String, mode: mode_t) throws {
        do { try PrivateFile.replace(path, data, mode: mode) } catch { throw IssuanceError(.ca, "cannot write \(error)") }
    }

    /// Creates `path` with `mode` and `O_EXCL|O_NOFOLLOW` (never over a file or a link), written whole.
    static func createPrivate(_ data: Data, at path: String, mode: mode_t) throws {
        do { try PrivateFile.createWhole(path, data, mode: mode) } catch { throw IssuanceError(.ca, "\(error)") }
    }

    /// Creates `folder` and its missing parents, each 0700 from the start; an existing one is left as it is.
    static func makePrivateFolder(_ folder: String) throws {
        do { try PrivateFile.makeFolder(folder) } catch { throw IssuanceError(.ca, "\(error)") }
    }

    /// Issuing CA then root, for PKCS#12 chains and `openssl verify`.
    public var chainPEM: String { issuingCertPEM + rootCertPEM }
}
