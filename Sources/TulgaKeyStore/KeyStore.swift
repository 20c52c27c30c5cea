import TulgaCore
public import TulgaPKI
public import Foundation
import CTulgaPKI

/// One request the key store made, for the application.
public struct GeneratedRequest: Sendable, Codable, Hashable {
    /// Authentication or signing.
    public var purpose: KeyPurpose
    /// The PKCS#10 request, PEM, signed by its key.
    public var pem: String
    /// The key identifier (SHA-1 of the subjectPublicKey bits), lower-case hex.
    public var keyID: String

    /// A request as the key store made it.
    public init(purpose: KeyPurpose, pem: String, keyID: String) { (self.purpose, self.pem, self.keyID) = (purpose, pem, keyID) }
}

/// The applicant's side of issuance (NCALayer's role): it makes the AUTH and SIGN key pairs where
/// the applicant chose, hands out only their requests, and later installs the certificates next to
/// their keys. No private key ever leaves it.
///
/// ```swift
/// let store: any KeyStore = try FolderKeyStore(directory: "~/keys", password: password)
/// let requests = try store.generate(iin: iin, algorithm: .rsa2048)    // send these to the CA
/// let written = try store.install(certificates, chainPEM: chain)     // after issuance
/// ```
public protocol KeyStore: Sendable {
    /// Folder or token.
    var kind: KeyStorageKind { get }
    /// Makes both key pairs and their requests.
    ///
    /// - Parameters:
    ///   - iin: the applicant's IIN; goes in the requests' subject (the CA ignores it and writes its own).
    ///   - algorithm: RSA-2048 or P-256.
    /// - Returns: The AUTH request, then the SIGN request.
    /// - Throws: ``KeyError`` when the storage refuses; `PKIError` when OpenSSL fails.
    func generate(iin: String, algorithm: KeyAlgorithm) throws -> [GeneratedRequest]
    /// Puts each certificate next to its key, after checking both (``checkedForInstall(_:chainPEM:trustedRoot:at:held:)``):
    /// a certificate that fails leaves the storage as it was.
    ///
    /// - Parameters:
    ///   - certificates: the issued certificates, PEM, by purpose.
    ///   - chainPEM: the issuing and root CA certificates, PEM.
    ///   - trustedRoot: the root the chain must end at (`--ca-root`); `nil`: the chain's own root, which
    ///     shows only that the certificates agree with the chain they came with.
    ///   - date: when the certificates and the chain must be valid (the caller's clock).
    /// - Returns: What was written: container paths, or token object labels.
    /// - Throws: ``KeyError`` `.untrusted` for a certificate that does not chain to `chainPEM` at `date`, `.untrustedRoot`
    ///   for a chain that ends at another root than `trustedRoot`, `.mismatch` for one of the wrong purpose, of the
    ///   other purpose's key or of another IIN, or for a key installed already with another certificate, `.noKey` when
    ///   no key of the store matches a certificate, `.password` for a wrong password or PIN; `.invalidRequest` for a
    ///   certificate that cannot be read; others as the storage says.
    func install(_ certificates: [KeyPurpose: String], chainPEM: String, trustedRoot: TrustedRoot?, at date: Date) throws -> [String]
    /// The requests of the key pairs made and not yet installed (no certificate next to them), made
    /// again from what the store keeps: a folder's own `pending/*.csr` once the password opens their
    /// keys, a token's uncertified key pairs signing a new request. The page files them again after a
    /// failed filing. A damaged key (one that cannot be read, or does not match its request) is skipped
    /// and named in ``PendingKeys/skipped``: it does not hide the others.
    ///
    /// - Returns: One request per pending key, AUTH first (empty when none waits), and the keys skipped.
    /// - Throws: ``KeyError`` `.password` for a wrong password or PIN, `.keyStore` or `.token` when the storage
    ///   cannot be read at all.
    func pendingKeys() throws -> PendingKeys
    /// Signs `message` (SHA-256) with the installed key `certificatePEM` certifies: the holder's
    /// proof a renewal needs (``HolderProof``).
    ///
    /// - Parameters:
    ///   - message: what to sign.
    ///   - certificatePEM: the certificate of the key to sign with.
    /// - Returns: The signature: PKCS#1 v1.5 for RSA, DER ECDSA for P-256.
    /// - Throws: ``KeyError`` `.noKey` when the store holds no such key, `.password` for a wrong password or PIN,
    ///   `.token` when the token refuses.
    func sign(_ message: Data, certificatePEM: String) throws -> Data
    /// Whether the store holds key pairs of ours already, pending or installed: the key agent's
    /// `generate` refuses to make more over them.
    ///
    /// - Throws: ``KeyError`` `.keyStore` or `.token` when the storage cannot be read, `.password` for a wrong PIN.
    func holdsKeys() throws -> Bool
    /// The installed AUTH certificate, PEM: the one valid from the latest date when a renewal left
    /// several. The key agent signs in with it.
    ///
    /// - Returns: The certificate, PEM.
    /// - Throws: ``KeyError`` `.noKey` when none is installed, `.password` for a wrong password or PIN,
    ///   `.keyStore` or `.token` when the storage cannot be read.
    func authenticationCertificate() throws -> String
}

