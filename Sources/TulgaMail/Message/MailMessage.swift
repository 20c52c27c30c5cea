public import Foundation
public import TulgaCore

/// One e-mail ready for DATA: RFC 5322 headers (the subject as RFC 2047 UTF-8 words), a
/// `text/plain; charset=utf-8` body in base64, CRLF line ends, dot-stuffed.
///
/// ```swift
/// let message = MailMessage(id: "mail-0a1b…", from: from, to: to, subject: "Заявка принята", body: text, date: clock.date)
/// let wire = message.data()   // ends with CRLF "." CRLF
/// ```
public struct MailMessage: Sendable, Hashable {
    /// The outbox id; also the `Message-ID`'s left part, so a retried message keeps its id.
    public var id: String
    /// The sender.
    public var from: MailAddress
    /// The one recipient.
    public var to: MailAddress
    /// The subject line, any Unicode.
    public var subject: String
    /// The text, any Unicode; `\n` or `\r\n` line ends.
    public var body: String
    /// The `Date:` header's time, from the injected clock.
    public var date: Date

    /// Creates a message.
    public init(id: String, from: MailAddress, to: MailAddress, subject: String, body: String, date: Date) {
        (self.id, self.from, self.to, self.subject, self.body, self.date) = (id, from, to, subject, body, date)
    }

    /// The headers and body, CRLF-terminated lines, before dot-stuffing.
    public var text: String {
        let headers = [
            "Date: " + Self.rfc5322Date(date),
            "From: <\(from.value)>",
            "To: <\(to.value)>",
            "Subject: " + Self.encodedWords(subject),
            "Message-ID: <\(id.filter { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") })@\(from.domain)>",
            "MIME-Version: 1.0",
            "Content-Type: text/plain; charset=utf-8",
            "Content-Transfer-Encoding: base64",
        ]
        let normalised = body.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\n", with: "\r\n")
        // Base64 in lines of 76 (RFC 2045).
        let encoded = Array(Data(normalised.utf8).base64EncodedString())
        let lines = stride(from: 0, to: encoded.count, by: 76).map { String(encoded[$0..<min($0 + 76, encoded.count)]) }
        return headers.joined(separator: "\r\n") + "\r\n\r\n" + lines.map { $0 + "\r\n" }.joined()
    }

    /// What goes after DATA: ``text`` with each line starting with `.` doubled, then `.` alone.
    public func data() -> Data { Data(Self.dotStuffed(text).utf8) }

    /// Doubles a leading `.` on every line and adds the terminating `CRLF.CRLF`.
    ///
    /// - Parameter text: CRLF-terminated lines.
    /// - Returns: The DATA payload.
    public static func dotStuffed(_ text: String) -> String {
        var lines = text.components(separatedBy: "\r\n")
        if lines.last == "" { lines.removeLast() }
        return lines.map { $0.hasPrefix(".") ? "." + $0 : $0 }.joined(separator: "\r\n") + "\r\n.\r\n"
    }

    /// ASCII text as it is; anything else as `=?UTF-8?B?…?=` words of at most 75 characters,
    /// split between characters, folded with CRLF and a space.
    public static func encodedWords(_ text: String) -> String {
        let oneLine = text.replacingOccurrences(of: "\r", with: " ").replacingOccurrences(of: "\n", with: " ")
        if oneLine.allSatisfy({ $0.isASCII && !$0.isNewline }), oneLine.utf8.count <= 900 { return oneLine }
        var words: [String] = [], chunk = ""
        // 45 bytes of UTF-8 become 60 characters of base64: 72 with the `=?UTF-8?B?` and `?=`.
        for character in oneLine {
            if chunk.utf8.count + String(character).utf8.count > 45 {
                words.append(chunk)
                chunk = ""
            }
            chunk.append(character)
        }
        if !chunk.isEmpty { words.append(chunk) }
        return words.map { "=?UTF-8?B?" + Data($0.utf8).base64EncodedString() + "?=" }.joined(separator: "\r\n ")
    }

    /// `Tue, 01 Dec 2026 14:03:00 +0000`.
    public static func rfc5322Date(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(secondsFromGMT: 0)
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss '+0000'"
        return formatter.string(from: date)
    }
}
