public import TulgaCore

/// How many biometric attempts an applicant gets.
public struct AttemptPolicy: Sendable, Hashable, Codable {
    /// Failed plus running attempts allowed before the in-person path opens (5 by default).
    public var maxAttempts = 5
    /// How long a running attempt holds its place, in seconds: at least as long as its session
    /// may live. A lease left behind by a crash is released (not counted) once it expires.
    public var leaseSeconds = 900.0
    /// How long an attempt sent to a moderator holds back the next one for that IIN, in seconds
    /// (a day, the moderation SLA): nobody queues up cases, and nobody is held back for ever.
    public var reviewHoldSeconds = 86_400.0
    /// Creates a policy.
    ///
    /// - Parameters:
    ///   - maxAttempts: failed plus running attempts allowed.
    ///   - leaseSeconds: how long a running attempt holds its place.
    public init(maxAttempts: Int = 5, leaseSeconds: Double = 900) { (self.maxAttempts, self.leaseSeconds) = (maxAttempts, leaseSeconds) }

    /// Whether a running attempt's lease has run out at `now` (a lease never recorded, from an older build, has).
    ///
    /// - Parameters:
    ///   - leaseUntil: the end of the attempt's lease, if recorded.
    ///   - now: seconds since 1970.
    public func leaseExpired(leaseUntil: Double?, now: Double) -> Bool { (leaseUntil ?? -.infinity) <= now }

    /// A new attempt may start while recorded failures plus attempts still running stay below the limit.
    ///
    /// - Parameters:
    ///   - failures: the applicant's recorded failures.
    ///   - running: their attempts still running.
    public func mayStart(failures: Int, running: Int) -> Bool { failures + running < maxAttempts }
    /// The service-centre path opens after the last allowed failure.
    ///
    /// - Parameter failures: the applicant's recorded failures.
    /// - Returns: `true` once failures reach ``maxAttempts``.
    public func inPersonUnlocked(failures: Int) -> Bool { failures >= maxAttempts }
    /// How many attempts may still start, never below zero.
    ///
    /// - Parameters:
    ///   - failures: the applicant's recorded failures.
    ///   - running: their attempts still running.
    public func attemptsLeft(failures: Int, running: Int) -> Int { max(0, maxAttempts - failures - running) }
}

/// What one verification attempt comes to.
public enum AttemptOutcome: String, Sendable, Hashable, Codable {
    /// Passed (the face matched), sent to a moderator, or failed.
    case pass, review, fail
}

/// Score bands: pass at or above `accept`, moderation between `review` and `accept`, else fail.
public struct DecisionBands: Sendable, Hashable, Codable {
    /// The lowest score that passes.
    public var accept: Double
    /// The lowest score that goes to moderation; below it the attempt fails.
    public var review: Double

    /// Creates bands.
    ///
    /// - Parameters:
    ///   - accept: the lowest score that passes.
    ///   - review: the lowest score that goes to moderation; at most `accept`.
    public init(accept: Double, review: Double) {
        self.accept = accept
        self.review = review
    }

    /// Pass needs the accept score and passed liveness; a failed liveness is always a failed attempt.
    ///
    /// - Parameters:
    ///   - score: the face-comparison score.
    ///   - livenessPassed: whether the liveness check passed.
    /// - Returns: `.pass`, `.review` or `.fail`.
    public func decide(score: Double, livenessPassed: Bool) -> AttemptOutcome {
        guard livenessPassed else { return .fail }
        if score >= accept { return .pass }
        if score >= review { return .review }
        return .fail
    }
}


/// Codes of refused attempt steps.
public enum AttemptErrorCode: String, ErrorCode {
    /// `attemptsExhausted`: no attempt is free (403); `inPersonLocked`: the in-person path is not open yet (403);
    /// `invalidState`: the attempt is not running (409).
    case attemptsExhausted = "attempts_exhausted", inPersonLocked = "in_person_locked", invalidState = "invalid_state"
    /// `notFound`: no such attempt (404). A damaged row is a `StorageError`.
    case notFound = "not_found"
    /// `noFaceSeen`: the session ended before any usable face was seen; it is abandoned, not counted (422).
    case noFaceSeen = "no_face_seen"
    /// `reviewPending`: an earlier attempt is with a moderator; the next starts after the decision (409).
    case reviewPending = "review_pending"

    /// 403, 409 or 404, as listed on the cases.
    public var kind: ProblemKind {
        switch self {
        case .attemptsExhausted, .inPersonLocked: .forbidden
        case .invalidState, .reviewPending: .conflict
        case .notFound: .notFound
        case .noFaceSeen: .invalid
        }
    }
}

/// A refused attempt step.
public typealias AttemptError = CodedError<AttemptErrorCode>

/// Where one attempt stands. Raw values are what the attempts table stores.
public enum AttemptState: String, Sendable, Hashable, Codable, CaseIterable {
    /// Started and not finished; counts against the limit until it ends.
    case running
    /// The face matched and liveness passed.
    case passed = "pass"
    /// Sent to a moderator; not counted as a failure.
    case review
    /// Failed; counts toward the limit.
    case failed = "fail"
    /// Our failure, not the applicant's: never counted.
    case abandoned
}

