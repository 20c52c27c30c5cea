import Foundation
public import TulgaCore
import TulgaIdentity

/// A date as the MRZ writes it (`YYMMDD`), with the century resolved.
public struct MRZDate: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The six characters as read.
    public let raw: String
    /// The full year, month and day; nil when `raw` is no calendar date.
    public let year: Int?, month: Int?, day: Int?

    init(raw: String, century: (Int) -> Int) {
        self.raw = raw
        let digits = raw.compactMap { $0.isASCII ? $0.wholeNumberValue : nil }
        guard digits.count == 6 else { (year, month, day) = (nil, nil, nil); return }
        let yy = digits[0] * 10 + digits[1], mm = digits[2] * 10 + digits[3], dd = digits[4] * 10 + digits[5]
        let y = century(yy) + yy
        guard (1...12).contains(mm), (1...MRZDate.days(month: mm, year: y)).contains(dd) else { (year, month, day) = (nil, nil, nil); return }
        (year, month, day) = (y, mm, dd)
    }

    /// `YYYY-MM-DD`, or the raw characters when they are no date.
    public var description: String {
        guard let year, let month, let day else { return raw }
        func two(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(year)-\(two(month))-\(two(day))"
    }

    /// `yyyymmdd` as one number, for comparing dates; nil when no date.
    public var ordinal: Int? { year.flatMap { y in month.flatMap { m in day.map { y * 10000 + m * 100 + $0 } } } }

    static func days(month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }
}

/// One check digit as read and as computed.
public struct MRZCheck: Sendable, Hashable, Codable {
    /// The field it covers.
    public let field: MRZField
    /// The check character as read.
    public let read: String
    /// The digit the covered characters give.
    public let expected: Int
    /// Whether they agree (an empty optional field may also carry `<`).
    public let passed: Bool
}

/// One character changed from what the OCR read, and why.
public struct MRZCorrection: Sendable, Hashable, Codable {
    /// Line (0-based) and position (0-based) in the zone.
    public let line: Int, position: Int
    /// The character read and the one kept.
    public let from: String, to: String
    /// `"class"`: a letter in a digit field or the reverse; `"second_reading"`: a letter the second
    /// reading read as such where the first read a digit; `"check_digit"`: the one swap that made every check pass.
    public let reason: String
}

/// A parsed machine-readable zone (ICAO 9303 TD1 or TD3): every field, every check, every correction.
///
/// ```swift
/// let mrz = try MRZ.parse(["P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
///                          "L898902C36UTO7408122F1204159ZE184226B<<<<<10"], currentYear: 2026)
/// mrz.documentNumber          // "L898902C3"
/// try mrz.validated()         // throws the first failing check digit by name
/// ```
public struct MRZ: Sendable, Hashable, Codable {
    /// TD1 (ID card) or TD3 (passport).
    public let format: MRZFormat
    /// The lines after correction.
    public let lines: [String]
    /// The lines as read (normalised: upper case, no spaces).
    public let linesRead: [String]
    /// `P`, `I`, `ID`, `AC`…: fillers dropped.
    public let documentCode: String
    /// Three-letter issuing state, fillers dropped.
    public let issuingState: String
    /// The document number, fillers dropped (a TD1 number longer than 9 continues in optional data).
    public let documentNumber: String
    /// Birth date; the century is the latest that does not put it after `currentYear`.
    public let birthDate: MRZDate
    /// `M`, `F`, or `X` (unspecified, written `<`).
    public let sex: String
    /// Expiry date, in 2000–2099.
    public let expiryDate: MRZDate
    /// Three-letter nationality, fillers dropped.
    public let nationality: String
    /// Primary identifier; `<` inside it becomes a space.
    public let surname: String
    /// Secondary identifier; `<` inside it becomes a space.
    public let givenNames: String
    /// TD1 optional data of line 1, or TD3 personal number; fillers trimmed.
    public let optionalData: String
    /// TD1 optional data of line 2 (empty for TD3); fillers trimmed.
    public let optionalData2: String
    /// A 12-digit run in the optional data that is a valid Kazakh IIN.
    public let iin: String?
    /// Every check digit.
    public let checks: [MRZCheck]
    /// Every character changed from the OCR's reading.
    public let corrections: [MRZCorrection]

    /// The fields whose check digit fails, in the order ICAO lists them.
    public var failedChecks: [MRZField] { checks.filter { !$0.passed }.map(\.field) }

