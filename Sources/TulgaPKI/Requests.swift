public import Foundation
import _CryptoExtras
import Crypto
import CTulgaPKI
import SwiftASN1
public import TulgaCore
import X509

/// A PKCS#10 request the CA accepts: read and checked with swift-certificates.
///
/// ```swift
/// let request = try CertificateRequest(pem: body.authRequest)   // proof of possession, key strength
/// request.algorithm   // .rsa2048 or .p256
/// request.keyID       // SHA-1 of the subjectPublicKey bits, hex
/// ```
public struct CertificateRequest: Sendable, Hashable {
    /// The request as sent, PEM.
    public let pem: String
    /// The key's algorithm.
    public let algorithm: KeyAlgorithm
    /// The key identifier (RFC 5280 method 1: SHA-1 of the subjectPublicKey bits), lower-case hex.
    public let keyID: String
    /// The IIN in the subject's SERIALNUMBER (`IIN` and 12 digits), as the key store writes it; the CA
    /// ignores it and writes the registry's.
    public let iin: String?

    /// Longest request accepted, in bytes (an RSA-4096 request is about 1.7 kB).
    public static let maximumLength = 16 * 1024

    /// Reads and checks a request: its signature must verify under its own key (proof of
    /// possession), and the key must be RSA of at least 2048 bits or P-256.
    ///
    /// - Parameter pem: the request, PEM.
    /// - Throws: ``KeyError`` `.invalidRequest` for text that is not a request or a signature that
    ///   does not verify; `.weakKey` for RSA below 2048 bits or another curve or algorithm.
    public init(pem: String) throws(KeyError) {
        guard pem.utf8.count <= Self.maximumLength else { throw KeyError(.invalidRequest, "a certificate request is at most \(Self.maximumLength) bytes") }
        let csr: CertificateSigningRequest
        do {
            csr = try CertificateSigningRequest(pemEncoded: pem)
        } catch {
            // swift-crypto refuses RSA below 2048 bits while parsing; OpenSSL says what the key is.
            throw Self.diagnose(pem) ?? KeyError(.invalidRequest, "not a PEM certificate request (\(error))")
        }
        let key = csr.publicKey
        if let rsa = _RSA.Signing.PublicKey(key) {
            guard rsa.keySizeInBits >= 2048 else { throw KeyError(.weakKey, "the request's key is RSA-\(rsa.keySizeInBits); at least RSA-2048 is required") }
            algorithm = .rsa2048
        } else if P256.Signing.PublicKey(key) != nil {
            algorithm = .p256
        } else {
            throw KeyError(.weakKey, "the request's key is neither RSA (2048 bits or more) nor P-256")
        }
        guard key.isValidSignature(csr.signature, for: csr) else {
            throw KeyError(.invalidRequest, "the request's signature does not verify: it was not signed by the key it carries")
        }
        self.pem = pem
        keyID = Insecure.SHA1.hash(data: Array(key.subjectPublicKeyInfoBytes)).map { String(format: "%02x", $0) }.joined()
        iin = subjectIIN(csr.subject)
    }

    /// What is wrong with a request swift-certificates would not read, when OpenSSL can say.
    static func diagnose(_ pem: String) -> KeyError? {
        var type: Int32 = -1, bits: Int32 = 0
        var error = tp_error()
        guard tp_request_key(pem, &type, &bits, &error) == 1 else { return nil }
        if type == Int32(TP_RSA_2048.rawValue), bits < 2048 { return KeyError(.weakKey, "the request's key is RSA-\(bits); at least RSA-2048 is required") }
        if type != Int32(TP_RSA_2048.rawValue), type != Int32(TP_EC_P256.rawValue) {
            return KeyError(.weakKey, "the request's key (\(bits) bits) is neither RSA (2048 bits or more) nor P-256")
        }
        return nil
    }
}

/// A certificate as the key store and the CA read it, with swift-certificates.
public struct IssuedCertificate: Sendable, Hashable {
    /// The certificate, PEM.
    public let pem: String
    /// The serial in upper-case hex, as OpenSSL prints it.
    public let serialHex: String
    /// The key identifier of its public key, lower-case hex (as ``CertificateRequest/keyID``).
    public let keyID: String
    /// The key's algorithm.
    public let algorithm: KeyAlgorithm
    /// The start of validity.
    public let notValidBefore: Date
    /// The end of validity.
    public let notValidAfter: Date
    /// An AUTH certificate as the CA issues them: extendedKeyUsage clientAuth, no nonRepudiation.
    public let isAuthentication: Bool
    /// The IIN in the subject's SERIALNUMBER (`IIN` and 12 digits), if there is one.
    public let iin: String?

    /// Reads a certificate.
    ///
    /// - Parameter pem: the certificate, PEM.
    /// - Throws: ``KeyError`` `.invalidRequest` for text that is not a certificate with an RSA or P-256 key.
    public init(pem: String) throws(KeyError) {
        let cert: Certificate
        do { cert = try Certificate(pemEncoded: pem) } catch { throw KeyError(.invalidRequest, "not a PEM certificate (\(error))") }
        if P256.Signing.PublicKey(cert.publicKey) != nil { algorithm = .p256 }
        else if _RSA.Signing.PublicKey(cert.publicKey) != nil { algorithm = .rsa2048 }
        else { throw KeyError(.weakKey, "the certificate's key is neither RSA nor P-256") }
        self.pem = pem
        // As OpenSSL's BN_bn2hex prints it: no leading zero bytes, two digits a byte.
        let bytes = cert.serialNumber.bytes.drop { $0 == 0 }
        serialHex = bytes.isEmpty ? "0" : bytes.map { String(format: "%02X", $0) }.joined()
        keyID = Insecure.SHA1.hash(data: Array(cert.publicKey.subjectPublicKeyInfoBytes)).map { String(format: "%02x", $0) }.joined()
        (notValidBefore, notValidAfter) = (cert.notValidBefore, cert.notValidAfter)
        let eku = try? cert.extensions.extendedKeyUsage, usage = try? cert.extensions.keyUsage
        isAuthentication = (eku?.contains(.clientAuth) ?? false) && !(usage?.nonRepudiation ?? false)
        iin = subjectIIN(cert.subject)
    }