/// The pending keys' requests, and the keys skipped as damaged.
public struct PendingKeys: Sendable {
    /// One request per pending key, AUTH first.
    public var requests: [GeneratedRequest]
    /// One line per damaged key skipped, for the holder's own log (it may name local paths).
    public var skipped: [String]

    /// Requests and skipped keys.
    public init(requests: [GeneratedRequest], skipped: [String] = []) { (self.requests, self.skipped) = (requests, skipped) }
}

extension KeyStore {
    /// ``install(_:chainPEM:trustedRoot:at:)`` with no trusted root: the chain's own.
    public func install(_ certificates: [KeyPurpose: String], chainPEM: String, at date: Date) throws -> [String] {
        try install(certificates, chainPEM: chainPEM, trustedRoot: nil, at: date)
    }
}

/// What a key store knows of the key a certificate certifies.
struct HeldKey {
    /// The purpose the key was made for.
    let purpose: KeyPurpose
    /// The IIN its request named, if any.
    let iin: String?
}

/// The checks every key store makes before it writes anything: for each purpose, the certificate is
/// there and readable, is of that purpose, chains to `chainPEM` at `date` (and, given `trustedRoot`, to
/// that root: ``IssuedCertificate/verify(chainPEM:root:at:)``), certifies the store's key made for that
/// purpose, and names the IIN that key's request named.
///
/// - Parameters:
///   - certificates: the certificates, PEM, by purpose.
///   - chainPEM: the issuing and root CA certificates, PEM.
///   - trustedRoot: the root the chain must end at, or `nil`.
///   - date: when they must be valid.
///   - held: the store's key for a certificate of a purpose, or `nil` when it holds none.
/// - Returns: The certificates read, AUTH first.
/// - Throws: ``KeyError`` `.keyStore` (one missing), `.invalidRequest`, `.weakKey`, `.untrusted`, `.untrustedRoot`, `.noKey`, `.mismatch`.
func checkedForInstall(_ certificates: [KeyPurpose: String], chainPEM: String, trustedRoot: TrustedRoot?, at date: Date,
                       held: (KeyPurpose, IssuedCertificate) throws -> HeldKey?) throws -> [(purpose: KeyPurpose, certificate: IssuedCertificate)] {
    try KeyPurpose.allCases.map { purpose in
        let name = purpose.rawValue
        guard let pem = certificates[purpose] else { throw KeyError(.keyStore, "no \(name) certificate to install") }
        let cert = try IssuedCertificate(pem: pem)
        guard cert.isAuthentication == (purpose == .auth) else {
            throw KeyError(.mismatch, purpose == .auth ? "the AUTH certificate is not an authentication certificate (clientAuth)"
                                                       : "the SIGN certificate is an authentication certificate, not a signing one")
        }
        do throws(KeyError) { try cert.verify(chainPEM: chainPEM, root: trustedRoot, at: date) } catch {
            throw KeyError(error.code == .untrustedRoot ? .untrustedRoot : .untrusted, "the \(name) certificate is \(error.reason)")
        }
        guard let key = try held(purpose, cert) else {
            throw KeyError(.noKey, "no key of this storage for the \(name) certificate (key id \(cert.keyID)): it was issued for other keys")
        }
        guard key.purpose == purpose else { throw KeyError(.mismatch, "the \(name) certificate certifies the \(key.purpose.rawValue) key") }
        // IINs are not named: refusals end up on screens and in logs.
        guard let made = key.iin else { throw KeyError(.mismatch, "the \(name) key's request names no IIN, so the certificate cannot be checked against it") }
        guard cert.iin == made else { throw KeyError(.mismatch, "the \(name) certificate names another IIN than the one the keys were made for") }
        return (purpose, cert)
    }
}

