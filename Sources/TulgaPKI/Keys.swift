public import TulgaCore
import CTulgaPKI

/// Codes of refusals about keys, requests and containers, on either side.
public enum KeyErrorCode: String, ErrorCode {
    /// The container or key password breaks ``ContainerPassword``'s rules, or the two entries differ;
    /// or a key store's password or token PIN is wrong (422).
    case password
    /// A certificate request that cannot be read, or whose signature does not verify (422).
    case invalidRequest = "invalid_request"
    /// A key the CA does not certify: RSA below 2048 bits, a curve other than P-256 (422).
    case weakKey = "weak_key"
    /// The PKCS#11 module or token refuses: not loadable, no such token, a locked PIN (422). A wrong PIN is `.password`.
    case token
    /// The key store's folder cannot be used (422).
    case keyStore = "key_store"
    /// The key store holds no key (or certificate) for what was asked: no pending key for a
    /// certificate, no container to sign with, no installed AUTH certificate (422).
    case noKey = "no_key"
    /// A certificate not signed by this service's issuing CA, or whose extensions cannot be read; on
    /// the applicant's side, one that does not chain to the CA chain given on the key store's clock (422).
    case untrusted = "certificate_untrusted"
    /// A certificate for another key or person than the key store's: it certifies the key of the other
    /// purpose, or names another IIN than the one the keys were made for (422).
    case mismatch = "certificate_mismatch"
    /// On the applicant's side, with a trusted root given (`--ca-root`): the chain the certificate was
    /// verified to ends at another root CA (422).
    case untrustedRoot = "untrusted_root"

    /// The HTTP problem kind: every one of them is a bad input.
    public var kind: ProblemKind { .invalid }
}

/// A refusal about keys, requests or containers, with a stable code and the rule in words.
public typealias KeyError = CodedError<KeyErrorCode>

/// The key algorithms a holder may choose.
public enum KeyAlgorithm: String, Sendable, Codable, CaseIterable {
    /// RSA with a 2048-bit modulus (the default).
    case rsa2048 = "rsa2048"
    /// ECDSA on NIST P-256.
    case p256 = "p256"
    var c: Int32 { self == .p256 ? Int32(TP_EC_P256.rawValue) : Int32(TP_RSA_2048.rawValue) }

    /// The algorithm's part of a container's name: `RSA256` (RSA with SHA-256) or `ECDSA256`.
    public var containerTag: String { self == .p256 ? "ECDSA256" : "RSA256" }
}

/// Where the applicant's keys are born and live.
public enum KeyStorageKind: String, Sendable, Codable, CaseIterable {
    /// «Персональный компьютер»: a folder of encrypted files.
    case folder
    /// A PKCS#11 token (eToken, JaCarta, Kaztoken, …): keys generated on it, never extractable.
    case token
}

/// The two key purposes.
public enum KeyPurpose: String, Sendable, Codable, CaseIterable {
    /// The authentication key (`clientAuth`).
    case auth = "AUTH"
    /// The signing key (`nonRepudiation`).
    case sign = "SIGN"

    /// `AUTH_RSA256_<hex>.p12` and `RSA256_<hex>.p12`, as the national CA names them; a P-256
    /// container is `AUTH_ECDSA256_<hex>.p12` / `ECDSA256_<hex>.p12`.
    ///
    /// - Parameters:
    ///   - serialHex: the certificate's serial in hex; lower-cased in the name.
    ///   - algorithm: the key's real algorithm.
    public func fileName(serialHex: String, algorithm: KeyAlgorithm) -> String {
        (self == .auth ? "AUTH_" : "") + algorithm.containerTag + "_" + serialHex.lowercased() + ".p12"
    }
}

/// The container password rules of the national CA's page (seed 004), exactly: 6 to 32
/// characters; Latin letters and digits are required; upper case and `@ # % & * ~ _ - .` are
/// allowed; nothing else.
public enum ContainerPassword {
    /// The symbols a password may contain besides Latin letters and digits.
    public static let allowedSymbols: Set<Character> = ["@", "#", "%", "&", "*", "~", "_", "-", "."]

    /// Checks a container password against the rules.
    ///
    /// - Parameter password: the password the applicant chose.
    /// - Throws: ``KeyError`` `.password` naming the first rule it breaks.
    public static func check(_ password: String) throws(KeyError) {
        guard (6...32).contains(password.count) else {
            throw KeyError(.password, "the password must have 6 to 32 characters (it has \(password.count))")
        }
        // The offending character is not named: error messages end up on screens and in logs.
        if password.contains(where: { !($0.isASCII && ($0.isLetter || $0.isNumber)) && !allowedSymbols.contains($0) }) {
            throw KeyError(.password, "the password may contain only Latin letters, digits and @ # % & * ~ _ - .")
        }
        guard password.contains(where: { $0.isASCII && $0.isLetter }) else {
            throw KeyError(.password, "the password must contain at least one Latin letter")
        }
        guard password.contains(where: { $0.isASCII && $0.isNumber }) else {
            throw KeyError(.password, "the password must contain at least one digit")
        }
    }

    /// The portal's «Новый пароль» / «Повторите пароль»: both entries must match and pass the rules.
    ///
    /// - Parameters:
    ///   - password: the first entry.
    ///   - repeated: the second entry.
    /// - Throws: ``KeyError`` `.password`.
    public static func check(_ password: String, repeated: String) throws(KeyError) {
        guard password == repeated else { throw KeyError(.password, "the two passwords differ") }
        try check(password)
    }
}