    /// Self, when every check digit passes and both dates are calendar dates.
    ///
    /// - Returns: This MRZ.
    /// - Throws: ``MRZError`` naming the first failing check digit, or `.invalidDate`.
    @discardableResult
    public func validated() throws(MRZError) -> MRZ {
        if let bad = checks.first(where: { !$0.passed }) {
            throw MRZError(bad.field.errorCode, "the \(bad.field.rawValue.replacingOccurrences(of: "_", with: " ")) check digit is \(bad.read), the field gives \(bad.expected)")
        }
        for (name, date) in [("birth", birthDate), ("expiry", expiryDate)] where date.year == nil {
            throw MRZError(.invalidDate, "the \(name) date \(date.raw) is no calendar date")
        }
        return self
    }

    /// Parses OCR'd lines: normalises, maps characters to their field's class, checks every
    /// check digit and, if some fail, tries one swap of an OCR confusion (O/0, I/1, B/8, S/5, Z/2)
    /// in the failing fields, kept only when it is the one swap that makes every check pass. A
    /// digit is turned into a letter only in a field that holds other letters.
    ///
    /// A second reading of the same cells (another OCR pass) tells uncertain characters: where it
    /// differs in a field no check digit covers, the zone is unreadable; where it differs in a
    /// checked field, its character is one more candidate for the single swap.
    ///
    /// - Parameters:
    ///   - text: the lines (3 of 30 or 2 of 44 after removing spaces).
    ///   - alternative: a second reading of the same lines, or nil.
    ///   - currentYear: resolves the birth date's century.
    /// - Returns: The fields and checks; failing checks are reported, not thrown (see ``validated()``).
    /// - Throws: ``MRZError`` `.unreadable` when the lines are no TD1 or TD3 zone, or an unchecked
    ///   field reads differently in the two readings.
    public static func parse(_ text: [String], alternative: [String]? = nil, currentYear: Int) throws(MRZError) -> MRZ {
        let read = text.map { String($0.uppercased().filter { $0 != " " }) }.filter { !$0.isEmpty }
        let format: MRZFormat
        switch (read.count, read.map(\.count)) {
        case (3, [30, 30, 30]): format = .td1
        case (2, [44, 44]): format = .td3
        default:
            throw MRZError(.unreadable, "expected 3 lines of 30 or 2 lines of 44 characters, read \(read.count) of \(read.map { String($0.count) }.joined(separator: ", "))")
        }
        var lines = read.map(Array.init)
        guard lines.allSatisfy({ $0.allSatisfy { mrzValue($0) != nil } }) else {
            throw MRZError(.unreadable, "a character outside A-Z, 0-9 and <")
        }
        let layout = Layout.of(format)
        var corrections: [MRZCorrection] = []
        for l in lines.indices {
            for p in lines[l].indices {
                let c = lines[l][p], mapped = Confusion.toClass(c, layout.classes[l][p])
                if mapped != c {
                    corrections.append(MRZCorrection(line: l, position: p, from: String(c), to: String(mapped), reason: "class"))
                    lines[l][p] = mapped
                }
            }
        }
        let sexIndex = format == .td1 ? 7 : 20
        guard lines[1][sexIndex].isSexCharacter else {
            throw MRZError(.unreadable, "the sex field holds \(lines[1][sexIndex]), not M, F or <")
        }
        // The second reading, mapped the same way: where it differs, the character is uncertain.
        // In a letter field, a letter read as such outweighs a digit mapped to a letter (OCR reads
        // "ID" as "10"); two different letters, or two different mapped digits, cannot be decided.
        var others: [[Int: Character]] = Array(repeating: [:], count: lines.count)
        let second = (alternative ?? []).map { Array(String($0.uppercased().filter { $0 != " " })) }
        let raw = read.map(Array.init)
        if second.map(\.count) == lines.map(\.count) {
            for l in lines.indices {
                for p in lines[l].indices {
                    let c = Confusion.toClass(second[l][p], layout.classes[l][p])
                    guard c != lines[l][p], mrzValue(c) != nil else { continue }
                    if let field = layout.uncheckedField(line: l, position: p) {
                        let firstDirect = raw[l][p] == lines[l][p], secondDirect = second[l][p] == c
                        if layout.classes[l][p] == .alpha, firstDirect != secondDirect {
                            if secondDirect {
                                corrections.append(MRZCorrection(line: l, position: p, from: String(lines[l][p]), to: String(c), reason: "second_reading"))
                                lines[l][p] = c
                            }
                            continue
                        }
                        throw MRZError(.unreadable, "the \(field) cannot be read with certainty: \(lines[l][p]) or \(c) at line \(l + 1), position \(p + 1)")
                    }
                    others[l][p] = c
                }
            }
        }
        var checks = evaluate(layout, lines)
        if checks.contains(where: { !$0.passed }), let swap = singleSwap(layout, lines, failing: checks, others: others) {
            corrections.append(MRZCorrection(line: swap.line, position: swap.position, from: String(lines[swap.line][swap.position]),
                                             to: String(swap.to), reason: "check_digit"))
            lines[swap.line][swap.position] = swap.to
            checks = evaluate(layout, lines)
        }
        return MRZ(format: format, lines: lines, linesRead: read, checks: checks, corrections: corrections, currentYear: currentYear)
    }

