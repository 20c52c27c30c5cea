public import TulgaCore
import TulgaCrypto

/// The browser portal's settings (the `portal` section).
///
/// ```json
/// { "portal": { "agentPort": 13579, "sessionIdleSeconds": 1800, "secureCookie": true } }
/// ```
public struct PortalSettings: Sendable, Codable, Hashable {
    /// The port of the applicant's key agent (`tulga keys agent --port`) on 127.0.0.1: the page
    /// talks to `ws://127.0.0.1:PORT`, and the Content-Security-Policy allows only that.
    public var agentPort = 13579
    /// A browser session ends after this many seconds without a request.
    public var sessionIdleSeconds = 1800.0
    /// A browser session ends this many seconds after it began, however busy.
    public var sessionLifetimeSeconds = 14400.0
    /// Browser sessions one client address may begin per minute.
    public var sessionsPerAddressPerMinute = 30.0
    /// Mark the cookie `Secure` always (the service is reached over TLS through a proxy). Without
    /// it, the cookie is `Secure` only when a trusted proxy says `X-Forwarded-Proto: https`.
    public var secureCookie = false
    /// The defaults above.
    public init() {}
}

/// Codes of refusals in the browser portal.
public enum PortalErrorCode: String, ErrorCode {
    /// No session cookie, or one that is unknown, ended or expired (401).
    case session = "portal_session"
    /// A state-changing call without the session's CSRF token, or with another (403).
    case csrf = "csrf"
    /// The session is bound to another IIN: begin a new session for it (409).
    case iinBound = "iin_bound"
    /// No IIN confirmed by SMS in this session yet (403).
    case noIIN = "iin_not_confirmed"
    /// No code was asked for in this session (409).
    case noCode = "no_code_requested"
    /// Not signed in with the AUTH key and a 1414 code in this session (403).
    case notSignedIn = "not_signed_in"

    /// 401, 403 or 409, as listed on the cases.
    public var kind: ProblemKind {
        switch self {
        case .session: .unauthorized
        case .csrf, .noIIN, .notSignedIn: .forbidden
        case .iinBound, .noCode: .conflict
        }
    }
}

/// A refusal in the browser portal.
public typealias PortalError = CodedError<PortalErrorCode>

/// What the browser holds: the session's secret (the cookie's value, 64 hex digits). The service
/// keeps only its SHA-256; the CSRF token is an HMAC under it, so it is bound to the session, needs no
/// storage, and tells nothing about the cookie.
///
/// ```swift
/// let credential = try PortalCredential()
/// response.setCookie(credential.secret)          // HttpOnly
/// body.csrf = credential.csrf                     // for the page's X-CSRF-Token header
/// credential.accepts(csrf: header)                // constant time
/// ```
public struct PortalCredential: Sendable, Hashable {
    /// 256 random bits, hex: the cookie's value. Never logged, never stored.
    public let secret: String

    /// A new random secret.
    ///
    /// - Throws: `CryptoFailure` when the CSPRNG fails.
    public init() throws { secret = hex(try randomBytes(32)) }

    /// The secret a browser sent, when it is well formed (64 lower-case hex digits).
    ///
    /// - Parameter cookie: the cookie's value.
    public init?(cookie: String) {
        guard cookie.utf8.count == 64, cookie.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }) else { return nil }
        secret = cookie
    }

    /// The SHA-256 (hex) the service keeps and looks the session up by.
    public var hash: String { sha256Hex(secret) }

    /// The session's CSRF token: HMAC-SHA-256 of a fixed label under the secret's bytes.
    public var csrf: String { hmacSHA256Hex(key: unhex(secret) ?? [], "tulga portal csrf v1") }

    /// Whether `token` is this session's CSRF token, compared in constant time.
    ///
    /// - Parameter token: the `X-CSRF-Token` header, `nil` when absent.
    public func accepts(csrf token: String?) -> Bool {
        guard let token else { return false }
        return constantTimeEquals(token, csrf)
    }
}

