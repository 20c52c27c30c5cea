import Foundation
public import TulgaCore

/// Roles of the people who review cases.
public enum Role: String, Sendable, Hashable, Codable, CaseIterable {
    /// A moderator claims and decides cases; a supervisor also reassigns them and sees everyone's statistics.
    case moderator, supervisor
    /// A service-centre operator: confirms in-person applicants and registers phones; sees no case.
    case serviceOperator = "operator"
}

/// Things a moderator can do.
public enum ModerationAction: String, Sendable, Hashable, Codable {
    /// `list`, `show`, `claim`, `decide` and `statsOwn` are open to every role; `reassign` and
    /// `statsAll` (everyone's statistics) are for supervisors.
    case list, show, claim, decide, reassign, statsAll = "stats_all", statsOwn = "stats_own"
    /// A service centre's desk: in-person confirmation, phone registration (operators and supervisors).
    case operate
}

/// Who may do what: supervisors also reassign and see everyone's statistics; operators only operate.
///
/// - Parameters:
///   - role: the reviewer's role.
///   - action: what they ask to do.
/// - Returns: `true` when the role may take the action.
public func isAllowed(_ role: Role, _ action: ModerationAction) -> Bool {
    switch action {
    case .list, .show, .claim, .decide, .statsOwn: role != .serviceOperator
    case .reassign, .statsAll: role == .supervisor
    case .operate: role == .serviceOperator || role == .supervisor
    }
}

/// Where a moderation case stands. Raw values are what the cases table stores.
public enum CaseState: String, Sendable, Hashable, Codable, CaseIterable {
    /// `open`: waiting for a moderator; `claimed`: a moderator holds a lease on it;
    /// `approved` or `rejected`: decided, final.
    case open, claimed, approved, rejected
}

/// What a moderation case is about. Raw values are what the cases table stores.
public enum CaseKind: String, Sendable, Hashable, Codable, CaseIterable {
    /// `face`: the selfie against the registry photo (an attempt in the review band);
    /// `document`: the identity document's data or portrait did not match (the document step).
    case face, document
}

/// Codes of refused moderation steps.
public enum ModerationErrorCode: String, ErrorCode {
    /// `notAllowed`, `unauthorized`: the caller may not do this (401); `alreadyClaimed`: another moderator holds it (409);
    /// `notClaimedByYou`: claim the case before deciding it (409).
    case notAllowed = "not_allowed", unauthorized, alreadyClaimed = "already_claimed", notClaimedByYou = "not_claimed_by_you"
    /// `leaseExpired`: the claim ran out; `alreadyDecided`: the case is final; `reasonRequired`: a decision needs a reason;
    /// `ownCase`: nobody may decide a case about themselves. All 409.
    case leaseExpired = "lease_expired", alreadyDecided = "already_decided", reasonRequired = "reason_required", ownCase = "own_case"
    /// `unknownCase`: no such case (404); `unknownModerator`: no such moderator (409); `invalidRow`: a stored row
    /// cannot be read (500).
    case unknownCase = "unknown_case", unknownModerator = "unknown_moderator", invalidRow = "invalid_row"
    /// `invalidModerator`: a moderator account without the moderator's own IIN (422).
    case invalidModerator = "invalid_moderator"

    /// 401, 404, 422, 500 or 409, as listed on the cases.
    public var kind: ProblemKind {
        switch self {
        case .notAllowed, .unauthorized: .unauthorized
        case .unknownCase: .notFound
        case .invalidRow: .internalError
        case .invalidModerator: .invalid
        default: .conflict
        }
    }
}

/// A refused moderation step, with its reason in words.
public typealias ModerationError = CodedError<ModerationErrorCode>

extension CodedError where Code == ModerationErrorCode {
    /// The role may not take this action.
    ///
    /// - Parameters:
    ///   - role: the caller's role.
    ///   - action: the action refused.
    ///   - fileID: the raising file; leave the default.
    ///   - line: the raising line; leave the default.
    /// - Returns: A `.notAllowed` error saying, e.g., "a moderator may not reassign".
    public static func notAllowed(_ role: Role, _ action: ModerationAction, fileID: String = #fileID, line: Int = #line) -> Self {
        Self(.notAllowed, "a \(role.rawValue) may not \(action.rawValue.replacingOccurrences(of: "_", with: " "))", fileID: fileID, line: line)
    }
}

