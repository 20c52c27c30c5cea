public import TulgaCore
/// SMS-code rules, pure: 6 digits, valid 120 s, single use, 3 wrong entries an hour block
/// confirmation (a new code does not reset that), resend after 60 s, at most 5 codes an hour.
/// The 120 s expiry is enforced in ``checkConfirmation(now:expiresAt:usedAt:wrongInLastHour:)``.
public struct SMSCodePolicy: Sendable, Codable, Hashable {
    public var validitySeconds = 120.0
    public var resendAfterSeconds = 60.0
    public var maxPerHour = 5
    public var maxWrong = 3
    /// How long a confirmed phone counts for an application.
    public var confirmationValidSeconds = 900.0
    public init() {}

    /// May a new code be sent now?
    /// - Parameter sentInLastHour: creation times of the codes sent in the last hour, newest first.
    /// - Throws: ``IssuanceError`` `.code` with the wait.
    public func checkRequest(now: Double, sentInLastHour: [Double]) throws(IssuanceError) {
        if let last = sentInLastHour.first, now - last < resendAfterSeconds {
            throw IssuanceError(.code, "a new code can be requested \(Int(resendAfterSeconds - (now - last)) + 1) s from now")
        }
        guard sentInLastHour.count < maxPerHour else { throw IssuanceError(.code, "at most \(maxPerHour) codes an hour; try again later") }
    }

    /// May the latest code be checked now? (Wrong entries are counted even though the call fails.)
    /// - Throws: ``IssuanceError`` `.code`: blocked, used or replaced, expired.
    public func checkConfirmation(now: Double, expiresAt: Double, usedAt: Double?, wrongInLastHour: Int) throws(IssuanceError) {
        guard wrongInLastHour < maxWrong else {
            throw IssuanceError(.code, "\(maxWrong) wrong codes were entered; a new code does not reset this, try again in an hour")
        }
        guard usedAt == nil else { throw IssuanceError(.code, "this code was already used or replaced; request a new one") }
        guard expiresAt > now else { throw IssuanceError(.code, "the code has expired (valid \(Int(validitySeconds)) s); request a new one") }
    }

    /// Whether a phone confirmed at `verifiedAt` still counts at `now`.
    public func confirmationIsFresh(verifiedAt: Double?, now: Double) -> Bool {
        guard let verifiedAt else { return false }
        return now - verifiedAt <= confirmationValidSeconds
    }
}