/// One browser's session of the portal: its own owner (``id``) for everything it starts and files.
/// The IIN is bound to it by an SMS code to that IIN's registered phone; a sign-in with the AUTH
/// key and a 1414 code lets it read that IIN's applications.
public struct PortalSession: Sendable, Hashable, Codable {
    /// 32 hex digits, random; the owner tag `portal:<id>` of what the session starts. Not a secret
    /// (it is in the audit log), and never enough to use the session.
    public var id: String
    /// When it began and when it was last used, seconds since 1970.
    public var createdAt: Double
    public var lastSeenAt: Double
    /// The IIN an SMS code was last asked for, not yet confirmed.
    public var pendingIIN: String?
    /// The IIN confirmed by its SMS code: every later step acts for it alone.
    public var iin: String?
    /// Who signed in (AUTH key, then a 1414 code), and the SHA-256 of that sign-in's token.
    public var signedInIIN: String?
    public var signInHash: String?
    /// When it was ended (signed out), if it was.
    public var endedAt: Double?

    /// A fresh session.
    ///
    /// - Parameters:
    ///   - id: its id.
    ///   - now: when it begins.
    public init(id: String, now: Double) {
        (self.id, createdAt, lastSeenAt) = (id, now, now)
    }
}

/// What happens to a portal session.
public enum PortalEvent: Sendable, Hashable {
    /// An SMS code was asked for this IIN.
    case codeRequested(iin: String)
    /// The code asked for this IIN was confirmed: the IIN is bound.
    case codeConfirmed(iin: String)
    /// A sign-in was confirmed with its 1414 code.
    case signedIn(iin: String, tokenHash: String)
    /// The browser signed out or ended the session.
    case ended
}

/// The portal session's rules, pure: its lifetime, and how each event moves it.
///
/// ```swift
/// let rules = PortalRules(settings: PortalSettings())
/// guard rules.isLive(session, now: now) else { throw PortalError(.session, "sign in again") }
/// session = try rules.transition(from: session, event: .codeRequested(iin: iin), now: now)
/// ```
public struct PortalRules: Sendable, Hashable {
    /// The idle and absolute lifetimes.
    public let settings: PortalSettings
    /// - Parameter settings: the `portal` section.
    public init(settings: PortalSettings) { self.settings = settings }

    /// When the session ends unless used again: idle time or its lifetime, whichever comes first.
    ///
    /// - Parameter session: the session.
    /// - Returns: Seconds since 1970.
    public func expiresAt(_ session: PortalSession) -> Double {
        min(session.createdAt + settings.sessionLifetimeSeconds, session.lastSeenAt + settings.sessionIdleSeconds)
    }

    /// Whether the session may be used at `now`: not ended, not idle too long, not too old.
    ///
    /// - Parameters:
    ///   - session: the session.
    ///   - now: seconds since 1970.
    public func isLive(_ session: PortalSession, now: Double) -> Bool {
        session.endedAt == nil && now >= session.createdAt && now < expiresAt(session)
    }

    /// The session after `event`.
    ///
    /// - An IIN is bound once, by its code; a session bound to one IIN (or signed in as one) asks no
    ///   code for another and signs in as no other: a new session does.
    /// - Confirming needs a code asked for in this session.
    ///
    /// - Parameters:
    ///   - session: the session as it is.
    ///   - event: what happened.
    ///   - now: seconds since 1970.
    /// - Returns: The session after it.
    /// - Throws: ``PortalError`` `.session` for a session no longer live, `.iinBound`, `.noCode`.
    public func transition(from session: PortalSession, event: PortalEvent, now: Double) throws(PortalError) -> PortalSession {
        guard isLive(session, now: now) else { throw PortalError(.session, "the session has ended: start again") }
        var next = session
        switch event {
        case .codeRequested(let iin):
            if let bound = session.iin ?? session.signedInIIN, bound != iin {
                throw PortalError(.iinBound, "this session belongs to another IIN: start a new session for this one")
            }
            next.pendingIIN = iin
        case .codeConfirmed(let iin):
            // The IIN whose code was checked must still be the one asked for (not replaced meanwhile).
            guard session.pendingIIN == iin else { throw PortalError(.noCode, "ask for an SMS code first") }
            if let bound = session.iin ?? session.signedInIIN, bound != iin {
                throw PortalError(.iinBound, "this session belongs to another IIN: start a new session for this one")
            }
            next.iin = iin
            next.pendingIIN = nil
        case .signedIn(let iin, let tokenHash):
            if let bound = session.iin ?? session.signedInIIN, bound != iin {
                throw PortalError(.iinBound, "this session belongs to another IIN: sign out and sign in again")
            }
            (next.signedInIIN, next.signInHash) = (iin, tokenHash)
        case .ended:
            next.endedAt = now
        }
        next.lastSeenAt = now
        return next
    }
}
