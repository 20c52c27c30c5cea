import Testing
import TulgaCore
import TulgaIdentity
import TulgaMRZ

/// ICAO Doc 9303 worked examples: part 4 (TD3) and part 5 (TD1), specimen of Utopia.
enum ICAO {
    static let td3 = ["P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
                      "L898902C36UTO7408122F1204159ZE184226B<<<<<10"]
    static let td1 = ["I<UTOD231458907<<<<<<<<<<<<<<<",
                      "7408122F1204159UTO<<<<<<<<<<<6",
                      "ERIKSSON<<ANNA<MARIA<<<<<<<<<<"]
}

/// Replaces the character at `index` of `line`.
func replacing(_ lines: [String], line: Int, at index: Int, with c: Character) -> [String] {
    var copy = lines
    var chars = Array(copy[line])
    chars[index] = c
    copy[line] = String(chars)
    return copy
}

@Suite("MRZ: ICAO 9303 parsing and check digits")
struct MRZTests {
    @Test("check digits of the 9303 examples")
    func checkDigits() {
        #expect(mrzCheckDigit("L898902C3") == 6)
        #expect(mrzCheckDigit("740812") == 2)
        #expect(mrzCheckDigit("120415") == 9)
        #expect(mrzCheckDigit("ZE184226B<<<<<") == 1)
        #expect(mrzCheckDigit("D23145890") == 7)
        #expect(mrzCheckDigit("a") == nil)
    }

    @Test("TD3 worked example: every field and every check")
    func td3() throws {
        let mrz = try MRZ.parse(ICAO.td3, currentYear: 2026).validated()
        #expect(mrz.format == .td3)
        #expect(mrz.documentCode == "P" && mrz.issuingState == "UTO" && mrz.nationality == "UTO")
        #expect(mrz.documentNumber == "L898902C3")
        #expect(mrz.birthDate.description == "1974-08-12" && mrz.expiryDate.description == "2012-04-15")
        #expect(mrz.sex == "F")
        #expect(mrz.surname == "ERIKSSON" && mrz.givenNames == "ANNA MARIA")
        #expect(mrz.optionalData == "ZE184226B")
        #expect(mrz.checks.map(\.field) == [.documentNumber, .birthDate, .expiryDate, .personalNumber, .composite])
        #expect(mrz.checks.allSatisfy(\.passed) && mrz.corrections.isEmpty && mrz.iin == nil)
    }

    @Test("TD1 worked example, with its composite check digit")
    func td1() throws {
        let mrz = try MRZ.parse(ICAO.td1, currentYear: 2026).validated()
        #expect(mrz.format == .td1)
        #expect(mrz.documentCode == "I" && mrz.issuingState == "UTO" && mrz.nationality == "UTO")
        #expect(mrz.documentNumber == "D23145890")
        #expect(mrz.birthDate.description == "1974-08-12" && mrz.expiryDate.description == "2012-04-15")
        #expect(mrz.sex == "F" && mrz.surname == "ERIKSSON" && mrz.givenNames == "ANNA MARIA")
        #expect(mrz.checks.map(\.field) == [.documentNumber, .birthDate, .expiryDate, .composite])
        #expect(mrz.checks.last?.read == "6" && mrz.checks.allSatisfy(\.passed))
    }

    @Test("TD1 document number longer than 9 characters continues in optional data")
    func td1LongNumber() throws {
        // 9303-5 example: number D23145890734 (check 9) spills into optional data 1.
        let line1 = "I<UTOD23145890<7349<<<<<<<<<<<"
        let head = Array(line1)
        var lines = [line1, "3407127M9507122UTO<<<<<<<<<<<2", "STEVENSON<<PETER<JOHN<<<<<<<<<"]
        let composite = mrzCheckDigit(Array(head[5..<30]) + Array(lines[1].prefix(7)) + Array(lines[1].dropFirst(8).prefix(7))
                                      + Array(lines[1].dropFirst(18).prefix(11)))!
        lines = replacing(lines, line: 1, at: 29, with: Character(String(composite)))
        let mrz = try MRZ.parse(lines, currentYear: 2026).validated()
        #expect(mrz.documentNumber == "D23145890734" && mrz.optionalData == "")
    }

    @Test("letters read in digit fields and digits read in names are mapped back")
    func classMapping() throws {
        var lines = replacing(ICAO.td3, line: 1, at: 15, with: "O")   // 740812 → 74O812
        lines = replacing(lines, line: 0, at: 10, with: "5")          // ERIKSSON → ERIKS5ON
        let mrz = try MRZ.parse(lines, currentYear: 2026).validated()
        #expect(mrz.birthDate.raw == "740812" && mrz.surname == "ERIKSSON")
        #expect(mrz.corrections.map(\.reason) == ["class", "class"])
    }

    @Test("one confusion in the document number is corrected only because its check digit decides it")
    func swap() throws {
        let lines = replacing(ICAO.td3, line: 1, at: 5, with: "O")     // L898902C3 → L8989O2C3
        let mrz = try MRZ.parse(lines, currentYear: 2026).validated()
        #expect(mrz.documentNumber == "L898902C3")
        let fix = try #require(mrz.corrections.first)
        #expect(mrz.corrections.count == 1 && fix.line == 1 && fix.position == 5 && fix.from == "O" && fix.to == "0" && fix.reason == "check_digit")
        // LB98902C3: B→8 at 1, 8→B at 3 and 2→Z at 6 all pass every check, so none is chosen.
        let ambiguous = try MRZ.parse(replacing(ICAO.td3, line: 1, at: 1, with: "B"), currentYear: 2026)
        #expect(ambiguous.failedChecks == [.documentNumber, .composite] && ambiguous.corrections.isEmpty)
    }

