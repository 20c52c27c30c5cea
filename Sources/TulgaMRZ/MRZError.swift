public import TulgaCore

/// Codes of refused machine-readable zones: the text cannot be an MRZ, a named check digit
/// fails, or a checked date is no date.
public enum MRZErrorCode: String, ErrorCode, CaseIterable {
    /// Not 3 lines of 30 nor 2 lines of 44 of `A–Z 0–9 <`, or a fixed field holds the wrong kind of character.
    case unreadable = "mrz_unreadable"
    /// The document number's check digit fails.
    case documentNumberCheck = "check_digit_document_number"
    /// The birth date's check digit fails.
    case birthDateCheck = "check_digit_birth_date"
    /// The expiry date's check digit fails.
    case expiryDateCheck = "check_digit_expiry_date"
    /// The passport's personal number (optional data) check digit fails.
    case personalNumberCheck = "check_digit_personal_number"
    /// The composite check digit over the checked fields fails.
    case compositeCheck = "check_digit_composite"
    /// The birth or expiry date passes its check digit but is no calendar date.
    case invalidDate = "mrz_invalid_date"

    /// All are the applicant's input: 422.
    public var kind: ProblemKind { .invalid }
}

/// A refused MRZ, with the rule in words.
public typealias MRZError = CodedError<MRZErrorCode>
