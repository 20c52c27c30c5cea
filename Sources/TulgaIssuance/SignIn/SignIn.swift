public import Foundation
public import TulgaCore
public import TulgaPKI
import TulgaCrypto
import TulgaStorage

/// A challenge to sign with the AUTH key.
public struct SignInChallenge: Sendable, Codable, Hashable {
    /// 64 hex digits (256 bits), used once, by the calling system that asked for it only.
    public var challenge: String
    /// The service's origin the signature binds (``SignInProof/message(audience:challenge:)``).
    public var audience: String
    /// When it expires, seconds since 1970.
    public var expiresAt: Double
}

/// A signed challenge accepted: the SMS code is on its way to the registered phone.
public struct PendingSignIn: Sendable, Codable, Hashable {
    /// The handle the code is confirmed with (64 hex digits, good for this calling system only).
    public var login: String
    /// Whose certificate signed.
    public var iin: String
    /// When the sign-in stops waiting for its code, seconds since 1970.
    public var expiresAt: Double
    /// How long the SMS code is valid, seconds.
    public var codeValidSeconds: Double
}

/// An open session. The token is in ``SignInSession/token`` only when the session is opened.
public struct SignInSession: Sendable, Codable, Hashable {
    /// The bearer token (64 hex digits): given once, stored only as its SHA-256.
    public var token: String?
    /// Who is signed in: the IIN from the AUTH certificate's subject.
    public var iin: String
    /// The AUTH certificate's serial.
    public var serial: String
    /// When it opened and when it ends, seconds since 1970.
    public var createdAt: Double
    public var expiresAt: Double
}

/// Signing in with an issued AUTH key, then a 1414 SMS code (seed 003): a challenge, the holder's
/// signature over it checked against this CA, the dates, the AUTH purpose and the OCSP status,
/// a code to the registered phone, and a session only when the code is confirmed. Every step
/// belongs to the calling system that began it; another's challenge, sign-in or token reads as unknown.
///
/// ```swift
/// let c = try await issuance.signInChallenge(caller: caller)
/// let signature = try keyStore.sign(SignInProof.message(audience: c.audience, challenge: c.challenge), certificatePEM: auth)
/// let pending = try await issuance.signIn(challenge: c.challenge, certificatePEM: auth, signature: signature, caller: caller)
/// let session = try await issuance.confirmSignIn(login: pending.login, code: code, caller: caller)   // the code from 1414
/// try await issuance.session(token: session.token!, caller: caller).iin
/// ```
extension IssuanceService {
    /// The origin signatures bind: the origin of the CA's public base URL (where `tulga serve` answers,
    /// the page's own origin), as a browser writes it in `Origin`, which the key agent compares it with.
    public var signInAudience: String { Self.origin(of: ca?.config.baseURL ?? CAConfig().baseURL) ?? "" }

    /// A URL's origin as browsers serialise it (RFC 6454): the scheme and host in lower case, the port
    /// unless it is the scheme's default, an IPv6 host in brackets; `nil` for a URL without them.
    ///
    /// - Parameter url: an absolute http(s) URL.
    /// - Returns: e.g. `https://tulga.example.kz` for `https://Tulga.example.kz:443/pki`.
    public static func origin(of url: String) -> String? {
        guard let parts = URLComponents(string: url), let scheme = parts.scheme?.lowercased(), ["http", "https"].contains(scheme),
              var host = parts.host?.lowercased(), !host.isEmpty else { return nil }
        if host.contains(":"), !host.hasPrefix("[") { host = "[\(host)]" }
        let port = parts.port.flatMap { $0 == (scheme == "https" ? 443 : 80) ? nil : $0 }
        return "\(scheme)://\(host)" + (port.map { ":\($0)" } ?? "")
    }

    static func token() throws -> String { try randomBytes(32).map { String(format: "%02x", $0) }.joined() }

