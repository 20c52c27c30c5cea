public import TulgaCore

/// A person's Digital ID: created when verification passes or a moderator approves it.
public struct DigitalIDRecord: Sendable, Hashable, Codable {
    public enum Status: String, Sendable, Hashable, Codable, CaseIterable { case active, suspended, revoked }
    /// How the identity was verified: `automatic`, or `moderator:<id>`.
    public var iin: String
    public var surname: String
    public var givenName: String
    public var documentNumber: String
    public var status: Status
    public var createdAt: Double
    public var verifiedAt: Double
    public var verifiedBy: String
    public var hasPIN: Bool
    public var pinFailures: Int
    public var pinLocked: Bool

    public init(iin: String, surname: String, givenName: String, documentNumber: String, status: Status, createdAt: Double,
                verifiedAt: Double, verifiedBy: String, hasPIN: Bool, pinFailures: Int, pinLocked: Bool) {
        self.iin = iin
        self.surname = surname
        self.givenName = givenName
        self.documentNumber = documentNumber
        self.status = status
        self.createdAt = createdAt
        self.verifiedAt = verifiedAt
        self.verifiedBy = verifiedBy
        self.hasPIN = hasPIN
        self.pinFailures = pinFailures
        self.pinLocked = pinLocked
    }

    public var automaticallyVerified: Bool { verifiedBy == "automatic" }
}

/// PIN rules: exactly 6 digits, not all the same, not a straight run.
public enum PINPolicy {
    public static let maxFailures = 5

    public enum Violation: Error, Hashable, Sendable, CustomStringConvertible {
        case notSixDigits, allSame, sequence
        public var description: String {
            switch self {
            case .notSixDigits: "the PIN must be exactly 6 digits"
            case .allSame: "the PIN must not repeat one digit"
            case .sequence: "the PIN must not be a run like 123456 or 654321"
            }
        }
    }

    /// - Throws: the first rule the PIN breaks.
    public static func check(_ pin: String) throws(Violation) {
        let digits = pin.compactMap { $0.isASCII ? $0.wholeNumberValue : nil }
        guard pin.count == 6, digits.count == 6 else { throw .notSixDigits }
        if Set(digits).count == 1 { throw .allSame }
        let steps = zip(digits, digits.dropFirst()).map { $1 - $0 }
        if steps.allSatisfy({ $0 == 1 }) || steps.allSatisfy({ $0 == -1 }) { throw .sequence }
    }
}

/// What a PIN check found.
public enum PINCheck: Sendable, Hashable {
    case accepted
    case wrong(attemptsLeft: Int)
    case locked
    case notSet
}

/// A consent: the applicant lets a service read identity data for a scope, until a time.
public struct Consent: Sendable, Hashable, Codable {
    public var id: String
    public var iin: String
    public var scope: String
    public var grantedAt: Double
    public var expiresAt: Double
    public var revokedAt: Double?

    public init(id: String, iin: String, scope: String, grantedAt: Double, expiresAt: Double, revokedAt: Double?) {
        self.id = id
        self.iin = iin
        self.scope = scope
        self.grantedAt = grantedAt
        self.expiresAt = expiresAt
        self.revokedAt = revokedAt
    }

    /// Valid at `now` for `scope`: granted, not expired, not revoked.
    public func isValid(for scope: String, at now: Double) -> Bool {
        self.scope == scope && revokedAt == nil && grantedAt <= now && now < expiresAt
    }

    /// The scope the CA service asks for.
    public static let caIdentityScope = "ca.identity"
}

/// Codes of refused Digital ID steps.
public enum DigitalIDErrorCode: String, ErrorCode {
    case notFound = "not_found"
    case invalidState = "invalid_state"
    case invalidPIN = "invalid_pin"
    case conflict
    case consent
    case invalidRow = "invalid_row"

    public var kind: ProblemKind {
        switch self {
        case .notFound: .notFound
        case .invalidPIN, .consent: .invalid
        case .invalidState, .conflict: .conflict
        case .invalidRow: .internalError
        }
    }
}

/// A refused Digital ID step.
public typealias DigitalIDError = CodedError<DigitalIDErrorCode>

/// What can happen to a Digital ID.
public enum DigitalIDEvent: String, Sendable, Hashable, CaseIterable {
    case suspend, reinstate, revoke
}

/// The Digital ID lifecycle, pure: active ⇄ suspended, either → revoked; a revoked record is
/// final (a new verification creates a new one, see ``creation(existing:)``).
public enum DigitalIDLifecycle {
    /// - Throws: ``DigitalIDError`` `.invalidState` for a move the table does not allow.
    public static func transition(from status: DigitalIDRecord.Status, event: DigitalIDEvent) throws(DigitalIDError) -> DigitalIDRecord.Status {
        switch (status, event) {
        case (.active, .suspend): return .suspended
        case (.suspended, .reinstate): return .active
        case (.active, .revoke), (.suspended, .revoke): return .revoked
        default: throw DigitalIDError(.invalidState, "a \(status.rawValue) Digital ID cannot be \(event.rawValue)d")
        }
    }

    /// What a passed verification does: create a record when there is none or it was revoked,
    /// keep an active or suspended one as it is.
    public enum Creation: Sendable, Hashable { case create, replaceRevoked, keep }

    public static func creation(existing: DigitalIDRecord.Status?) -> Creation {
        switch existing {
        case nil: .create
        case .revoked?: .replaceRevoked
        case .active?, .suspended?: .keep
        }
    }
}

/// The wrong-PIN counter, pure: a right PIN resets it, the fifth wrong one in a row locks.
public struct PINCounter: Sendable, Hashable, Codable {
    public var failures: Int
    public var locked: Bool
    public init(failures: Int = 0, locked: Bool = false) {
        self.failures = failures
        self.locked = locked
    }

    /// The counter after one check, and what the check found.
    /// - Parameter matches: whether the PIN matched the stored hash.
    public func checked(matches: Bool) -> (counter: PINCounter, result: PINCheck) {
        if locked { return (self, .locked) }
        if matches { return (PINCounter(), .accepted) }
        let next = PINCounter(failures: failures + 1, locked: failures + 1 >= PINPolicy.maxFailures)
        return (next, next.locked ? .locked : .wrong(attemptsLeft: PINPolicy.maxFailures - next.failures))
    }
}

/// Consent limits: at most 366 days, at least a second; granting needs an active Digital ID.
public enum ConsentRules {
    public static let maxSeconds = 366.0 * 86400

    /// - Throws: ``DigitalIDError`` `.consent` or `.invalidState`.
    public static func checkGrant(seconds: Double, status: DigitalIDRecord.Status?) throws(DigitalIDError) {
        guard seconds > 0, seconds <= maxSeconds else { throw DigitalIDError(.invalidState, "a consent lasts between 1 second and 366 days") }
        guard status == .active else { throw DigitalIDError(.invalidState, "consent needs an active Digital ID") }
    }
}
