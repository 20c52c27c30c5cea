/// The two MRZ formats tulga reads (ICAO 9303 parts 4 and 5).
public enum MRZFormat: String, Sendable, Hashable, Codable {
    /// ID card: 3 lines of 30 characters.
    case td1
    /// Passport data page: 2 lines of 44 characters.
    case td3

    /// Lines in the zone.
    public var lineCount: Int { self == .td1 ? 3 : 2 }
    /// Characters per line.
    public var lineLength: Int { self == .td1 ? 30 : 44 }
}

/// The fields a check digit covers, named as refusals name them.
public enum MRZField: String, Sendable, Hashable, Codable, CaseIterable {
    case documentNumber = "document_number", birthDate = "birth_date", expiryDate = "expiry_date"
    case personalNumber = "personal_number", composite

    /// The refusal code when this field's check digit fails.
    public var errorCode: MRZErrorCode {
        switch self {
        case .documentNumber: .documentNumberCheck
        case .birthDate: .birthDateCheck
        case .expiryDate: .expiryDateCheck
        case .personalNumber: .personalNumberCheck
        case .composite: .compositeCheck
        }
    }
}

/// What a position may hold; OCR confusions are mapped to it (a digit in a name becomes a letter).
enum CharacterClass { case digit, alpha, alnum, sex }

/// A run of characters on one line.
struct Span: Hashable {
    let line: Int, start: Int, count: Int
    var range: Range<Int> { start..<(start + count) }
}

/// A check digit: the spans it covers and where the digit is.
struct CheckRule {
    let field: MRZField
    let spans: [Span]
    let digit: (line: Int, index: Int)
}

/// Positions, classes and check digits of one format.
struct Layout {
    let classes: [[CharacterClass]]
    let checks: [CheckRule]

    static func of(_ format: MRZFormat) -> Layout { format == .td1 ? td1 : td3 }

    /// The field at a position no check digit covers (names, code, state, nationality, sex); nil when covered.
    func uncheckedField(line: Int, position p: Int) -> String? {
        let covered = checks.contains { rule in
            rule.spans.contains { $0.line == line && $0.range.contains(p) } || (rule.digit.line == line && rule.digit.index == p)
        }
        if covered { return nil }
        switch (classes.count, line, p) {
        case (_, 0, 0..<2): return "document code"
        case (_, 0, 2..<5): return "issuing state"
        case (3, 1, 7), (2, 1, 20): return "sex"
        case (3, 1, 15..<18), (2, 1, 10..<13): return "nationality"
        default: return "names"
        }
    }

    private static func line(_ runs: [(CharacterClass, Int)]) -> [CharacterClass] { runs.flatMap { Array(repeating: $0.0, count: $0.1) } }

    /// ICAO 9303-5: document code, state, number, check, optional 1 | birth, check, sex, expiry,
    /// check, nationality, optional 2, composite | names.
    static let td1 = Layout(
        classes: [line([(.alpha, 5), (.alnum, 9), (.digit, 1), (.alnum, 15)]),
                  line([(.digit, 7), (.sex, 1), (.digit, 7), (.alpha, 3), (.alnum, 11), (.digit, 1)]),
                  line([(.alpha, 30)])],
        checks: [CheckRule(field: .documentNumber, spans: [Span(line: 0, start: 5, count: 9)], digit: (0, 14)),
                 CheckRule(field: .birthDate, spans: [Span(line: 1, start: 0, count: 6)], digit: (1, 6)),
                 CheckRule(field: .expiryDate, spans: [Span(line: 1, start: 8, count: 6)], digit: (1, 14)),
                 CheckRule(field: .composite,
                           spans: [Span(line: 0, start: 5, count: 25), Span(line: 1, start: 0, count: 7),
                                   Span(line: 1, start: 8, count: 7), Span(line: 1, start: 18, count: 11)],
                           digit: (1, 29))])

    /// ICAO 9303-4: code, state, names | number, check, nationality, birth, check, sex, expiry,
    /// check, personal number, check, composite.
    static let td3 = Layout(
        classes: [line([(.alpha, 44)]),
                  line([(.alnum, 9), (.digit, 1), (.alpha, 3), (.digit, 7), (.sex, 1), (.digit, 7), (.alnum, 14), (.digit, 2)])],
        checks: [CheckRule(field: .documentNumber, spans: [Span(line: 1, start: 0, count: 9)], digit: (1, 9)),
                 CheckRule(field: .birthDate, spans: [Span(line: 1, start: 13, count: 6)], digit: (1, 19)),
                 CheckRule(field: .expiryDate, spans: [Span(line: 1, start: 21, count: 6)], digit: (1, 27)),
                 CheckRule(field: .personalNumber, spans: [Span(line: 1, start: 28, count: 14)], digit: (1, 42)),
                 CheckRule(field: .composite,
                           spans: [Span(line: 1, start: 0, count: 10), Span(line: 1, start: 13, count: 7), Span(line: 1, start: 21, count: 22)],
                           digit: (1, 43))])
}