    private init(format: MRZFormat, lines: [[Character]], linesRead: [String], checks: [MRZCheck], corrections: [MRZCorrection], currentYear: Int) {
        func text(_ l: Int, _ r: Range<Int>) -> String { String(lines[l][r]) }
        func trimmed(_ s: String) -> String { String(s.reversed().drop { $0 == "<" }.reversed()).replacingOccurrences(of: "<", with: " ") }
        let birthCentury: (Int) -> Int = { yy in 2000 + yy <= currentYear ? 2000 : 1900 }
        self.format = format
        self.lines = lines.map { String($0) }
        self.linesRead = linesRead
        self.checks = checks
        self.corrections = corrections
        let names: String
        switch format {
        case .td1:
            documentCode = trimmed(text(0, 0..<2)).replacingOccurrences(of: " ", with: "")
            issuingState = trimmed(text(0, 2..<5))
            documentNumber = MRZ.td1DocumentNumber(lines).number.replacingOccurrences(of: "<", with: "")
            optionalData = MRZ.td1DocumentNumber(lines).long ? "" : trimmed(text(0, 15..<30))
            birthDate = MRZDate(raw: text(1, 0..<6), century: birthCentury)
            sex = lines[1][7] == "<" ? "X" : String(lines[1][7])
            expiryDate = MRZDate(raw: text(1, 8..<14)) { _ in 2000 }
            nationality = trimmed(text(1, 15..<18))
            optionalData2 = trimmed(text(1, 18..<29))
            names = text(2, 0..<30)
        case .td3:
            documentCode = trimmed(text(0, 0..<2)).replacingOccurrences(of: " ", with: "")
            issuingState = trimmed(text(0, 2..<5))
            names = text(0, 5..<44)
            documentNumber = text(1, 0..<9).replacingOccurrences(of: "<", with: "")
            nationality = trimmed(text(1, 10..<13))
            birthDate = MRZDate(raw: text(1, 13..<19), century: birthCentury)
            sex = lines[1][20] == "<" ? "X" : String(lines[1][20])
            expiryDate = MRZDate(raw: text(1, 21..<27)) { _ in 2000 }
            optionalData = trimmed(text(1, 28..<42))
            optionalData2 = ""
        }
        let parts = names.components(separatedBy: "<<")
        surname = trimmed(parts[0])
        givenNames = trimmed(parts.dropFirst().joined(separator: "<<")).trimmingSpaces
        let candidates = (optionalData + " " + optionalData2).split(separator: " ").map(String.init)
        iin = candidates.first { $0.count == 12 && (try? IIN($0)) != nil }
    }

    /// TD1's document number, continued in optional data 1 when its check position holds `<`
    /// (ICAO 9303-5 note j): the number's characters and where its check digit is.
    static func td1DocumentNumber(_ lines: [[Character]]) -> (number: String, check: Character, long: Bool) {
        let head = String(lines[0][5..<14])
        guard lines[0][14] == "<", lines[0][15] != "<" else { return (head, lines[0][14], false) }
        let rest = Array(lines[0][15..<30].prefix { $0 != "<" })
        guard let check = rest.last else { return (head, lines[0][14], false) }
        return (head + String(rest.dropLast()), check, true)
    }

