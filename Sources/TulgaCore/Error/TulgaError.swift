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
    var line: Int { get }
}

extension TulgaError {
    public var description: String { reason }
    public var message: Message? { nil }
}

/// A module's error codes: a closed set of stable strings, each knowing its problem kind.
public protocol ErrorCode: RawRepresentable, Sendable, Hashable where RawValue == String {
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
    public let code: Code
    public let reason: String
    public let message: Message?
    public let fileID: String
    public let line: Int

    /// - Parameters:
    ///   - code: the stable code.
    ///   - reason: a sentence for a person (English unless `message` says otherwise).
    ///   - message: the catalogue entry an applicant sees, when there is one.
    public init(_ code: Code, _ reason: String, message: Message? = nil, fileID: String = #fileID, line: Int = #line) {
        self.code = code
        self.reason = reason
        self.message = message
        self.fileID = fileID
        self.line = line
    }

    /// An error whose reason is the catalogue's Russian text of `message` (the portal's words).
    public init(_ code: Code, _ message: Message, fileID: String = #fileID, line: Int = #line) {
        self.init(code, message.text(.ru), message: message, fileID: fileID, line: line)
    }

    public var errorCode: String { code.rawValue }
    public var kind: ProblemKind { code.kind }

    public static func == (a: Self, b: Self) -> Bool { a.code == b.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }
}
