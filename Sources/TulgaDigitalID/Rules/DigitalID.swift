public import TulgaCore

/// A person's Digital ID: created when verification passes or a moderator approves it.
public struct DigitalIDRecord: Sendable, Hashable, Codable {
    /// `active`: usable; `suspended`: paused, may be reinstated; `revoked`: final.
    public enum Status: String, Sendable, Hashable, Codable, CaseIterable { case active, suspended, revoked }
    /// The person's IIN.
    public var iin: String
    /// The family name, copied from the registry.
    public var surname: String
    /// The given name, copied from the registry.
    public var givenName: String
    /// The identity document's number, copied from the registry.
    public var documentNumber: String
    /// Active, suspended or revoked.
    public var status: Status
    /// When the record was created, in seconds since 1970.
    public var createdAt: Double
    /// When the identity was verified, in seconds since 1970.
    public var verifiedAt: Double
    /// How the identity was verified: `automatic`, or `moderator:<id>`.
    public var verifiedBy: String
    /// Whether a PIN is set (the hash itself never leaves the records).
    public var hasPIN: Bool
    /// Wrong PINs in a row since the last right one.
    public var pinFailures: Int
    /// Whether wrong PINs have locked the record.
    public var pinLocked: Bool
    /// The patronymic, from the registry, when the person has one.
    public var patronymic: String? = nil
    /// Where the identity-document step stands (``DocumentStepState``); until it is `done`, and the
    /// policy requires it, the Digital ID files no application.
    public var documentState: DocumentStepState = .pending

    /// Creates a record value.
    ///
    /// - Parameters:
    ///   - iin: the person's IIN.
    ///   - surname: the family name.
    ///   - givenName: the given name.
    ///   - documentNumber: the identity document's number.
    ///   - status: active, suspended or revoked.
    ///   - createdAt: when the record was created.
    ///   - verifiedAt: when the identity was verified.
    ///   - verifiedBy: `automatic` or `moderator:<id>`.
    ///   - hasPIN: whether a PIN is set.
    ///   - pinFailures: wrong PINs in a row.
    ///   - pinLocked: whether the PIN is locked.
    ///   - documentState: where the identity-document step stands.
    public init(iin: String, surname: String, givenName: String, documentNumber: String, status: Status, createdAt: Double,
                verifiedAt: Double, verifiedBy: String, hasPIN: Bool, pinFailures: Int, pinLocked: Bool, patronymic: String? = nil,
                documentState: DocumentStepState = .pending) {
        self.patronymic = patronymic
        self.documentState = documentState
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

    /// Whether the verification passed without a moderator.
    public var automaticallyVerified: Bool { verifiedBy == "automatic" }
}

/// PIN rules: exactly 6 digits, not all the same, not a straight run.
public enum PINPolicy {
    /// Wrong PINs in a row that lock the record.
    public static let maxFailures = 5

    /// Checks a PIN against the rules.
    ///
    /// - Parameter pin: the PIN as typed.
    /// - Throws: ``DigitalIDError`` with the first rule the PIN breaks: `.pinNotSixDigits`, `.pinAllSame`, `.pinSequence`.
    public static func check(_ pin: String) throws(DigitalIDError) {
        let digits = pin.compactMap { $0.isASCII ? $0.wholeNumberValue : nil }
        guard pin.count == 6, digits.count == 6 else { throw DigitalIDError(.pinNotSixDigits, "the PIN must be exactly 6 digits") }
        if Set(digits).count == 1 { throw DigitalIDError(.pinAllSame, "the PIN must not repeat one digit") }
        let steps = zip(digits, digits.dropFirst()).map { $1 - $0 }
        if steps.allSatisfy({ $0 == 1 }) || steps.allSatisfy({ $0 == -1 }) {
            throw DigitalIDError(.pinSequence, "the PIN must not be a run like 123456 or 654321")
        }
    }
}

/// What a PIN check found.
public enum PINCheck: Sendable, Hashable {
    /// The PIN matched; the counter is reset.
    case accepted
    /// The PIN was wrong; `attemptsLeft` more wrong ones lock the record.
    case wrong(attemptsLeft: Int)
    /// The record is locked; the PIN was not checked against it.
    case locked
    /// No PIN is set.
    case notSet
}

/// A consent: the applicant lets a service read identity data for a scope, until a time.
public struct Consent: Sendable, Hashable, Codable {
    /// The consent's id, `consent-` and 20 hex digits.
    public var id: String
    /// The owner's IIN.
    public var iin: String
    /// What it allows, e.g. ``caIdentityScope``.
    public var scope: String
    /// When it was granted, in seconds since 1970.
    public var grantedAt: Double
    /// When it runs out, in seconds since 1970.
    public var expiresAt: Double
    /// When the owner revoked it, if they did.
    public var revokedAt: Double?

