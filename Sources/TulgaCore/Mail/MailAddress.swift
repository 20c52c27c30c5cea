import Foundation

/// A plausible e-mail address: ASCII, one `@`, a dot-atom local part of at most 64 characters,
/// a domain of at least two DNS labels, 254 characters in all. The domain is lower-cased; the
/// local part is kept as typed. It is personal data: reasons never repeat it.
///
/// ```swift
/// let address = try MailAddress("Aigerim.B@Mail.KZ")   // address.value == "Aigerim.B@mail.kz"
/// ```
public struct MailAddress: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The address, domain lower-cased.
    public let value: String
    /// The longest address accepted (RFC 5321's path limit less the angle brackets).
    public static let maxLength = 254

    /// Checks `text` (surrounding blanks dropped).
    ///
    /// - Parameter text: the address as typed.
    /// - Throws: ``MailAddressError`` `.invalid` naming the broken rule.
    public init(_ text: String) throws(MailAddressError) {
        let text = text.trimmingCharacters(in: .whitespaces)
        func refuse(_ why: String) -> MailAddressError { MailAddressError(.invalid, "the e-mail address \(why)") }
        guard !text.isEmpty else { throw refuse("is empty") }
        guard text.utf8.count <= Self.maxLength else { throw refuse("is longer than \(Self.maxLength) characters") }
        guard text.allSatisfy({ $0.isASCII && !$0.isWhitespace && !$0.isNewline }) else {
            throw refuse("may hold only ASCII letters, digits and punctuation, without spaces")
        }
        let parts = text.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2 else { throw refuse("must contain exactly one @") }
        let (local, domain) = (parts[0], parts[1].lowercased())
        let atext = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+/=?^_`{|}~-")
        guard (1...64).contains(local.count) else { throw refuse("needs 1 to 64 characters before the @") }
        guard local.split(separator: ".", omittingEmptySubsequences: false).allSatisfy({ !$0.isEmpty && $0.allSatisfy(atext.contains) }) else {
            throw refuse("has a character, or a dot, not allowed before the @")
        }
        let labels = domain.split(separator: ".", omittingEmptySubsequences: false)
        guard labels.count >= 2 else { throw refuse("needs a domain with a dot after the @") }
        let letters = Set("abcdefghijklmnopqrstuvwxyz0123456789-")
        guard labels.allSatisfy({ (1...63).contains($0.count) && $0.allSatisfy(letters.contains) && $0.first != "-" && $0.last != "-" }) else {
            throw refuse("has a domain that is not a host name")
        }
        guard let top = labels.last, !top.allSatisfy(\.isNumber) else { throw refuse("has a numeric top-level domain") }
        value = local + "@" + domain
    }

    /// The domain, after the `@`.
    public var domain: String { String(value[value.index(after: value.lastIndex(of: "@") ?? value.startIndex)...]) }
    /// The address.
    public var description: String { value }
}

/// Codes of refused e-mail addresses.
public enum MailAddressErrorCode: String, ErrorCode {
    /// Not a plausible address (422).
    case invalid = "invalid_email"
    /// Always ``ProblemKind/invalid``.
    public var kind: ProblemKind { .invalid }
}

/// A refused e-mail address; the reason names the rule, never the address.
public typealias MailAddressError = CodedError<MailAddressErrorCode>
