/// What kind of refusal an error is, so the HTTP layer can answer without knowing the module.
public enum ProblemKind: String, Sendable, Hashable, CaseIterable {
    /// The input breaks a rule (422).
    case invalid
    /// The body cannot be parsed (400).
    case malformed
    /// Who is calling is unknown (401).
    case unauthorized
    /// The caller is known but may not do this now (403).
    case forbidden
    /// No such record (404).
    case notFound = "not_found"
    /// The record is in a state that refuses this (409).
    case conflict
    /// Too big (413).
    case tooLarge = "too_large"
    /// Too many requests (429).
    case rateLimited = "rate_limited"
    /// A dependency is missing (503).
    case unavailable
    /// Our fault (500); the reason is logged, never shown.
    case internalError = "internal"
}

/// Every module's error: a stable code, a reason in words, where it was raised, and which
/// problem it is. Equality compares the code only, so new wording never breaks a caller.
///
/// ```swift
/// catch let error as any TulgaError { print(error.errorCode, error.reason) }
/// ```
public protocol TulgaError: Error, CustomStringConvertible, Sendable {
    /// Stable, snake_case; scripts and the HTTP layer key on it.
    var errorCode: String { get }
    /// A sentence for a person.
    var reason: String { get }
    /// How the HTTP layer answers it.
    var kind: ProblemKind { get }
    /// What the applicant should read, when the refusal is theirs (localised by the catalogue).
    var message: Message? { get }
    /// Where it was raised.
    var fileID: String { get }
    /// The source line it was raised on.
    var line: Int { get }
}

extension TulgaError {
    /// The reason, so `print(error)` shows the sentence.
    public var description: String { reason }
    /// No applicant-facing message unless the error type supplies one.
    public var message: Message? { nil }
}

/// A module's error codes: a closed set of stable strings, each knowing its problem kind.
public protocol ErrorCode: RawRepresentable, Sendable, Hashable where RawValue == String {
    /// The problem kind the HTTP layer answers this code with.
    var kind: ProblemKind { get }
}

/// The error struct every domain module uses with its own `Code` enum, after swift-certificates'
/// `Error.swift`: a code, a reason, an optional applicant-facing message, `#fileID`/`#line`.
///
/// ```swift
/// public typealias IssuanceError = CodedError<IssuanceErrorCode>
/// throw IssuanceError(.password, "the password must contain at least one digit")
/// ```
public struct CodedError<Code: ErrorCode>: TulgaError, Hashable {
    /// The stable code; equality and hashing use only this.
    public let code: Code
    /// A sentence for a person, for logs and operators.
    public let reason: String
    /// The catalogue entry an applicant sees, when the refusal is theirs.
    public let message: Message?
    /// The `#fileID` of the file that raised it.
    public let fileID: String
    /// The `#line` it was raised on.
    public let line: Int

    /// Creates an error with a reason in words.
    ///
    /// - Parameters:
    ///   - code: the stable code.
    ///   - reason: a sentence for a person (English unless `message` says otherwise).
    ///   - message: the catalogue entry an applicant sees, when there is one.
    ///   - fileID: the raising file; leave the default.
    ///   - line: the raising line; leave the default.
    public init(_ code: Code, _ reason: String, message: Message? = nil, fileID: String = #fileID, line: Int = #line) {
        self.code = code
        self.reason = reason
        self.message = message
        self.fileID = fileID
        self.line = line
    }

    /// An error whose reason is the catalogue's Russian text of `message` (the portal's words).
    ///
    /// - Parameters:
    ///   - code: the stable code.
    ///   - message: the catalogue entry the applicant sees; its Russian text becomes the reason.
    ///   - fileID: the raising file; leave the default.
    ///   - line: the raising line; leave the default.
    public init(_ code: Code, _ message: Message, fileID: String = #fileID, line: Int = #line) {
        self.init(code, message.text(.ru), message: message, fileID: fileID, line: line)
    }

    /// The code's raw value, e.g. `"attempts_exhausted"`.
    public var errorCode: String { code.rawValue }
    /// The code's problem kind.
    public var kind: ProblemKind { code.kind }

    /// Compares codes only, so new wording never breaks a caller.
    public static func == (a: Self, b: Self) -> Bool { a.code == b.code }
    /// Hashes the code only, matching `==`.
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }
}
