import Foundation
import Testing
import TulgaCore
@testable import TulgaMail

@Suite("e-mail addresses and MIME")
struct MessageTests {
    @Test("plausible addresses are accepted, the domain lower-cased")
    func accepted() throws {
        #expect(try MailAddress(" Aigerim.B+eds@Mail.KZ ").value == "Aigerim.B+eds@mail.kz")
        #expect(try MailAddress("a@b.kz").domain == "b.kz")
    }

    @Test("malformed addresses are refused with invalid_email, and the reason does not repeat them",
          arguments: ["", "plain", "a@b", "a@@b.kz", "a b@c.kz", ".a@b.kz", "a..b@c.kz", "a@-b.kz", "a@b.123", "аб@в.kz",
                      "a@b.kz\r\nBcc: x@y.kz", String(repeating: "a", count: 65) + "@b.kz", "a@" + String(repeating: "b", count: 250) + ".kz"])
    func refused(_ text: String) {
        #expect(throws: MailAddressError(.invalid, "")) { try MailAddress(text) }
        do { _ = try MailAddress(text) } catch { #expect(text.isEmpty || !error.reason.contains(text)) }
    }

    @Test("headers: RFC 2047 subject, UTF-8 base64 body, Date from the given time, Message-ID from the id")
    func mime() throws {
        let m = MailMessage(id: "mail-00ff", from: try MailAddress("noreply@tulga.kz"), to: try MailAddress("a@b.kz"),
                            subject: "Заявка на выпуск ЭЦП принята — очень длинная тема письма для проверки переноса", body: "Номер: 1\n.точка",
                            date: Date(timeIntervalSince1970: 1_800_000_000))
        let text = m.text
        #expect(text.contains("Date: Fri, 15 Jan 2027 08:00:00 +0000\r\n"))
        #expect(text.contains("Message-ID: <mail-00ff@tulga.kz>\r\n"))
        #expect(text.contains("Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n"))
        let subject = text.components(separatedBy: "\r\n").drop { !$0.hasPrefix("Subject: ") }
        let words = [String(subject.first!.dropFirst(9))] + subject.dropFirst().prefix { $0.hasPrefix(" ") }.map { String($0.dropFirst()) }
        #expect(words.count > 1 && words.allSatisfy { $0.count <= 75 && $0.hasPrefix("=?UTF-8?B?") && $0.hasSuffix("?=") })
        let decoded = words.map { String(decoding: Data(base64Encoded: String($0.dropFirst(10).dropLast(2)))!, as: UTF8.self) }.joined()
        #expect(decoded == m.subject)
        let body = text.components(separatedBy: "\r\n\r\n")[1].replacingOccurrences(of: "\r\n", with: "")
        #expect(String(decoding: Data(base64Encoded: body)!, as: UTF8.self) == "Номер: 1\r\n.точка")
    }

    @Test("dot-stuffing doubles leading dots and ends with CRLF.CRLF")
    func dots() {
        #expect(MailMessage.dotStuffed("a\r\n.b\r\n..c\r\n") == "a\r\n..b\r\n...c\r\n.\r\n")
    }

    @Test("backoff doubles from a minute and stops at an hour")
    func backoff() {
        #expect(MailDelivery.backoff(attempts: 1) == 60)
        #expect(MailDelivery.backoff(attempts: 2) == 120)
        #expect(MailDelivery.backoff(attempts: 30) == 3600)
    }

    @Test("settings: credentials need STARTTLS and a password file; from must be an address")
    func settings() {
        var s = MailSettings()
        s.enabled = true
        #expect(s.problems().contains("mail.from must be an e-mail address"))
        s.from = "noreply@tulga.kz"
        #expect(s.problems().isEmpty)
        s.username = "tulga"
        s.starttls = false
        #expect(s.problems().contains("mail.username needs mail.passwordFile"))
        #expect(s.problems().contains("mail.username needs mail.starttls: credentials are never sent without TLS"))
    }
}