    /// A new challenge for `caller`, valid ``SignInPolicy/challengeSeconds``; stored as its SHA-256.
    ///
    /// - Parameter caller: the calling system; only it can answer the challenge.
    /// - Returns: The challenge, the audience to sign with it, and its end.
    /// - Throws: ``IssuanceError`` `.ca` without a CA; `CryptoFailure`; ``DatabaseFailure``.
    public func signInChallenge(caller: Caller) async throws -> SignInChallenge {
        guard ca != nil else { throw IssuanceError(.ca, "no CA: run tulga ca init") }
        let challenge = try Self.token(), at = now, expires = at + signInPolicy.challengeSeconds
        try await db.transaction { db in
            // Old rows go as new ones come: an hour after their end nobody can use them.
            try db.execute("DELETE FROM signin_challenges WHERE expires_at < ?", [.double(at - 3600)])
            try db.execute("INSERT INTO signin_challenges (challenge_hash, owner, created_at, expires_at) VALUES (?, ?, ?, ?)",
                           [.text(sha256Hex(challenge)), .text(caller.ownerTag), .double(at), .double(expires)])
            try AuditLog.append(db, at: at, actor: caller.actor, action: "signin.challenge", subject: "", detail: "")
        }
        return SignInChallenge(challenge: challenge, audience: signInAudience, expiresAt: expires)
    }

    /// Checks a signed challenge and sends the 1414 code to the phone registered for the certificate's IIN.
    ///
    /// The challenge is used up first, whatever follows. Then: this CA issued the certificate (and an
    /// application holds it as its AUTH certificate), it is within its dates on the service's clock,
    /// it is the AUTH one, the OCSP responder's logic calls it good, and the signature over
    /// ``SignInProof/message(audience:challenge:)`` verifies under it. The IIN comes from the certificate.
    ///
    /// - Parameters:
    ///   - challenge: the challenge from ``signInChallenge(caller:)``.
    ///   - certificatePEM: the AUTH certificate, PEM.
    ///   - signature: the holder's signature (PKCS#1 v1.5 or DER ECDSA, SHA-256).
    ///   - language: the SMS language.
    ///   - caller: must be the system the challenge was given to.
    /// - Returns: The sign-in waiting for its code.
    /// - Throws: ``SignInError`` `.challenge`, `.untrusted`, `.expired`, `.notAuthentication`, `.revoked`, `.signature`;
    ///   ``IssuanceError`` `.phoneNotRegistered`, `.code` (sending limits), `.ca`; ``KeyError`` `.invalidRequest` for
    ///   text that is not a certificate; ``DatabaseFailure``.
    public func signIn(challenge: String, certificatePEM: String, signature: Data, language: Language = .ru, caller: Caller) async throws -> PendingSignIn {
        guard let ca else { throw IssuanceError(.ca, "no CA: run tulga ca init") }
        let at = now, owner = caller.ownerTag, policy = signInPolicy
        let used = try await db.transaction { db -> Bool in
            // Two nodes presenting the same challenge at once: one uses it, the other finds it used.
            try db.lock("signin:" + sha256Hex(challenge))
            guard let row = try db.one("SELECT owner, expires_at, used_at FROM signin_challenges WHERE challenge_hash = ?", [.text(sha256Hex(challenge))]),
                  try row.text(SignInColumns.owner) == owner,
                  policy.isLive(expiresAt: try row.double(SignInColumns.expiresAt), finishedAt: try row.optionalDouble(SignInColumns.usedAt), now: at) else {
                return false
            }
            try db.execute("UPDATE signin_challenges SET used_at = ? WHERE challenge_hash = ?", [.double(at), .text(sha256Hex(challenge))])
            return true
        }
        guard used else { throw SignInError(.challenge, "the challenge is unknown, used, expired or was given to another system: ask for a new one") }
        do {
            let pending = try await checkedSignIn(ca: ca, challenge: challenge, certificatePEM: certificatePEM, signature: signature,
                                                  language: language, caller: caller)
            return pending
        } catch let error as SignInError {
            // Refusals are audited with their code only: never the certificate or the signature.
            try? await db.transaction { db in
                try AuditLog.append(db, at: at, actor: caller.actor, action: "signin.refused", subject: "", detail: error.code.rawValue)
            }
            throw error
        }
    }

