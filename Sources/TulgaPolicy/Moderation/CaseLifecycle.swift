internal import Foundation
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
    case notAllowed = "not_allowed"
    case unauthorized
    case alreadyClaimed = "already_claimed"
    case notClaimedByYou = "not_claimed_by_you"
    case leaseExpired = "lease_expired"
    case alreadyDecided = "already_decided"
    case reasonRequired = "reason_required"
    case ownCase = "own_case"
    case unknownCase = "unknown_case"
    case unknownModerator = "unknown_moderator"
    case invalidRow = "invalid_row"

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
    public static func notAllowed(_ role: Role, _ action: ModerationAction, fileID: String = #fileID, line: Int = #line) -> Self {
        Self(.notAllowed, "a \(role.rawValue) may not \(action.rawValue.replacingOccurrences(of: "_", with: " "))", fileID: fileID, line: line)
    }
    public static func alreadyClaimed(by: String, fileID: String = #fileID, line: Int = #line) -> Self {
        Self(.alreadyClaimed, "the case is claimed by \(by)", fileID: fileID, line: line)
    }
    public static func notClaimedByYou(fileID: String = #fileID, line: Int = #line) -> Self {
        Self(.notClaimedByYou, "claim the case before deciding it", fileID: fileID, line: line)
    }
    public static func leaseExpired(fileID: String = #fileID, line: Int = #line) -> Self {
        Self(.leaseExpired, "your claim on the case has expired; claim it again", fileID: fileID, line: line)
    }
    public static func alreadyDecided(_ state: CaseState, fileID: String = #fileID, line: Int = #line) -> Self {
        Self(.alreadyDecided, "the case is already \(state.rawValue)", fileID: fileID, line: line)
    }
    public static func reasonRequired(fileID: String = #fileID, line: Int = #line) -> Self {
        Self(.reasonRequired, "a reason is required", fileID: fileID, line: line)
    }
    public static func ownCase(fileID: String = #fileID, line: Int = #line) -> Self {
        Self(.ownCase, "nobody may decide a case about themselves", fileID: fileID, line: line)
    }
    public static func unknownCase(_ id: String, fileID: String = #fileID, line: Int = #line) -> Self {
        Self(.unknownCase, "no case \(id)", fileID: fileID, line: line)
    }
    public static func unknownModerator(_ id: String, fileID: String = #fileID, line: Int = #line) -> Self {
        Self(.unknownModerator, "no moderator \(id)", fileID: fileID, line: line)
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
        guard state == .claimed, claimedBy == moderator else { throw .notClaimedByYou() }
        guard let until = leaseUntil, until > now else { throw .leaseExpired() }
        guard !reason.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { throw .reasonRequired() }
        return CaseLease(state: approve ? .approved : .rejected, claimedBy: moderator, leaseUntil: nil)
    }

    /// A supervisor hands the case to another moderator with a fresh lease.
    public func reassign(to moderator: String, now: Double, leaseSeconds: Double) throws(ModerationError) -> CaseLease {
        if state == .approved || state == .rejected { throw .alreadyDecided(state) }
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
