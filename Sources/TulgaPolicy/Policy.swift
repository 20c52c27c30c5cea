import Foundation

/// How many biometric attempts an applicant gets.
public struct AttemptPolicy: Sendable, Hashable, Codable {
    public var maxAttempts = 5
    public init(maxAttempts: Int = 5) { self.maxAttempts = maxAttempts }

    /// A new attempt may start while recorded failures plus attempts still running stay below the limit.
    public func mayStart(failures: Int, running: Int) -> Bool { failures + running < maxAttempts }
    /// The service-centre path opens after the last allowed failure.
    public func inPersonUnlocked(failures: Int) -> Bool { failures >= maxAttempts }
    public func attemptsLeft(failures: Int, running: Int) -> Int { max(0, maxAttempts - failures - running) }
}

/// What one verification attempt comes to.
public enum AttemptOutcome: String, Sendable, Hashable, Codable {
    case pass, review, fail
}

/// Score bands: pass at or above `accept`, moderation between `review` and `accept`, else fail.
public struct DecisionBands: Sendable, Hashable, Codable {
    public var accept: Double
    public var review: Double

    public init(accept: Double, review: Double) {
        self.accept = accept
        self.review = review
    }

    /// Pass needs the accept score and passed liveness; a failed liveness is always a failed attempt.
    public func decide(score: Double, livenessPassed: Bool) -> AttemptOutcome {
        guard livenessPassed else { return .fail }
        if score >= accept { return .pass }
        if score >= review { return .review }
        return .fail
    }
}

/// Roles of the people who review cases.
public enum Role: String, Sendable, Hashable, Codable, CaseIterable {
    case moderator, supervisor
}

/// Things a moderator can do.
public enum ModerationAction: String, Sendable, Hashable, Codable {
    case list, show, claim, decide, reassign, statsAll = "stats_all", statsOwn = "stats_own"
}

/// Who may do what: supervisors also reassign and see everyone's statistics.
public func isAllowed(_ role: Role, _ action: ModerationAction) -> Bool {
    switch action {
    case .list, .show, .claim, .decide, .statsOwn: true
    case .reassign, .statsAll: role == .supervisor
    }
}

public enum CaseState: String, Sendable, Hashable, Codable, CaseIterable {
    case open, claimed, approved, rejected
}

/// A refused moderation step, with its reason in words.
public enum ModerationError: Error, Hashable, Sendable, CustomStringConvertible {
    case notAllowed(Role, ModerationAction)
    case alreadyClaimed(by: String)
    case notClaimedByYou
    case leaseExpired
    case alreadyDecided(CaseState)
    case reasonRequired
    case ownCase
    case unknownCase(String)
    case unknownModerator(String)

    public var description: String {
        switch self {
        case .notAllowed(let role, let action): "a \(role.rawValue) may not \(action.rawValue.replacingOccurrences(of: "_", with: " "))"
        case .alreadyClaimed(let by): "the case is claimed by \(by)"
        case .notClaimedByYou: "claim the case before deciding it"
        case .leaseExpired: "your claim on the case has expired; claim it again"
        case .alreadyDecided(let state): "the case is already \(state.rawValue)"
        case .reasonRequired: "a reason is required"
        case .ownCase: "nobody may decide a case about themselves"
        case .unknownCase(let id): "no case \(id)"
        case .unknownModerator(let id): "no moderator \(id)"
        }
    }
}

/// A moderation case's mutable part, and the pure rules that move it.
public struct CaseLease: Sendable, Hashable, Codable {
    public var state: CaseState
    public var claimedBy: String?
    public var leaseUntil: Double?

    public init(state: CaseState, claimedBy: String? = nil, leaseUntil: Double? = nil) {
        self.state = state
        self.claimedBy = claimedBy
        self.leaseUntil = leaseUntil
    }

    /// The state as of `now`: an expired claim is open again.
    public func effective(now: Double) -> CaseLease {
        if state == .claimed, let until = leaseUntil, until <= now { return CaseLease(state: .open) }
        return self
    }

    public func claim(by moderator: String, now: Double, leaseSeconds: Double) throws(ModerationError) -> CaseLease {
        let current = effective(now: now)
        switch current.state {
        case .approved, .rejected: throw .alreadyDecided(current.state)
        case .claimed where current.claimedBy != moderator: throw .alreadyClaimed(by: current.claimedBy ?? "?")
        default: return CaseLease(state: .claimed, claimedBy: moderator, leaseUntil: now + leaseSeconds)
        }
    }

    public func decide(_ approve: Bool, by moderator: String, reason: String, now: Double) throws(ModerationError) -> CaseLease {
        if state == .approved || state == .rejected { throw .alreadyDecided(state) }
        guard state == .claimed, claimedBy == moderator else { throw .notClaimedByYou }
        guard let until = leaseUntil, until > now else { throw .leaseExpired }
        guard !reason.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { throw .reasonRequired }
        return CaseLease(state: approve ? .approved : .rejected, claimedBy: moderator, leaseUntil: nil)
    }

    /// A supervisor hands the case to another moderator with a fresh lease.
    public func reassign(to moderator: String, now: Double, leaseSeconds: Double) throws(ModerationError) -> CaseLease {
        if state == .approved || state == .rejected { throw .alreadyDecided(state) }
        return CaseLease(state: .claimed, claimedBy: moderator, leaseUntil: now + leaseSeconds)
    }
}

/// The SMS an applicant gets when moderation ends.
public enum SMSLanguage: String, Sendable, Codable, CaseIterable { case ru, kk }

public func moderationResultSMS(approved: Bool, language: SMSLanguage) -> String {
    switch (approved, language) {
    case (true, .ru): "Проверка вашей фотографии завершена: личность подтверждена. Вы можете продолжить выпуск ЭЦП."
    case (false, .ru): "Проверка вашей фотографии завершена: личность не подтверждена. Обратитесь в ЦОН для выпуска ЭЦП."
    case (true, .kk): "Фотосуретіңізді тексеру аяқталды: жеке басыңыз расталды. ЭЦҚ шығаруды жалғастыра аласыз."
    case (false, .kk): "Фотосуретіңізді тексеру аяқталды: жеке басыңыз расталмады. ЭЦҚ алу үшін ХҚКО-ға жүгініңіз."
    }
}
