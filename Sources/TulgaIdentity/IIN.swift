public import TulgaCore
/// Why an identity number was refused; each case names the rule.
/// Codes of refused identity numbers: each names the rule the number breaks.
public enum IdentityErrorCode: String, ErrorCode {
    case notTwelveDigits = "not_twelve_digits", badBirthDate = "bad_birth_date", badCenturyDigit = "bad_century_digit"
    case checksumUndefined = "checksum_undefined", checksumMismatch = "checksum_mismatch", badEntityMonth = "bad_entity_month"
    public var kind: ProblemKind { .invalid }
}

/// A refused IIN or BIN, with the rule in words.
public typealias IdentityNumberError = CodedError<IdentityErrorCode>

/// Check digit of the first 11 digits: weights 1..11 mod 11; if 10, weights 3..11,1,2 mod 11;
/// nil if that is 10 again.
public func kzCheckDigit(_ digits: [Int]) -> Int? {
    precondition(digits.count >= 11)
    let first = (0..<11).reduce(0) { $0 + digits[$1] * ($1 + 1) } % 11
    if first != 10 { return first }
    let weights = [3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2]
    let second = (0..<11).reduce(0) { $0 + digits[$1] * weights[$1] } % 11
    return second == 10 ? nil : second
}

private func digitsOf(_ text: String) throws(IdentityNumberError) -> [Int] {
    let digits = text.compactMap { $0.isASCII ? $0.wholeNumberValue : nil }
    guard text.count == 12, digits.count == 12 else { throw IdentityNumberError(.notTwelveDigits, "must be exactly 12 digits (got \(text.count) characters)") }
    return digits
}

private func checkDigit(_ digits: [Int]) throws(IdentityNumberError) {
    guard let expected = kzCheckDigit(digits) else { throw IdentityNumberError(.checksumUndefined, "the check digit cannot be computed: both weight sequences give 10") }
    guard expected == digits[11] else { throw IdentityNumberError(.checksumMismatch, "check digit is \(digits[11]), expected \(expected)") }
}

/// A Kazakh individual identification number (ИИН).
///
/// ```swift
/// let iin = try IIN("900101300005")   // check digit verified
/// iin.birthDate  // (1990, 1, 1)
/// ```
public struct IIN: Hashable, Sendable, Codable, CustomStringConvertible {
    public let value: String
    public let birthYear: Int
    public let birthMonth: Int
    public let birthDay: Int
    public let isMale: Bool

    public init(_ text: String) throws(IdentityNumberError) {
        let d = try digitsOf(text)
        let yy = d[0] * 10 + d[1], mm = d[2] * 10 + d[3], dd = d[4] * 10 + d[5]
        let century: Int
        switch d[6] {
        case 1, 2: century = 1800
        case 3, 4: century = 1900
        case 5, 6: century = 2000
        default: throw IdentityNumberError(.badCenturyDigit, "digit 7 must be 1-6 for century and sex (got \(Array(text)[6]))")
        }
        let year = century + yy
        guard (1...12).contains(mm), (1...IIN.daysIn(month: mm, year: year)).contains(dd) else {
            throw IdentityNumberError(.badBirthDate, "digits 1-6 must be a birth date YYMMDD (got \(text.prefix(6)))")
        }
        try checkDigit(d)
        value = text
        birthYear = year
        birthMonth = mm
        birthDay = dd
        isMale = d[6] % 2 == 1
    }

    public var description: String { value }

    /// Builds a valid IIN from a birth date, sex and a 4-digit serial (for fixtures); nil when
    /// no check digit exists for that serial.
    public static func make(year: Int, month: Int, day: Int, male: Bool, serial: Int) -> IIN? {
        let centuryDigit = (year / 100 - 18) * 2 + (male ? 1 : 2)
        func pad(_ v: Int, _ width: Int) -> String { String(repeating: "0", count: max(0, width - String(v).count)) + String(v) }
        let head = pad(year % 100, 2) + pad(month, 2) + pad(day, 2) + String(centuryDigit) + pad(serial % 10000, 4)
        let digits = head.compactMap(\.wholeNumberValue)
        guard digits.count == 11, let check = kzCheckDigit(digits) else { return nil }
        return try? IIN(head + String(check))
    }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }
}

/// A business identification number (БИН): 12 digits, digits 1-4 the registration year and
/// month (YYMM), and the same check digit as the IIN.
public struct BIN: Hashable, Sendable, Codable, CustomStringConvertible {
    public let value: String

    public init(_ text: String) throws(IdentityNumberError) {
        let d = try digitsOf(text)
        let mm = d[2] * 10 + d[3]
        guard (1...12).contains(mm) else { throw IdentityNumberError(.badEntityMonth, "digits 3-4 must be a registration month 01-12 (got \(String(Array(text)[2...3])))") }
        try checkDigit(d)
        value = text
    }

    public var description: String { value }
}