/// A moderation case's mutable part, and the pure rules that move it.
///
/// Moves go through ``transition(from:event:now:)``, or the step methods it calls.
///
/// ```swift
/// var lease = CaseLease(state: .open)
/// lease = try CaseLease.transition(from: lease, event: .claim(by: "mod-1", leaseSeconds: 900), now: now)
/// lease = try CaseLease.transition(from: lease, event: .decide(approve: true, by: "mod-1", reason: "same person"), now: now + 60)
/// // lease.state == .approved
/// ```
public struct CaseLease: Sendable, Hashable, Codable {
    /// The stored state; read ``effective(now:)`` for the state as of now.
    public var state: CaseState
    /// The moderator holding the claim, or who decided the case.
    public var claimedBy: String?
    /// When the claim runs out, in seconds since 1970; `nil` unless claimed.
    public var leaseUntil: Double?

    /// Creates a lease.
    ///
    /// - Parameters:
    ///   - state: the stored state.
    ///   - claimedBy: the moderator holding the claim.
    ///   - leaseUntil: when the claim runs out, in seconds since 1970.
    public init(state: CaseState, claimedBy: String? = nil, leaseUntil: Double? = nil) {
        self.state = state
        self.claimedBy = claimedBy
        self.leaseUntil = leaseUntil
    }

    /// The state as of `now`: an expired claim is open again.
    ///
    /// - Parameter now: seconds since 1970.
    /// - Returns: An open lease if the claim ran out, else `self`.
    public func effective(now: Double) -> CaseLease {
        if state == .claimed, let until = leaseUntil, until <= now { return CaseLease(state: .open) }
        return self
    }

    /// A moderator claims the case, or renews their own claim, for `leaseSeconds`.
    ///
    /// - Parameters:
    ///   - moderator: who claims it.
    ///   - now: seconds since 1970.
    ///   - leaseSeconds: how long the claim lasts.
    /// - Returns: The claimed lease.
    /// - Throws: ``ModerationError`` `.alreadyDecided` if the case is approved or rejected;
    ///   `.alreadyClaimed` if another moderator holds an unexpired claim.
    public func claim(by moderator: String, now: Double, leaseSeconds: Double) throws(ModerationError) -> CaseLease {
        let current = effective(now: now)
        switch current.state {
        case .approved, .rejected: throw ModerationError(.alreadyDecided, "the case is already \(current.state.rawValue)")
        case .claimed where current.claimedBy != moderator: throw ModerationError(.alreadyClaimed, "the case is claimed by \(current.claimedBy ?? "?")")
        default: return CaseLease(state: .claimed, claimedBy: moderator, leaseUntil: now + leaseSeconds)
        }
    }

    /// The holder of the claim approves or rejects the case.
    ///
    /// - Parameters:
    ///   - approve: `true` to approve, `false` to reject.
    ///   - moderator: who decides; must hold the claim.
    ///   - reason: why, in words; must not be blank.
    ///   - now: seconds since 1970.
    /// - Returns: The approved or rejected lease.
    /// - Throws: ``ModerationError`` `.alreadyDecided` if the case is final; `.notClaimedByYou` if
    ///   `moderator` does not hold the claim; `.leaseExpired` if the claim ran out; `.reasonRequired`
    ///   if `reason` is blank.
    public func decide(_ approve: Bool, by moderator: String, reason: String, now: Double) throws(ModerationError) -> CaseLease {
        if state == .approved || state == .rejected { throw ModerationError(.alreadyDecided, "the case is already \(state.rawValue)") }
        guard state == .claimed, claimedBy == moderator else { throw ModerationError(.notClaimedByYou, "claim the case before deciding it") }
        guard let until = leaseUntil, until > now else { throw ModerationError(.leaseExpired, "your claim on the case has expired; claim it again") }
        guard !reason.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { throw ModerationError(.reasonRequired, "a reason is required") }
        return CaseLease(state: approve ? .approved : .rejected, claimedBy: moderator, leaseUntil: nil)
    }

    /// A supervisor hands the case to another moderator with a fresh lease.
    ///
    /// - Parameters:
    ///   - moderator: who gets the case.
    ///   - now: seconds since 1970.
    ///   - leaseSeconds: how long the new claim lasts.
    /// - Returns: A lease claimed by `moderator`.
    /// - Throws: ``ModerationError`` `.alreadyDecided` if the case is approved or rejected.
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
    /// - Returns: The case after the event.
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