    /// Checks that the certificate chains to `chainPEM` at `date`, with OpenSSL's verifier: each
    /// signature, every validity period on `date`, the CAs' basic constraints and key usage (RFC 5280,
    /// strict). The self-signed certificates of `chainPEM` are the only trust anchors: without `root`
    /// this shows only that the certificates agree with the chain they came with; with it, the chain
    /// must also end at exactly that root (DER), the caller's own trust anchor.
    ///
    /// - Parameters:
    ///   - chainPEM: the issuing and root CA certificates, PEM.
    ///   - root: the trusted root CA (``TrustedRoot``), or `nil`.
    ///   - date: when to judge validity (the caller's clock).
    /// - Throws: ``KeyError`` `.untrusted` ("not valid under the CA chain given: …") with OpenSSL's reason and where
    ///   in the chain it failed; `.untrustedRoot` when the chain ends at another root than `root`.
    public func verify(chainPEM: String, root: TrustedRoot? = nil, at date: Date) throws(KeyError) {
        var error = tp_error()
        guard tp_certificate_verify(pem, chainPEM, root?.pem, Int64(date.timeIntervalSince1970.rounded(.down)), &error) == 1 else {
            if error.kind == Int32(TP_UNTRUSTED_ROOT.rawValue) {
                throw KeyError(.untrustedRoot, "not issued under the trusted root CA (--ca-root): the chain given ends at another root CA")
            }
            throw KeyError(.untrusted, "not valid under the CA chain given: \(PKIError(error).reason)")
        }
    }
}

/// The root CA certificate the applicant's side trusts (`--ca-root FILE`): certificates are installed
/// only when their chain ends at exactly this certificate.
public struct TrustedRoot: Sendable, Hashable {
    /// The certificate, PEM.
    public let pem: String
    /// Its bytes.
    public let der: Data

    /// The largest file read.
    public static let maximumLength = 64 * 1024

    /// Reads a root CA certificate: one PEM certificate, self-issued (its subject is its issuer).
    ///
    /// - Parameter pem: the file's text.
    /// - Throws: ``KeyError`` `.invalidRequest` naming what is wrong.
    public init(pem: String) throws(KeyError) {
        guard pem.utf8.count <= Self.maximumLength else { throw KeyError(.invalidRequest, "a root CA certificate file is at most \(Self.maximumLength) bytes") }
        let blocks = pem.components(separatedBy: "-----BEGIN ").count - 1
        guard blocks == 1 else { throw KeyError(.invalidRequest, "the root CA file must hold one PEM certificate, not \(blocks) PEM blocks") }
        let cert: Certificate
        do { cert = try Certificate(pemEncoded: pem) } catch { throw KeyError(.invalidRequest, "not a PEM certificate (\(error))") }
        guard cert.subject == cert.issuer else { throw KeyError(.invalidRequest, "not a root CA certificate: its issuer is not its subject") }
        let bytes: [UInt8]
        do {
            var serializer = DER.Serializer()
            try serializer.serialize(cert)
            bytes = serializer.serializedBytes
        } catch { throw KeyError(.invalidRequest, "the root CA certificate cannot be encoded") }
        (self.pem, self.der) = (pem, Data(bytes))
    }

    /// Reads `path` (at most ``maximumLength`` bytes).
    ///
    /// - Parameter path: the file.
    /// - Throws: ``KeyError`` `.invalidRequest` for a file that cannot be read or is not a root CA certificate.
    public init(path: String) throws(KeyError) {
        guard let size = try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int, size <= Self.maximumLength,
              let data = FileManager.default.contents(atPath: path) else {
            throw KeyError(.invalidRequest, "cannot read \(path) (a root CA certificate of at most \(Self.maximumLength) bytes)")
        }
        do { try self.init(pem: String(decoding: data, as: UTF8.self)) } catch { throw KeyError(.invalidRequest, "\(path): \(error.reason)") }
    }
}

extension PKI {
    /// The IIN of a DER subject's SERIALNUMBER (`IIN` and 12 digits), as a token key's `CKA_SUBJECT` keeps it.
    ///
    /// - Parameter der: an X.501 Name, DER.
    /// - Returns: The 12 digits, or `nil` for a name that cannot be read or has none.
    public static func iin(subjectDER der: [UInt8]) -> String? {
        // DERParseable's initialiser, not the deprecated implicitly tagged one Swift would pick.
        let read: (ASN1Node) throws -> DistinguishedName = DistinguishedName.init(derEncoded:)
        guard let node = try? DER.parse(der), let name = try? read(node) else { return nil }
        return subjectIIN(name)
    }
}

/// The IIN of a subject's SERIALNUMBER `IIN` and 12 digits (as certificates and the key store's requests carry it).
func subjectIIN(_ name: DistinguishedName) -> String? {
    let serialNumberOID: ASN1ObjectIdentifier = [2, 5, 4, 5]
    let serialNumber = name.flatMap { $0 }.first { $0.type == serialNumberOID }.flatMap { String($0.value) }
    return serialNumber.flatMap { $0.hasPrefix("IIN") && $0.count == 15 && $0.dropFirst(3).allSatisfy(\.isASCII) && $0.dropFirst(3).allSatisfy(\.isNumber) ? String($0.dropFirst(3)) : nil }
}