    func checkedSignIn(ca: LocalCA, challenge: String, certificatePEM: String, signature: Data, language: Language, caller: Caller) async throws -> PendingSignIn {
        let presented: PresentedCertificate
        do { presented = try PresentedCertificate(pem: certificatePEM, issuingPEM: ca.issuingCertPEM, rootPEM: ca.rootCertPEM) } catch let e as KeyError {
            if e.code == .untrusted { throw SignInError(.untrusted, e.reason) }
            throw e
        }
        let date = clock.date
        guard presented.notValidBefore <= date, date <= presented.notValidAfter else {
            throw SignInError(.expired, "the certificate is valid from \(presented.notValidBefore) to \(presented.notValidAfter) only")
        }
        guard presented.isAuthentication else { throw SignInError(.notAuthentication, "this is a SIGN certificate: sign in with the AUTH key") }
        guard let iin = presented.iin else { throw SignInError(.untrusted, "the certificate names no IIN") }
        let serial = presented.serialHex, at = now, policy = sms, outboxKey = outboxKey, code = try OneTimeCode(), login = try Self.token()
        let expires = at + signInPolicy.pendingSeconds, audience = signInAudience
        try await db.transaction { db in
            // Ours, and the AUTH one of its application, for the IIN it names; then its status as OCSP answers it.
            guard let app = try db.one("SELECT iin, serial_auth FROM applications WHERE serial_auth = ? OR serial_sign = ?", [.text(serial), .text(serial)]),
                  try app.text(Columns.iin) == iin else {
                throw SignInError(.untrusted, "no application holds this certificate")
            }
            guard try app.optionalText(Columns.serialAuth) == serial else { throw SignInError(.notAuthentication, "this is a SIGN certificate: sign in with the AUTH key") }
            switch try Self.certificateStatus(db, serialHex: serial) {
            case .good: break
            case .revoked: throw SignInError(.revoked, "the certificate is revoked")
            case .unknown: throw SignInError(.untrusted, "the CA does not know this certificate")
            }
            guard SignInProof.verify(signature, message: SignInProof.message(audience: audience, challenge: challenge), certificatePEM: certificatePEM) else {
                throw SignInError(.signature, "the signature does not verify under this certificate's key")
            }
            try Self.sendCode(db, code, iin: iin, caller: caller, purpose: .signin, language: language, at: at, policy: policy, outboxKey: outboxKey)
            try db.execute("""
                INSERT INTO signin_pending (login_hash, iin, serial, owner, code_id, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)
                """, [.text(sha256Hex(login)), .text(iin), .text(serial), .text(caller.ownerTag), .text(code.id), .double(at), .double(expires)])
            try AuditLog.append(db, at: at, actor: caller.actor, action: "signin.signed", subject: iin, detail: serial)
        }
        return PendingSignIn(login: login, iin: iin, expiresAt: expires, codeValidSeconds: sms.validitySeconds)
    }