    /// Creates a consent value.
    ///
    /// - Parameters:
    ///   - id: the consent's id.
    ///   - iin: the owner's IIN.
    ///   - scope: what it allows.
    ///   - grantedAt: when it was granted.
    ///   - expiresAt: when it runs out.
    ///   - revokedAt: when it was revoked, or `nil`.
    public init(id: String, iin: String, scope: String, grantedAt: Double, expiresAt: Double, revokedAt: Double?) {
        self.id = id
        self.iin = iin
        self.scope = scope
        self.grantedAt = grantedAt
        self.expiresAt = expiresAt
        self.revokedAt = revokedAt
    }

    /// Valid at `now` for `scope`: granted, not expired, not revoked.
    ///
    /// - Parameters:
    ///   - scope: the scope asked for.
    ///   - now: seconds since 1970.
    /// - Returns: `true` when the scope matches, `grantedAt <= now < expiresAt`, and it is not revoked.
    public func isValid(for scope: String, at now: Double) -> Bool {
        self.scope == scope && revokedAt == nil && grantedAt <= now && now < expiresAt
    }

    /// The scope the CA service asks for.
    public static let caIdentityScope = "ca.identity"
    /// The scopes a consent may name: only ones some service asks for.
    public static let knownScopes: Set<String> = [caIdentityScope]
}

/// Codes of refused Digital ID steps.
public enum DigitalIDErrorCode: String, ErrorCode {
    /// No Digital ID or consent for the IIN (404).
    case notFound = "not_found"
    /// The record's status refuses the step, or a consent's length is out of range (409).
    case invalidState = "invalid_state"
    /// The PIN breaks a ``PINPolicy`` rule (422): not 6 digits, one digit repeated, a straight run.
    case pinNotSixDigits = "pin_not_six_digits", pinAllSame = "pin_all_same", pinSequence = "pin_sequence"
    /// A PIN is already set (409).
    case conflict
    /// A consent names a scope no service asks for (422).
    case invalidScope = "invalid_scope"

    /// 404, 422 or 409, as listed on the cases (a damaged row is a `StorageError`).
    public var kind: ProblemKind {
        switch self {
        case .notFound: .notFound
        case .pinNotSixDigits, .pinAllSame, .pinSequence, .invalidScope: .invalid
        case .invalidState, .conflict: .conflict
        }
    }
}

/// A refused Digital ID step.
public typealias DigitalIDError = CodedError<DigitalIDErrorCode>

/// What can happen to a Digital ID.
public enum DigitalIDEvent: String, Sendable, Hashable, CaseIterable {
    /// `suspend`: active → suspended; `reinstate`: suspended → active; `revoke`: either → revoked.
    case suspend, reinstate, revoke
}

/// The Digital ID lifecycle, pure: active ⇄ suspended, either → revoked; a revoked record is
/// final (a new verification creates a new one, see ``creation(existing:)``).
///
/// ```swift
/// var status = try DigitalIDLifecycle.transition(from: .active, event: .suspend)   // .suspended
/// status = try DigitalIDLifecycle.transition(from: status, event: .reinstate)       // .active
/// DigitalIDLifecycle.creation(existing: .revoked)                                   // .replaceRevoked
/// ```
public enum DigitalIDLifecycle {
    /// Moves a record's status.
    ///
    /// - Parameters:
    ///   - status: the status now.
    ///   - event: what is asked.
    /// - Returns: The new status.
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
    ///
    /// `create`: no record yet; `replaceRevoked`: delete the revoked one and create anew; `keep`: leave the active
    /// or suspended one.
    public enum Creation: Sendable, Hashable { case create, replaceRevoked, keep }