/// What can happen to a running attempt.
public enum AttemptEvent: Sendable, Hashable {
    /// The attempt ended with this outcome.
    case finish(AttemptOutcome)
    /// The attempt ended through our fault; it is not counted.
    case abandon
    /// A moderator rejected the attempt sent to review: it becomes a failure and counts.
    case reject
}

/// The attempt lifecycle and the per-IIN counter, pure.
///
/// ```swift
/// var counter = try AttemptCounter(failures: 2, running: 0).begin(policy)   // running 1
/// let state = try AttemptLifecycle.transition(from: .running, event: .finish(.fail))
/// counter = counter.ended(state)                                           // failures 3
/// ```
public enum AttemptLifecycle {
    /// running → pass, review, fail (finish) or abandoned; review → fail when a moderator rejects it;
    /// nothing else leaves a finished state.
    /// - Throws: ``AttemptError`` `.invalidState` for any other move.
    ///
    /// - Parameters:
    ///   - state: the attempt's state now.
    ///   - event: what happened.
    /// - Returns: The new state.
    public static func transition(from state: AttemptState, event: AttemptEvent) throws(AttemptError) -> AttemptState {
        if event == .reject {
            guard state == .review else { throw AttemptError(.invalidState, "only an attempt in review is rejected (it is \(state.rawValue))") }
            return .failed
        }
        guard state == .running else { throw AttemptError(.invalidState, "the attempt is not running (it is \(state.rawValue))") }
        switch event {
        case .finish(.pass): return .passed
        case .finish(.review): return .review
        case .finish(.fail): return .failed
        case .abandon: return .abandoned
        case .reject: return .failed   // handled above
        }
    }
}

/// An applicant's recorded failures and running attempts.
public struct AttemptCounter: Sendable, Hashable, Codable {
    /// Recorded failed attempts.
    public var failures: Int
    /// Attempts started and not yet ended.
    public var running: Int
    /// Creates a counter.
    ///
    /// - Parameters:
    ///   - failures: recorded failed attempts.
    ///   - running: attempts still running.
    public init(failures: Int = 0, running: Int = 0) { (self.failures, self.running) = (failures, running) }

    /// One more running attempt, if the policy leaves one free.
    ///
    /// - Parameter policy: the attempt limit.
    /// - Returns: The counter with one more running attempt.
    /// - Throws: ``AttemptError`` `.attemptsExhausted`, with the catalogue's refusal.
    public func begin(_ policy: AttemptPolicy) throws(AttemptError) -> AttemptCounter {
        guard policy.mayStart(failures: failures, running: running) else {
            let args = ["max": "\(policy.maxAttempts)", "failures": "\(failures)", "running": "\(running)"]
            let message = Message(policy.inPersonUnlocked(failures: failures) ? .refusalAttemptsExhausted : .refusalAttemptsBusy, args)
            throw AttemptError(.attemptsExhausted, message.text(.en), message: message)
        }
        return AttemptCounter(failures: failures, running: running + 1)
    }

    /// The counter after a running attempt ends with `state` (a failure counts; nothing else does).
    ///
    /// - Parameter state: the state the attempt ended in.
    /// - Returns: The counter with one fewer running attempt, and one more failure if `state` is `.failed`.
    public func ended(_ state: AttemptState) -> AttemptCounter {
        AttemptCounter(failures: failures + (state == .failed ? 1 : 0), running: max(0, running - 1))
    }

    /// The counter after a moderator rejects an attempt in review: one more failure (it was no longer running).
    ///
    /// - Returns: The counter with one more failure.
    public func rejected() -> AttemptCounter { AttemptCounter(failures: failures + 1, running: running) }

    /// The in-person path: open only after the last allowed failure.
    ///
    /// - Parameter policy: the attempt limit.
    /// - Throws: ``AttemptError`` `.inPersonLocked`.
    public func checkInPerson(_ policy: AttemptPolicy) throws(AttemptError) {
        guard policy.inPersonUnlocked(failures: failures) else {
            let message = Message(.refusalInPersonLocked, ["max": "\(policy.maxAttempts)", "failures": "\(failures)"])
            throw AttemptError(.inPersonLocked, message.text(.en), message: message)
        }
    }
}

/// The SMS an applicant gets when moderation ends, with what they can really do next: a
/// rejection is a recorded failure, so they try again while attempts are left, else go to a
/// service centre.
///
/// - Parameters:
///   - approved: whether the moderator confirmed the identity.
///   - attemptsLeft: attempts the applicant may still start after the decision.
/// - Returns: The SMS text, not yet rendered.
public func moderationResultMessage(approved: Bool, attemptsLeft: Int) -> Message {
    if approved { return Message(.smsModerationApproved) }
    return attemptsLeft > 0 ? Message(.smsModerationRejectedRetry, ["left": "\(attemptsLeft)"]) : Message(.smsModerationRejected)
}