    /// Confirms a sign-in with its SMS code and opens a session. A wrong code is recorded (it counts
    /// with the phone codes' wrong entries of the same system) even though the call fails.
    ///
    /// - Parameters:
    ///   - login: the handle from ``signIn(challenge:certificatePEM:signature:language:caller:)``.
    ///   - code: the 6 digits from 1414.
    ///   - caller: must be the system the sign-in began through.
    /// - Returns: The session, with its token (given this once).
    /// - Throws: ``SignInError`` `.pending`, `.wrongCode`, `.codeExpired`, `.codeBlocked`, `.revoked`; `CryptoFailure`; ``DatabaseFailure``.
    public func confirmSignIn(login: String, code: String, caller: Caller) async throws -> SignInSession {
        let at = now, owner = caller.ownerTag, policy = sms, lifetimes = signInPolicy, token = try Self.token()
        let found = try await db.transaction { db -> (iin: String, serial: String, codeID: String, hash: String)? in
            guard let row = try db.one("SELECT * FROM signin_pending WHERE login_hash = ?", [.text(sha256Hex(login))]),
                  try row.text(SignInColumns.owner) == owner,
                  lifetimes.isLive(expiresAt: try row.double(SignInColumns.expiresAt), finishedAt: try row.optionalDouble(SignInColumns.doneAt), now: at),
                  let stored = try db.one("SELECT code_hash FROM sms_codes WHERE id = ?", [.text(try row.text(SignInColumns.codeID))]) else { return nil }
            return (try row.text(Columns.iin), try row.text(Columns.serial), try row.text(SignInColumns.codeID), try stored.text(Columns.codeHash))
        }
        guard let found else { throw SignInError(.pending, "this sign-in is unknown, finished, expired or another system's: sign in again") }
        let matches = code.count == 6 && code.allSatisfy(\.isNumber) && SecretHash.verify(code, against: found.hash)
        // Commit the wrong entry first, throw after.
        let outcome: Result<SignInSession, SignInError> = try await db.transaction { db in
            try db.lock("sms:" + found.iin)
            let scope = caller.smsWrongEntryScope
            let wrong = try (db.one("SELECT COUNT(*) AS n FROM sms_failures WHERE iin = ? AND \(scope.condition) AND at > ?",
                                    [.text(found.iin), .text(scope.value), .double(at - 3600)])?.int(Columns.n)) ?? 0
            guard let current = try db.one("SELECT used_at, expires_at FROM sms_codes WHERE id = ?", [.text(found.codeID)]) else {
                return .failure(SignInError(.codeExpired, "the code was replaced; sign in again"))
            }
            switch policy.confirmationRefusal(now: at, expiresAt: try current.double(Columns.expiresAt), usedAt: try current.optionalDouble(Columns.usedAt),
                                              wrongInLastHour: wrong) {
            case .blocked: return .failure(SignInError(.codeBlocked, "\(policy.maxWrong) wrong codes were entered; try again in an hour"))
            case .used: return .failure(SignInError(.codeExpired, "the code was used or replaced by a newer one; sign in again"))
            case .expired: return .failure(SignInError(.codeExpired, "the code has expired (valid \(Int(policy.validitySeconds)) s); sign in again"))
            case nil: break
            }
            guard matches else {
                try db.execute("INSERT INTO sms_failures (id, iin, at, owner) VALUES (?, ?, ?, ?)",
                               [.text(try newRecordID("f")), .text(found.iin), .double(at), .text(owner)])
                try AuditLog.append(db, at: at, actor: "applicant:\(found.iin)", action: "signin.wrong_code", subject: found.iin, detail: "")
                return .failure(SignInError(.wrongCode, "wrong code; \(max(0, policy.maxWrong - wrong - 1)) tries left"))
            }
            // The certificate may have been revoked while the code was on its way.
            if case .revoked = try Self.certificateStatus(db, serialHex: found.serial) {
                return .failure(SignInError(.revoked, "the certificate is revoked"))
            }
            try db.execute("UPDATE sms_codes SET used_at = ? WHERE id = ?", [.double(at), .text(found.codeID)])
            try db.execute("UPDATE signin_pending SET done_at = ? WHERE login_hash = ?", [.double(at), .text(sha256Hex(login))])
            let expires = at + lifetimes.sessionSeconds
            try db.execute("""
                INSERT INTO signin_sessions (token_hash, iin, serial, owner, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)
                """, [.text(sha256Hex(token)), .text(found.iin), .text(found.serial), .text(owner), .double(at), .double(expires)])
            try AuditLog.append(db, at: at, actor: "applicant:\(found.iin)", action: "signin.session", subject: found.iin, detail: found.serial)
            return .success(SignInSession(token: token, iin: found.iin, serial: found.serial, createdAt: at, expiresAt: expires))
        }
        return try outcome.get()
    }

    /// Who is signed in with `token`: refused once it expired, was signed out, or its certificate was revoked.
    ///
    /// - Parameters:
    ///   - token: the session token.
    ///   - caller: must be the system the session was opened through.
    /// - Returns: The session, without its token.
    /// - Throws: ``SignInError`` `.session`; ``DatabaseFailure``.
    public func session(token: String, caller: Caller) async throws -> SignInSession {
        try await session(tokenHash: sha256Hex(token), caller: caller)
    }

