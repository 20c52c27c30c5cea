import Foundation
import Testing
import TulgaCore
import TulgaIdentity

@Suite("IIN and BIN rules")
struct IdentityTests {
    @Test func validIINs() throws {
        let iin = try IIN(try #require(IIN.make(year: 1990, month: 7, day: 2, male: true, serial: 1)).value)
        #expect(iin.birthYear == 1990 && iin.birthMonth == 7 && iin.birthDay == 2 && iin.isMale)
        let woman = try #require(IIN.make(year: 2003, month: 2, day: 28, male: false, serial: 17))
        #expect(Array(woman.value)[6] == "6" && !woman.isMale && woman.birthYear == 2003)
        let old = try #require(IIN.make(year: 1899, month: 12, day: 31, male: true, serial: 5))
        #expect(Array(old.value)[6] == "1")
    }

    @Test("each invalid IIN names its rule", arguments: [
        ("12345", "exactly 12 digits"),
        ("90070230001a", "exactly 12 digits"),
        ("901302300015", "birth date YYMMDD"),
        ("900230300015", "birth date YYMMDD"),
        ("900702700015", "digit 7 must be 1-6"),
    ])
    func invalidIIN(text: String, rule: String) {
        do {
            _ = try IIN(text)
            Issue.record("\(text) accepted")
        } catch {
            #expect(error.description.contains(rule), "\(text): \(error)")
        }
    }

    @Test("a wrong check digit is named, and the second weight sequence is used")
    func checkDigit() throws {
        let valid = try #require(IIN.make(year: 1990, month: 7, day: 2, male: true, serial: 1)).value
        let last = Int(String(valid.last!))!
        let wrong = String(valid.dropLast()) + String((last + 1) % 10)
        do { _ = try IIN(wrong); Issue.record("accepted") } catch { #expect(error.description.contains("check digit is")) }
        // Find digits whose first sum is 10 mod 11: the second weights decide.
        var found = false
        for serial in 0..<3000 {
            let head = "9007023" + String(format: "%04d", serial)
            let d = head.compactMap(\.wholeNumberValue)
            let sum = (0..<11).reduce(0) { (acc: Int, i: Int) -> Int in acc + d[i] * (i + 1) }
            if sum % 11 == 10 {
                if let check = kzCheckDigit(d) {
                    #expect(throws: Never.self) { _ = try IIN(head + String(check)) }
                } else {
                    #expect(throws: IdentityNumberError(.checksumUndefined, "")) { _ = try IIN(head + "0") }
                }
                found = true
            }
        }
        #expect(found)
    }

    @Test func bin() throws {
        let head = "0405400" + "0001"
        let d = head.compactMap(\.wholeNumberValue)
        let check = try #require(kzCheckDigit(d))
        #expect(throws: Never.self) { _ = try BIN(head + String(check)) }
        do { _ = try BIN("041540000011"); Issue.record("accepted") } catch { #expect(error.description.contains("registration month")) }
        do { _ = try BIN("0405400000"); Issue.record("accepted") } catch { #expect(error.description.contains("12 digits")) }
    }
}
