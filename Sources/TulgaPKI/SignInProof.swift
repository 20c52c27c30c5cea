public import Foundation
public import TulgaCore
import SwiftASN1
import X509

/// The holder's answer to a sign-in challenge: the service's challenge, its audience (its public
/// origin) and the purpose, signed (SHA-256) with the AUTH key. The label differs from
/// ``HolderProof``'s, so a renewal proof never signs anyone in and the other way round.
///
/// ```swift
/// let message = SignInProof.message(audience: challenge.audience, challenge: challenge.challenge)
/// let signature = try keyStore.sign(message, certificatePEM: authCertificate)       // the applicant's side
/// guard SignInProof.verify(signature, message: message, certificatePEM: authCertificate) else { … }   // the service's
/// ```
public enum SignInProof {
    /// What is signed: a fixed label, the purpose, the service's audience and its challenge.
    ///
    /// - Parameters:
    ///   - audience: the service's public origin, as the challenge gave it.
    ///   - challenge: the one-time challenge, hex.
    /// - Returns: The bytes the holder signs.
    public static func message(audience: String, challenge: String) -> Data {
        Data("tulga-signin-v1\nsignin\n\(audience)\n\(challenge.lowercased())\n".utf8)
    }

    /// Whether `signature` over `message` verifies under the certificate's key (as ``HolderProof/verify(_:message:certificatePEM:)``).
    ///
    /// - Parameters:
    ///   - signature: the holder's signature.
    ///   - message: what ``message(audience:challenge:)`` gave.
    ///   - certificatePEM: the certificate whose key must have signed.
    /// - Returns: `true` only for a valid signature by that key.
    public static func verify(_ signature: Data, message: Data, certificatePEM: String) -> Bool {
        HolderProof.verify(signature, message: message, certificatePEM: certificatePEM)
    }
}

/// A certificate a holder presents, read with swift-certificates and checked against the issuing
/// CA that must have signed it (and the root that signed that CA). Pure: dates are judged by the caller.
///
/// ```swift
/// let presented = try PresentedCertificate(pem: body.certificate, issuingPEM: ca.issuingCertPEM, rootPEM: ca.rootCertPEM)
/// presented.isAuthentication   // clientAuth, without nonRepudiation
/// presented.iin                // from SERIALNUMBER "IIN…"
/// ```
public struct PresentedCertificate: Sendable, Hashable {
    /// The certificate, PEM.
    public let pem: String
    /// The serial in upper-case hex, as OpenSSL prints it.
    public let serialHex: String
    /// The IIN in the subject's SERIALNUMBER (`IIN` and 12 digits), if there is one.
    public let iin: String?
    /// The start of validity.
    public let notValidBefore: Date
    /// The end of validity.
    public let notValidAfter: Date
    /// An AUTH certificate as the CA issues them: extendedKeyUsage clientAuth, no nonRepudiation.
    public let isAuthentication: Bool

    /// Longest certificate accepted, in bytes.
    public static let maximumLength = 16 * 1024

    /// Reads a certificate and checks that the issuing CA signed it and the root signed the issuing CA.
    ///
    /// - Parameters:
    ///   - pem: the presented certificate, PEM.
    ///   - issuingPEM: the issuing CA's certificate, PEM.
    ///   - rootPEM: the root CA's certificate, PEM.
    /// - Throws: ``KeyError`` `.invalidRequest` for text that is not a certificate; `.untrusted` when it is not
    ///   signed by this issuing CA (or its extensions cannot be read).
    public init(pem: String, issuingPEM: String, rootPEM: String) throws(KeyError) {
        guard pem.utf8.count <= Self.maximumLength else { throw KeyError(.invalidRequest, "a certificate is at most \(Self.maximumLength) bytes") }
        let cert: Certificate, issuing: Certificate, root: Certificate
        do { cert = try Certificate(pemEncoded: pem) } catch { throw KeyError(.invalidRequest, "not a PEM certificate") }
        do { (issuing, root) = (try Certificate(pemEncoded: issuingPEM), try Certificate(pemEncoded: rootPEM)) } catch {
            throw KeyError(.untrusted, "the CA's own certificates cannot be read")
        }
        guard cert.issuer == issuing.subject, issuing.publicKey.isValidSignature(cert.signature, for: cert),
              issuing.issuer == root.subject, root.publicKey.isValidSignature(issuing.signature, for: issuing) else {
            throw KeyError(.untrusted, "the certificate was not issued by this service's CA")
        }
        let eku: ExtendedKeyUsage?, usage: KeyUsage?
        do { (eku, usage) = (try cert.extensions.extendedKeyUsage, try cert.extensions.keyUsage) } catch {
            throw KeyError(.untrusted, "the certificate's key usage cannot be read")
        }
        self.pem = pem
        let bytes = cert.serialNumber.bytes.drop { $0 == 0 }
        serialHex = bytes.isEmpty ? "0" : bytes.map { String(format: "%02X", $0) }.joined()
        iin = subjectIIN(cert.subject)
        (notValidBefore, notValidAfter) = (cert.notValidBefore, cert.notValidAfter)
        isAuthentication = (eku?.contains(.clientAuth) ?? false) && !(usage?.nonRepudiation ?? false)
    }
}
