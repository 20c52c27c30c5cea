public import TulgaCore

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


/// Codes of refused attempt steps.
public enum AttemptErrorCode: String, ErrorCode {
    case attemptsExhausted = "attempts_exhausted", inPersonLocked = "in_person_locked", invalidState = "invalid_state"
    case notFound = "not_found", invalidRow = "invalid_row"

    public var kind: ProblemKind {
        switch self {
        case .attemptsExhausted, .inPersonLocked: .forbidden
        case .invalidState: .conflict
        case .notFound: .notFound
        case .invalidRow: .internalError
        }
    }
}

/// A refused attempt step.
public typealias AttemptError = CodedError<AttemptErrorCode>

/// Where one attempt stands. Raw values are what the attempts table stores.
public enum AttemptState: String, Sendable, Hashable, Codable, CaseIterable {
    case running
    case passed = "pass"
    case review
    case failed = "fail"
    /// Our failure, not the applicant's: never counted.
    case abandoned
}

/// What can happen to a running attempt.
public enum AttemptEvent: Sendable, Hashable {
    case finish(AttemptOutcome)
    case abandon
}

/// The attempt lifecycle and the per-IIN counter, pure.
///
/// ```swift
/// var counter = try AttemptCounter(failures: 2, running: 0).begin(policy)   // running 1
/// let state = try AttemptLifecycle.transition(from: .running, event: .finish(.fail))
/// counter = counter.finished(.fail)                                        // failures 3
/// ```
public enum AttemptLifecycle {
    /// running → pass, review, fail (finish) or abandoned; nothing leaves a finished state.
    /// - Throws: ``AttemptError`` `.invalidState` for any other move.
    public static func transition(from state: AttemptState, event: AttemptEvent) throws(AttemptError) -> AttemptState {
        guard state == .running else { throw AttemptError(.invalidState, "the attempt is not running (it is \(state.rawValue))") }
        switch event {
        case .finish(.pass): return .passed
        case .finish(.review): return .review
        case .finish(.fail): return .failed
        case .abandon: return .abandoned
        }
    }
}

/// An applicant's recorded failures and running attempts.
public struct AttemptCounter: Sendable, Hashable, Codable {
    public var failures: Int
    public var running: Int
    public init(failures: Int = 0, running: Int = 0) { (self.failures, self.running) = (failures, running) }

    /// One more running attempt, if the policy leaves one free.
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
    public func ended(_ state: AttemptState) -> AttemptCounter {
        AttemptCounter(failures: failures + (state == .failed ? 1 : 0), running: max(0, running - 1))
    }

    /// The in-person path: open only after the last allowed failure.
    /// - Throws: ``AttemptError`` `.inPersonLocked`.
    public func checkInPerson(_ policy: AttemptPolicy) throws(AttemptError) {
        guard policy.inPersonUnlocked(failures: failures) else {
            let message = Message(.refusalInPersonLocked, ["max": "\(policy.maxAttempts)", "failures": "\(failures)"])
            throw AttemptError(.inPersonLocked, message.text(.en), message: message)
        }
    }
}

/// The SMS an applicant gets when moderation ends.
public func moderationResultMessage(approved: Bool) -> Message {
    Message(approved ? .smsModerationApproved : .smsModerationRejected)
}
