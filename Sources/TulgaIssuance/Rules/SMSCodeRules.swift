public import TulgaCore
/// SMS-code rules, pure: 6 digits, valid 120 s, single use, 3 wrong entries an hour block
/// confirmation (a new code does not reset that), resend after 60 s, at most 5 codes an hour.
/// The 120 s expiry is enforced in ``checkConfirmation(now:expiresAt:usedAt:wrongInLastHour:)``.
///
/// ```swift
/// let policy = SMSCodePolicy()
/// try policy.checkRequest(now: now, sentInLastHour: sentTimes)   // before sending a code
/// try policy.checkConfirmation(now: now, expiresAt: code.expiresAt, usedAt: nil, wrongInLastHour: 0)
/// ```
public struct SMSCodePolicy: Sendable, Codable, Hashable {
    /// How long a code is valid, in seconds.
    public var validitySeconds = 120.0
    /// The wait before another code may be sent, in seconds.
    public var resendAfterSeconds = 60.0
    /// The most codes sent in one hour.
    public var maxPerHour = 5
    /// Wrong entries in one hour that block confirmation.
    public var maxWrong = 3
    /// How long a confirmed phone counts for an application.
    public var confirmationValidSeconds = 900.0
    /// The defaults listed in the type comment.
    public init() {}

    /// May a new code be sent now?
    ///
    /// - Parameters:
    ///   - now: seconds since 1970.
    ///   - sentInLastHour: creation times of the codes sent in the last hour, newest first.
    /// - Throws: ``IssuanceError`` `.code` with the wait.
    public func checkRequest(now: Double, sentInLastHour: [Double]) throws(IssuanceError) {
        if let last = sentInLastHour.first, now - last < resendAfterSeconds {
            throw IssuanceError(.code, "a new code can be requested \(Int(resendAfterSeconds - (now - last)) + 1) s from now")
        }
        guard sentInLastHour.count < maxPerHour else { throw IssuanceError(.code, "at most \(maxPerHour) codes an hour; try again later") }
    }

    /// May the latest code be checked now? (Wrong entries are counted even though the call fails.)
    ///
    /// - Parameters:
    ///   - now: seconds since 1970.
    ///   - expiresAt: when the latest code expires.
    ///   - usedAt: when it was used or replaced, if it was.
    ///   - wrongInLastHour: wrong entries in the last hour.
    /// - Throws: ``IssuanceError`` `.code`: blocked, used or replaced, expired.
    public func checkConfirmation(now: Double, expiresAt: Double, usedAt: Double?, wrongInLastHour: Int) throws(IssuanceError) {
        switch confirmationRefusal(now: now, expiresAt: expiresAt, usedAt: usedAt, wrongInLastHour: wrongInLastHour) {
        case .blocked: throw IssuanceError(.code, "\(maxWrong) wrong codes were entered; a new code does not reset this, try again in an hour")
        case .used: throw IssuanceError(.code, "this code was already used or replaced; request a new one")
        case .expired: throw IssuanceError(.code, "the code has expired (valid \(Int(validitySeconds)) s); request a new one")
        case nil: return
        }
    }

    /// Why a code may not be checked now, first reason first; `nil` when it may.
    public enum Refusal: Sendable, Hashable {
        /// ``maxWrong`` wrong entries in the last hour.
        case blocked
        /// Used, or replaced by a newer code.
        case used
        /// Past ``validitySeconds``.
        case expired
    }

    /// The rule of ``checkConfirmation(now:expiresAt:usedAt:wrongInLastHour:)`` as a value, for callers with refusals of their own.
    ///
    /// - Parameters: as ``checkConfirmation(now:expiresAt:usedAt:wrongInLastHour:)``.
    /// - Returns: The refusal, or `nil` when the code may be checked.
    public func confirmationRefusal(now: Double, expiresAt: Double, usedAt: Double?, wrongInLastHour: Int) -> Refusal? {
        if wrongInLastHour >= maxWrong { return .blocked }
        if usedAt != nil { return .used }
        return expiresAt > now ? nil : .expired
    }

    /// Whether a phone confirmed at `verifiedAt` still counts at `now`.
    ///
    /// - Parameters:
    ///   - verifiedAt: when the phone was confirmed, or `nil` if it never was.
    ///   - now: seconds since 1970.
    /// - Returns: `true` within ``confirmationValidSeconds`` of the confirmation.
    public func confirmationIsFresh(verifiedAt: Double?, now: Double) -> Bool {
        guard let verifiedAt else { return false }
        return now - verifiedAt <= confirmationValidSeconds
    }
}
