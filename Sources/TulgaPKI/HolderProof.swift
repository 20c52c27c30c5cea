public import Foundation
import _CryptoExtras
import Crypto
import SwiftASN1
import X509

/// The holder's proof for a renewal: a one-time challenge from the CA and the new requests' key
/// identifiers, signed (SHA-256) with the AUTH key of the certificates being renewed, the key whose
/// job is to answer challenges (the SIGN key signs documents only). Only whoever holds that key can
/// make it, so neither an operator nor an integrator holding the application can renew keys into
/// someone else's hands; the challenge expires and is used once, so a proof cannot be replayed.
///
/// ```swift
/// let message = HolderProof.message(application: number, challenge: challenge, auth: requests.auth.keyID, sign: requests.sign.keyID)
/// let proof = try keyStore.sign(message, certificatePEM: oldAuthCertificate)      // the applicant's side
/// guard HolderProof.verify(proof, message: message, certificatePEM: oldAuthCertificate) else { … }   // the CA's
/// ```
public enum HolderProof {
    /// Longest signature accepted (RSA-4096 gives 512 bytes).
    public static let maximumLength = 1024

    /// What is signed: a fixed label, the application renewed, the CA's challenge, and both new keys.
    ///
    /// - Parameters:
    ///   - application: the number of the application whose keys are renewed.
    ///   - challenge: the one-time challenge the CA gave for this renewal.
    ///   - auth: the new AUTH request's key identifier, hex.
    ///   - sign: the new SIGN request's key identifier, hex.
    /// - Returns: The bytes the holder signs.
    public static func message(application: String, challenge: String, auth: String, sign: String) -> Data {
        Data("tulga-renewal-v2\n\(application)\n\(challenge)\n\(auth.lowercased())\n\(sign.lowercased())\n".utf8)
    }

    /// Whether `signature` over `message` verifies under the certificate's key: PKCS#1 v1.5 for
    /// RSA, DER ECDSA for P-256, both over SHA-256.
    ///
    /// - Parameters:
    ///   - signature: the holder's signature.
    ///   - message: what ``message(application:challenge:auth:sign:)`` gave.
    ///   - certificatePEM: the certificate whose key must have signed.
    /// - Returns: `true` only for a valid signature by that key.
    public static func verify(_ signature: Data, message: Data, certificatePEM: String) -> Bool {
        guard !signature.isEmpty, signature.count <= maximumLength, let cert = try? Certificate(pemEncoded: certificatePEM) else { return false }
        if let key = P256.Signing.PublicKey(cert.publicKey) {
            guard let sig = try? P256.Signing.ECDSASignature(derRepresentation: signature) else { return false }
            return key.isValidSignature(sig, for: message)
        }
        if let key = _RSA.Signing.PublicKey(cert.publicKey) {
            return key.isValidSignature(_RSA.Signing.RSASignature(rawRepresentation: signature), for: message, padding: .insecurePKCS1v1_5)
        }
        return false
    }
}
