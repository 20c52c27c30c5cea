/// The value ICAO 9303 gives a character: digits 0–9, `A`–`Z` 10–35, `<` 0; nil for anything else.
public func mrzValue(_ c: Character) -> Int? {
    guard let a = c.asciiValue else { return nil }
    switch a {
    case 48...57: return Int(a) - 48
    case 65...90: return Int(a) - 55
    case 60: return 0
    default: return nil
    }
}

/// The ICAO 9303 check digit of `text`: values weighted 7, 3, 1 repeating, summed, modulo 10.
/// nil if `text` holds a character outside `A–Z 0–9 <`.
///
/// ```swift
/// mrzCheckDigit("L898902C3")  // 6
/// ```
public func mrzCheckDigit<S: Sequence>(_ text: S) -> Int? where S.Element == Character {
    let weights = [7, 3, 1]
    var sum = 0
    for (i, c) in text.enumerated() {
        guard let v = mrzValue(c) else { return nil }
        sum += v * weights[i % 3]
    }
    return sum % 10
}
