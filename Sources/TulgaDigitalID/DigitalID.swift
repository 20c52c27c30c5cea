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