    /// What a passed verification does to the person's record.
    ///
    /// - Parameter existing: the stored record's status, or `nil` if there is none.
    /// - Returns: Create, replace the revoked one, or keep.
    public static func creation(existing: DigitalIDRecord.Status?) -> Creation {
        switch existing {
        case nil: .create
        case .revoked?: .replaceRevoked
        case .active?, .suspended?: .keep
        }
    }
}

/// The identity-document step of a Digital ID (seed 001: after the video check and the PIN, the
/// applicant photographs the ID card or passport, confirms the recognised data, and it is compared
/// with the registry and the selfie).
///
/// `pending`: not done yet; `review`: a moderator has the document; `done`: it matched, or a
/// moderator approved it; `rejected`: a moderator rejected it (a new passed verification makes it
/// `pending` again).
public enum DocumentStepState: String, Sendable, Hashable, Codable, CaseIterable { case pending, review, done, rejected }

/// What can happen in the document step.
public enum DocumentStepEvent: String, Sendable, Hashable, CaseIterable {
    /// `matched`: the confirmed data and the portrait matched; `sentToReview`: a case was opened;
    /// `approved` / `rejected`: the moderator's decision; `reverified`: a new passed verification.
    case matched, sentToReview = "sent_to_review", approved, rejected, reverified
}

/// The document step's lifecycle, pure: pending → done (a match) or review (a case) → done
/// (approved) or rejected; a new passed verification makes a pending or rejected step pending
/// again and leaves a case under review, or a step done, as it is.
///
/// ```swift
/// var state = try DocumentStepLifecycle.transition(from: .pending, event: .sentToReview)   // .review
/// state = try DocumentStepLifecycle.transition(from: state, event: .approved)              // .done
/// ```
public enum DocumentStepLifecycle {
    /// Moves the step.
    ///
    /// - Parameters:
    ///   - state: the state now.
    ///   - event: what happened.
    /// - Returns: The new state.
    /// - Throws: ``DigitalIDError`` `.invalidState` for a move the table does not allow.
    public static func transition(from state: DocumentStepState, event: DocumentStepEvent) throws(DigitalIDError) -> DocumentStepState {
        switch (state, event) {
        case (.pending, .matched): return .done
        case (.pending, .sentToReview): return .review
        case (.review, .approved): return .done
        case (.review, .rejected): return .rejected
        case (.pending, .reverified), (.rejected, .reverified): return .pending
        case (.review, .reverified), (.done, .reverified): return state
        default: throw DigitalIDError(.invalidState, "the document step is \(state.rawValue): it cannot be \(event.rawValue)")
        }
    }
}

/// The wrong-PIN counter, pure: a right PIN resets it, the fifth wrong one in a row locks.
public struct PINCounter: Sendable, Hashable, Codable {
    /// Wrong PINs in a row.
    public var failures: Int
    /// Whether the record is locked.
    public var locked: Bool
    /// Creates a counter.
    ///
    /// - Parameters:
    ///   - failures: wrong PINs in a row.
    ///   - locked: whether the record is locked.
    public init(failures: Int = 0, locked: Bool = false) {
        self.failures = failures
        self.locked = locked
    }

    /// The counter after one check, and what the check found.
    /// - Parameter matches: whether the PIN matched the stored hash.
    /// - Returns: The next counter (reset on a match, one more failure otherwise) and ``PINCheck``.
    public func checked(matches: Bool) -> (counter: PINCounter, result: PINCheck) {
        if locked { return (self, .locked) }
        if matches { return (PINCounter(), .accepted) }
        let next = PINCounter(failures: failures + 1, locked: failures + 1 >= PINPolicy.maxFailures)
        return (next, next.locked ? .locked : .wrong(attemptsLeft: PINPolicy.maxFailures - next.failures))
    }
}

/// Consent limits: at most 366 days, at least a second; granting needs an active Digital ID.
public enum ConsentRules {
    /// The longest consent: 366 days, in seconds.
    public static let maxSeconds = 366.0 * 86400

    /// Checks that `scope` is one a consent may have (before a PIN is tried, so a typo costs no try).
    ///
    /// - Throws: ``DigitalIDError`` `.invalidScope`, naming the known scopes.
    public static func checkScope(_ scope: String) throws(DigitalIDError) {
        guard Consent.knownScopes.contains(scope) else {
            throw DigitalIDError(.invalidScope, "a consent's scope must be one of: \(Consent.knownScopes.sorted().joined(separator: ", "))")
        }
    }

    /// Checks that a consent may be granted.
    ///
    /// - Parameters:
    ///   - scope: what it allows: one of ``Consent/knownScopes``.
    ///   - seconds: how long the consent lasts.
    ///   - status: the Digital ID's status, or `nil` if there is none.
    /// - Throws: ``DigitalIDError`` `.invalidScope` for an unknown scope; `.invalidState` for a length outside
    ///   1 second...366 days, or when the Digital ID is not active.
    public static func checkGrant(scope: String = Consent.caIdentityScope, seconds: Double, status: DigitalIDRecord.Status?) throws(DigitalIDError) {
        try checkScope(scope)
        guard seconds > 0, seconds <= maxSeconds else { throw DigitalIDError(.invalidState, "a consent lasts between 1 second and 366 days") }
        guard status == .active else { throw DigitalIDError(.invalidState, "consent needs an active Digital ID") }
    }
}