    /// ``session(token:caller:)`` for a front end that keeps only the token's SHA-256 (the browser
    /// portal keeps it with its own session, never the token).
    ///
    /// - Parameters:
    ///   - tokenHash: the SHA-256 (hex) of the session token.
    ///   - caller: must be the caller the session was opened through.
    /// - Returns: The session, without its token.
    /// - Throws: ``SignInError`` `.session`; ``DatabaseFailure``.
    public func session(tokenHash: String, caller: Caller) async throws -> SignInSession {
        let at = now, owner = caller.ownerTag, lifetimes = signInPolicy
        let session = try await db.transaction { db -> SignInSession? in
            guard let row = try db.one("SELECT * FROM signin_sessions WHERE token_hash = ?", [.text(tokenHash)]),
                  try row.text(SignInColumns.owner) == owner,
                  lifetimes.isLive(expiresAt: try row.double(SignInColumns.expiresAt), finishedAt: try row.optionalDouble(SignInColumns.endedAt), now: at) else {
                return nil
            }
            let serial = try row.text(Columns.serial)
            if case .revoked = try Self.certificateStatus(db, serialHex: serial) { return nil }
            return SignInSession(token: nil, iin: try row.text(Columns.iin), serial: serial, createdAt: try row.double(Columns.createdAt),
                                 expiresAt: try row.double(SignInColumns.expiresAt))
        }
        guard let session else { throw SignInError(.session, "no open session for this token: sign in again") }
        return session
    }

    /// Signs out: the token stops working at once.
    ///
    /// - Parameters:
    ///   - token: the session token.
    ///   - caller: must be the system the session was opened through.
    /// - Throws: ``SignInError`` `.session` for a token that opens nothing now; ``DatabaseFailure``.
    public func signOut(token: String, caller: Caller) async throws {
        try await signOut(tokenHash: sha256Hex(token), caller: caller)
    }

    /// ``signOut(token:caller:)`` by the token's SHA-256 (hex).
    ///
    /// - Throws: ``SignInError`` `.session` for a token that opens nothing now; ``DatabaseFailure``.
    public func signOut(tokenHash: String, caller: Caller) async throws {
        let session = try await session(tokenHash: tokenHash, caller: caller), at = now
        try await db.transaction { db in
            try db.execute("UPDATE signin_sessions SET ended_at = ? WHERE token_hash = ? AND ended_at IS NULL", [.double(at), .text(tokenHash)])
            try AuditLog.append(db, at: at, actor: caller.actor, action: "signin.signout", subject: session.iin, detail: session.serial)
        }
    }

    /// The applications of whoever is signed in with the session `tokenHash` names, newest first:
    /// every application of that IIN, whoever filed it, and nothing of anybody else's.
    ///
    /// - Parameters:
    ///   - tokenHash: the SHA-256 (hex) of the sign-in session's token.
    ///   - caller: must be the caller the session was opened through.
    /// - Returns: The applications (past their 30 days an in-person one reads as expired).
    /// - Throws: ``SignInError`` `.session`; ``StorageError`` `.damagedRow`; ``DatabaseFailure``.
    public func signedInApplications(tokenHash: String, caller: Caller) async throws -> [ApplicationView] {
        let session = try await session(tokenHash: tokenHash, caller: caller)
        let rows = try await db.transaction { db in
            try db.query("SELECT * FROM applications WHERE iin = ? ORDER BY created_at DESC, number", [.text(session.iin)])
        }
        return try rows.map(view)
    }

    /// An application's status changes for whoever is signed in with the session `tokenHash`
    /// names: only an application of the signed-in IIN; any other number reads as absent.
    ///
    /// - Parameters:
    ///   - number: the application number.
    ///   - tokenHash: the SHA-256 (hex) of the sign-in session's token.
    ///   - caller: must be the caller the session was opened through.
    /// - Returns: Every status with its time, oldest first.
    /// - Throws: ``SignInError`` `.session`; ``IssuanceError`` `.notFound`; ``StorageError``; ``DatabaseFailure``.
    public func signedInHistory(_ number: String, tokenHash: String, caller: Caller) async throws -> [StatusChange] {
        let session = try await session(tokenHash: tokenHash, caller: caller)
        return try await history(number) { row in try row.text(Columns.iin) == session.iin }
    }

    enum SignInColumns: String {
        case owner, expiresAt = "expires_at", usedAt = "used_at", doneAt = "done_at", endedAt = "ended_at", codeID = "code_id"
    }
}
