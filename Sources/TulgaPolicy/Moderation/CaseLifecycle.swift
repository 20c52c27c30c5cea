import Foundation
public import TulgaCore

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

/// Codes of refused moderation steps.
public enum ModerationErrorCode: String, ErrorCode {
    case notAllowed = "not_allowed", unauthorized, alreadyClaimed = "already_claimed", notClaimedByYou = "not_claimed_by_you"
    case leaseExpired = "lease_expired", alreadyDecided = "already_decided", reasonRequired = "reason_required", ownCase = "own_case"
    case unknownCase = "unknown_case", unknownModerator = "unknown_moderator", invalidRow = "invalid_row"

    public var kind: ProblemKind {
        switch self {
        case .notAllowed, .unauthorized: .unauthorized
        case .unknownCase: .notFound
        case .invalidRow: .internalError
        default: .conflict
        }
    }
}

/// A refused moderation step, with its reason in words.
public typealias ModerationError = CodedError<ModerationErrorCode>

extension CodedError where Code == ModerationErrorCode {
    /// The role may not take this action.
    public static func notAllowed(_ role: Role, _ action: ModerationAction, fileID: String = #fileID, line: Int = #line) -> Self {
        Self(.notAllowed, "a \(role.rawValue) may not \(action.rawValue.replacingOccurrences(of: "_", with: " "))", fileID: fileID, line: line)
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
        case .approved, .rejected: throw ModerationError(.alreadyDecided, "the case is already \(current.state.rawValue)")
        case .claimed where current.claimedBy != moderator: throw ModerationError(.alreadyClaimed, "the case is claimed by \(current.claimedBy ?? "?")")
        default: return CaseLease(state: .claimed, claimedBy: moderator, leaseUntil: now + leaseSeconds)
        }
    }

    public func decide(_ approve: Bool, by moderator: String, reason: String, now: Double) throws(ModerationError) -> CaseLease {
        if state == .approved || state == .rejected { throw ModerationError(.alreadyDecided, "the case is already \(state.rawValue)") }
        guard state == .claimed, claimedBy == moderator else { throw ModerationError(.notClaimedByYou, "claim the case before deciding it") }
        guard let until = leaseUntil, until > now else { throw ModerationError(.leaseExpired, "your claim on the case has expired; claim it again") }
        guard !reason.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { throw ModerationError(.reasonRequired, "a reason is required") }
        return CaseLease(state: approve ? .approved : .rejected, claimedBy: moderator, leaseUntil: nil)
    }

    /// A supervisor hands the case to another moderator with a fresh lease.
    public func reassign(to moderator: String, now: Double, leaseSeconds: Double) throws(ModerationError) -> CaseLease {
        if state == .approved || state == .rejected { throw ModerationError(.alreadyDecided, "the case is already \(state.rawValue)") }
        return CaseLease(state: .claimed, claimedBy: moderator, leaseUntil: now + leaseSeconds)
    }
}

/// What can happen to a case.
public enum CaseEvent: Sendable, Hashable {
    /// A moderator takes the case for `leaseSeconds`.
    case claim(by: String, leaseSeconds: Double)
    /// The holder of the claim approves or rejects it, with a reason.
    case decide(approve: Bool, by: String, reason: String)
    /// A supervisor hands it to another moderator.
    case reassign(to: String, leaseSeconds: Double)
    /// The claim's lease ran out (the lease-expiry service).
    case expireLease
}

extension CaseLease {
    /// The case lifecycle: open → claimed (a lease; an expired one is open again) → approved or
    /// rejected. Pure: `now` is passed in.
    ///
    /// - Parameters:
    ///   - state: the case as stored.
    ///   - event: what is asked.
    ///   - now: seconds since 1970.
    /// - Throws: ``ModerationError`` naming the rule that refuses it.
    public static func transition(from state: CaseLease, event: CaseEvent, now: Double) throws(ModerationError) -> CaseLease {
        switch event {
        case .claim(let by, let lease): return try state.claim(by: by, now: now, leaseSeconds: lease)
        case .decide(let approve, let by, let reason): return try state.decide(approve, by: by, reason: reason, now: now)
        case .reassign(let to, let lease): return try state.reassign(to: to, now: now, leaseSeconds: lease)
        case .expireLease:
            guard state.state == .claimed, let until = state.leaseUntil, until <= now else {
                throw ModerationError(.alreadyDecided, "only a claim whose lease has run out expires (the case is \(state.state.rawValue))")
            }
            return CaseLease(state: .open)
        }
    }
}