/// The purpose a token key's label (`tulga AUTH`, `tulga SIGN`) or a pending request's name gives.
func purpose(named name: some StringProtocol) -> KeyPurpose? { KeyPurpose.allCases.first { name == $0.rawValue } }

/// The newest AUTH certificate of `pems` (latest start of validity, then the larger serial), or `.noKey`.
func newestAuthentication(_ pems: [String], in place: String) throws -> String {
    let certificates = pems.compactMap { try? IssuedCertificate(pem: $0) }.filter(\.isAuthentication)
    let newest = certificates.max { ($0.notValidBefore, $0.serialHex.count, $0.serialHex) < ($1.notValidBefore, $1.serialHex.count, $1.serialHex) }
    guard let newest else { throw KeyError(.noKey, "no AUTH certificate is installed in \(place)") }
    return newest.pem
}

/// Splits a PEM text into its certificates.
func certificatePEMs(_ bundle: String) -> [String] {
    let end = "-----END CERTIFICATE-----"
    return bundle.components(separatedBy: end).dropLast().compactMap { part in
        part.range(of: "-----BEGIN CERTIFICATE-----").map { String(part[$0.lowerBound...]) + end + "\n" }
    }
}

/// The subject an applicant's request carries; the CA replaces it with the registry's.
func requestSubject(iin: String) -> [(String, String)] { [("2.5.4.5", "IIN" + iin), ("C", "KZ")] }

func hex(_ bytes: some Sequence<UInt8>) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

func message(_ error: tp_error) -> String {
    var copy = error
    return withUnsafeBytes(of: &copy.message) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
}

func withSubject<T>(_ pairs: [(String, String)], _ body: (UnsafePointer<tp_name_entry>?, Int32) throws -> T) rethrows -> T {
    let fields = pairs.map { strdup($0.0) }, values = pairs.map { strdup($0.1) }
    defer { (fields + values).forEach { free($0) } }
    let entries = zip(fields, values).map { tp_name_entry(field: $0, value: $1) }
    return try entries.withUnsafeBufferPointer { try body($0.baseAddress, Int32($0.count)) }
}

extension KeyStore {
    /// Answers a sign-in challenge with the AUTH key `certificatePEM` certifies: the signature over
    /// ``SignInProof/message(audience:challenge:)``, for folders and tokens alike.
    ///
    /// - Parameters:
    ///   - challenge: the service's challenge, hex.
    ///   - audience: the service's origin, as the challenge came with it.
    ///   - certificatePEM: the AUTH certificate (the service refuses a SIGN one).
    /// - Returns: The signature.
    /// - Throws: as ``sign(_:certificatePEM:)``.
    public func signSignIn(challenge: String, audience: String, certificatePEM: String) throws -> Data {
        try sign(SignInProof.message(audience: audience, challenge: challenge), certificatePEM: certificatePEM)
    }
}