    static func evaluate(_ layout: Layout, _ lines: [[Character]]) -> [MRZCheck] {
        layout.checks.map { rule in
            var covered = rule.spans.flatMap { lines[$0.line][$0.range] }
            var digit = lines[rule.digit.line][rule.digit.index]
            if layout.classes.count == 3, rule.field == .documentNumber {
                let long = td1DocumentNumber(lines)
                (covered, digit) = (Array(long.number), long.check)
            }
            let expected = mrzCheckDigit(covered) ?? -1
            // An empty optional field may carry a filler for its check digit (ICAO 9303-4, 4.2.2).
            let emptyOptional = rule.field == .personalNumber && digit == "<" && covered.allSatisfy { $0 == "<" }
            return MRZCheck(field: rule.field, read: String(digit), expected: expected, passed: emptyOptional || digit.wholeNumberValue == expected)
        }
    }

    /// The one confusion swap inside the failing fields that makes every check pass; nil when
    /// none does, or more than one does (the check digits cannot decide).
    static func singleSwap(_ layout: Layout, _ lines: [[Character]], failing: [MRZCheck],
                           others: [[Int: Character]] = []) -> (line: Int, position: Int, to: Character)? {
        let failed = Set(failing.filter { !$0.passed }.map(\.field))
        // The composite covers every field; its swaps are tried only when it alone fails.
        let rules = layout.checks.filter { failed.contains($0.field) && (failed == [.composite] || $0.field != .composite) }
        var positions: [(Int, Int)] = []
        var alternatives: [(Int, Int, Character)] = []
        for rule in rules {
            // The check digit itself may be the misread character.
            if let other = others.indices.contains(rule.digit.line) ? others[rule.digit.line][rule.digit.index] : nil {
                alternatives.append((rule.digit.line, rule.digit.index, other))
            }
            for span in rule.spans {
                for p in span.range {
                    // The second reading's character, wherever it differs.
                    if let other = others.indices.contains(span.line) ? others[span.line][p] : nil {
                        alternatives.append((span.line, p, other))
                    }
                    guard layout.classes[span.line][p] == .alnum else { continue }
                    // A digit becomes a letter only in a field that holds other letters: an all-digit
                    // number stays all digits, so a misread digit cannot be "fixed" into a letter.
                    let others = span.range.filter { $0 != p }.map { lines[span.line][$0] }
                    if lines[span.line][p].isNumber && !others.contains(where: \.isLetter) { continue }
                    positions.append((span.line, p))
                }
            }
        }
        var seen = Set<Int>()
        for (l, p) in positions where seen.insert(l * 100 + p).inserted {
            for alternative in Confusion.swaps(lines[l][p]) { alternatives.append((l, p, alternative)) }
        }
        var found: [(line: Int, position: Int, to: Character)] = []
        for (l, p, alternative) in alternatives where !found.contains(where: { $0.line == l && $0.position == p && $0.to == alternative }) {
            var trial = lines
            trial[l][p] = alternative
            if evaluate(layout, trial).allSatisfy(\.passed) { found.append((l, p, alternative)) }
        }
        return found.count == 1 ? found[0] : nil
    }
}

extension Character {
    var isSexCharacter: Bool { self == "M" || self == "F" || self == "<" || self == "X" }
}

extension String {
    var trimmingSpaces: String { String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed()) }
}

/// The OCR confusions between letters and digits in OCR-B.
enum Confusion {
    static let letterForDigit: [Character: Character] = ["0": "O", "1": "I", "8": "B", "5": "S", "2": "Z", "6": "G"]
    static let digitForLetter: [Character: Character] = ["O": "0", "Q": "0", "D": "0", "I": "1", "L": "1", "B": "8", "S": "5", "Z": "2", "G": "6"]

    /// The character a position of this class must hold when OCR read its look-alike.
    static func toClass(_ c: Character, _ cls: CharacterClass) -> Character {
        switch cls {
        case .digit: digitForLetter[c] ?? c
        case .alpha: letterForDigit[c] ?? c
        case .sex, .alnum: c
        }
    }

    /// The look-alikes tried in an alphanumeric field: O/0, I/1, B/8, S/5, Z/2.
    static func swaps(_ c: Character) -> [Character] {
        switch c {
        case "O": ["0"]
        case "0": ["O"]
        case "I": ["1"]
        case "1": ["I"]
        case "B": ["8"]
        case "8": ["B"]
        case "S": ["5"]
        case "5": ["S"]
        case "Z": ["2"]
        case "2": ["Z"]
        default: []
        }
    }
}