    @Test("a second reading: a difference in an unchecked field is unreadable, in a checked one it is a candidate")
    func secondReading() throws {
        // Names read ERIKSSON and ERIKSS0N agree once mapped to letters; ID and IO do not.
        let same = try MRZ.parse(ICAO.td1, alternative: replacing(ICAO.td1, line: 2, at: 6, with: "0"), currentYear: 2026)
        #expect(same.failedChecks.isEmpty)
        #expect(throws: MRZError(.unreadable, "")) {
            try MRZ.parse(ICAO.td1, alternative: replacing(ICAO.td1, line: 0, at: 2, with: "O"), currentYear: 2026)
        }
        // "ID" read as "10" (mapped to "IO") and as "ID": the letter read as such is kept.
        let code = try MRZ.parse(replacing(replacing(ICAO.td1, line: 0, at: 0, with: "1"), line: 0, at: 1, with: "0"),
                                 alternative: replacing(ICAO.td1, line: 0, at: 1, with: "D"), currentYear: 2026)
        #expect(code.documentCode == "ID" && code.corrections.last?.reason == "second_reading")
        // A misread check digit: the second reading's digit is the one swap that passes.
        let composite = try MRZ.parse(replacing(ICAO.td1, line: 1, at: 29, with: "4"), alternative: ICAO.td1, currentYear: 2026).validated()
        #expect(composite.lines == ICAO.td1)
        // 7408122 read as 7408172 (no confusion pair): the second reading's 2 is the one swap that passes.
        let misread = replacing(ICAO.td3, line: 1, at: 17, with: "7")
        let fixed = try MRZ.parse(misread, alternative: ICAO.td3, currentYear: 2026).validated()
        #expect(fixed.birthDate.raw == "740812" && fixed.corrections.map(\.reason) == ["check_digit"])
        #expect(throws: MRZError(.birthDateCheck, "")) { try MRZ.parse(misread, currentYear: 2026).validated() }
    }

    @Test("a check digit that still fails is named", arguments: [
        (ICAO.td3, 1, 9, Character("7"), MRZErrorCode.documentNumberCheck),
        (ICAO.td3, 1, 16, Character("9"), .birthDateCheck),
        (ICAO.td3, 1, 22, Character("3"), .expiryDateCheck),
        (ICAO.td3, 1, 30, Character("F"), .personalNumberCheck),
        (ICAO.td3, 1, 43, Character("1"), .compositeCheck),
        (ICAO.td1, 0, 14, Character("1"), .documentNumberCheck),
        (ICAO.td1, 1, 2, Character("1"), .birthDateCheck),
        (ICAO.td1, 1, 14, Character("0"), .expiryDateCheck),
        (ICAO.td1, 0, 20, Character("X"), .compositeCheck),
        (ICAO.td1, 1, 29, Character("5"), .compositeCheck),
    ])
    func namedFailure(lines: [String], line: Int, index: Int, c: Character, code: MRZErrorCode) throws {
        let mrz = try MRZ.parse(replacing(lines, line: line, at: index, with: c), currentYear: 2026)
        #expect(throws: MRZError(code, "")) { try mrz.validated() }
        #expect(mrz.failedChecks.first?.errorCode == code)
    }

    @Test("text that is no TD1 or TD3 zone is unreadable", arguments: [
        [String](), ["P<UTO"], [ICAO.td3[0], ICAO.td1[1]], ["P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<#", ICAO.td3[1]],
    ])
    func unreadable(lines: [String]) {
        #expect(throws: MRZError(.unreadable, "")) { try MRZ.parse(lines, currentYear: 2026) }
    }

    @Test("a 12-digit optional field that passes the IIN check is read as the IIN")
    func iin() throws {
        let iin = try #require(IIN.make(year: 1990, month: 7, day: 2, male: true, serial: 1)).value
        var line1 = Array("IDKAZ012345678<" + iin + "<<<")
        let number = Array("012345678")
        line1[14] = Character(String(mrzCheckDigit(number)!))
        var line2 = Array("9007025M3401017KAZ<<<<<<<<<<<0")
        line2[6] = Character(String(mrzCheckDigit(line2[0..<6])!))
        line2[14] = Character(String(mrzCheckDigit(line2[8..<14])!))
        line2[29] = Character(String(mrzCheckDigit(Array(line1[5..<30]) + Array(line2[0..<7]) + Array(line2[8..<15]) + Array(line2[18..<29]))!))
        let mrz = try MRZ.parse([String(line1), String(line2), "ASANOV<<ERLAN<<<<<<<<<<<<<<<<<"], currentYear: 2026).validated()
        #expect(mrz.iin == iin && mrz.documentCode == "ID" && mrz.issuingState == "KAZ")
        #expect(mrz.birthDate.description == "1990-07-02" && mrz.expiryDate.description == "2034-01-01")
        // A 12-digit run failing the IIN check digit is not an IIN.
        let last = iin.last!.wholeNumberValue!
        line1[26] = Character(String((last + 1) % 10))
        let other = try MRZ.parse([String(line1), String(line2), "ASANOV<<ERLAN<<<<<<<<<<<<<<<<<"], currentYear: 2026)
        #expect(other.iin == nil)
    }

    @Test("birth century: the latest that is not in the future; expiry in 2000s")
    func century() throws {
        let mrz = try MRZ.parse(ICAO.td3, currentYear: 2073)
        #expect(mrz.birthDate.year == 1974)
        let later = try MRZ.parse(ICAO.td3, currentYear: 2074)
        #expect(later.birthDate.year == 2074)
    }
}
