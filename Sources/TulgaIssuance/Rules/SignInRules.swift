public import TulgaCore

/// Codes of refusals in signing in with an issued key, each its own so the portal can say why.
public enum SignInErrorCode: String, ErrorCode {
    /// The challenge is unknown, expired, used, or was given to another calling system (403).
    case challenge = "signin_challenge"
    /// The signature does not verify under the presented certificate's key (403).
    case signature = "signin_signature"
    /// The certificate was not issued by this service's CA, or no application holds it (403).
    case untrusted = "certificate_untrusted"
    /// The certificate is past (or not yet at) its validity dates (403).
    case expired = "certificate_expired"
    /// The certificate is revoked, as the OCSP responder answers (403).
    case revoked = "certificate_revoked"
    /// A SIGN certificate was presented: only the AUTH key signs in (403).
    case notAuthentication = "certificate_not_auth"
    /// The sign-in waiting for its SMS code is unknown, expired, finished or another system's (403).
    case pending = "signin_pending"
    /// The SMS code is wrong (403).
    case wrongCode = "signin_code"
    /// The SMS code was used, replaced by a newer one, or has expired (403).
    case codeExpired = "signin_code_expired"
    /// Too many wrong SMS codes in the last hour (403).
    case codeBlocked = "signin_code_blocked"
    /// The session token is unknown, expired, signed out, another system's, or its certificate was revoked (401).
    case session = "session_invalid"

    /// The HTTP problem kind, as listed on the cases.
    public var kind: ProblemKind { self == .session ? .unauthorized : .forbidden }
}

/// A refusal in signing in, with a stable code and the rule in words.
public typealias SignInError = CodedError<SignInErrorCode>

/// Sign-in rules: how long a challenge, a sign-in waiting for its code, and a session last. The SMS
/// code itself follows ``SMSCodePolicy`` (6 digits, 120 s, 3 wrong an hour).
///
/// ```swift
/// let policy = SignInPolicy()
/// policy.challengeSeconds   // 120
/// ```
public struct SignInPolicy: Sendable, Codable, Hashable {
    /// How long a challenge may be answered, in seconds.
    public var challengeSeconds = 120.0
    /// How long a signed challenge waits for its SMS code, in seconds.
    public var pendingSeconds = 300.0
    /// How long a session lasts, in seconds.
    public var sessionSeconds = 1800.0
    /// The defaults listed above.
    public init() {}

    /// Whether a record created to last until `expiresAt`, and not finished at `finishedAt`, still counts at `now`.
    ///
    /// - Parameters:
    ///   - expiresAt: its end, seconds since 1970.
    ///   - finishedAt: when it was used, signed out or finished, if it was.
    ///   - now: seconds since 1970.
    /// - Returns: `true` while unfinished and before its end.
    public func isLive(expiresAt: Double, finishedAt: Double?, now: Double) -> Bool { finishedAt == nil && now < expiresAt }
}
