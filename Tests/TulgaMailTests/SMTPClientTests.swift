import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Testing
import TulgaCore
import TulgaMail
import TulgaTestSupport

/// The client against a real aiosmtpd on loopback (scripts/smtp-test-server).
@Suite("SMTP client against aiosmtpd")
struct SMTPClientTests {
    static let from = "noreply@tulga.kz"

    static func settings(_ server: SMTPTestServer? = nil, port: Int? = nil) -> MailSettings {
        var s = MailSettings()
        (s.enabled, s.host, s.port, s.from, s.starttls, s.timeoutSeconds) = (true, "127.0.0.1", port ?? server?.port ?? 0, from, false, 600)
        if let certificate = server?.certificate { (s.starttls, s.caFile) = (true, certificate) }
        return s
    }

    static func message(_ id: String = "mail-0001", to: String = "aigerim@example.kz") throws -> MailMessage {
        MailMessage(id: id, from: try MailAddress(from), to: try MailAddress(to), subject: "ЭЦҚ өтінімі қабылданды",
                    body: "Өтінім нөмірі: 1234-5678\n.a dot line", date: Date(timeIntervalSince1970: 1_800_000_000))
    }

    /// A 0600 password file in a scratch folder.
    static func passwordFile(_ password: String) throws -> String {
        let path = Temp.dir("tulga-smtp-pw") + "/smtp-password"
        try PrivateFile.create(path, Data((password + "\n").utf8))
        return path
    }

    @Test("plain SMTP: the message arrives whole, UTF-8 subject and body, dot line intact")
    func plain() async throws {
        let server = try await SMTPTestServer.start()
        defer { server.stop() }
        try await SMTPClient(settings: Self.settings(server)).send(try Self.message())
        let received = try server.received()
        try #require(received.count == 1)
        let m = received[0]
        #expect(m.header("x-test-rcpt-to") == "aigerim@example.kz")
        #expect(m.header("x-test-mail-from") == Self.from)
        #expect(m.header("x-test-tls") == "no")
        #expect(m.subject == "ЭЦҚ өтінімі қабылданды")
        #expect(m.body == "Өтінім нөмірі: 1234-5678\r\n.a dot line")
        #expect(m.header("message-id") == "<mail-0001@tulga.kz>")
        #expect(m.header("date") == "Fri, 15 Jan 2027 08:00:00 +0000")
    }

    @Test("STARTTLS and AUTH: the certificate verified, the login accepted, the message sent over TLS")
    func startTLSAndAuth() async throws {
        let server = try await SMTPTestServer.start(tls: true, auth: ("tulga", "s3cret-pass"))
        defer { server.stop() }
        var settings = Self.settings(server)
        (settings.username, settings.passwordFile) = ("tulga", try Self.passwordFile("s3cret-pass"))
        try await SMTPClient(settings: settings).send(try Self.message())
        let received = try server.received()
        try #require(received.count == 1)
        #expect(received[0].header("x-test-tls") == "yes")
        #expect(received[0].header("x-test-login") == "tulga")

        // A wrong password is an authentication failure; nothing is delivered.
        settings.passwordFile = try Self.passwordFile("wrong")
        await #expect(throws: MailError(.authentication, "")) { try await SMTPClient(settings: settings).send(try Self.message("mail-0002")) }
        // A password file others may read is refused before connecting.
        chmod(settings.passwordFile, 0o644)
        await #expect(throws: MailError(.passwordFile, "")) { try await SMTPClient(settings: settings).send(try Self.message("mail-0003")) }
        // A certificate we do not trust fails the handshake.
        settings.caFile = ""
        settings.passwordFile = try Self.passwordFile("s3cret-pass")
        await #expect(throws: MailError(.tls, "")) { try await SMTPClient(settings: settings).send(try Self.message("mail-0004")) }
        #expect(try server.received().count == 1)
    }

    @Test("credentials are never sent without TLS: refused by the client, and by the configuration")
    func credentialsWithoutTLS() async throws {
        let server = try await SMTPTestServer.start(auth: nil)
        defer { server.stop() }
        var settings = Self.settings(server)
        (settings.username, settings.passwordFile) = ("tulga", try Self.passwordFile("s3cret-pass"))
        #expect(throws: MailError(.credentialsWithoutTLS, "")) { _ = try SMTPClient(settings: settings) }
        #expect(settings.problems().contains { $0.contains("never sent without TLS") })
        // STARTTLS required but not offered: the dialogue stops at EHLO, before any credential.
        settings.starttls = true
        await #expect(throws: MailError(.tls, "")) { try await SMTPClient(settings: settings).send(try Self.message()) }
        #expect(try server.received().isEmpty)
    }

    @Test("a refusing server: 550 is refused, 451 deferred; the reason names the step and code, not the address", arguments: ["550", "451"])
    func refusing(code: String) async throws {
        let server = try await SMTPTestServer.start(refuse: code)
        defer { server.stop() }
        let (client, message) = (try SMTPClient(settings: Self.settings(server)), try Self.message())
        do {
            try await client.send(message)
            Issue.record("sent to a refusing server")
        } catch {
            #expect(error.code == (code == "550" ? .refused : .deferred))
            #expect(error.reason.contains("MAIL FROM answered \(code)"))
            #expect(!error.reason.contains("aigerim"))
        }
    }

    /// A socket listening on a free loopback port, and the port.
    static func listener() throws -> (Int32, Int) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 } }
        guard bound, listen(fd, 4) == 0 else { close(fd); throw MailError(.connect, "cannot listen on loopback") }
        return (fd, Int(UInt16(bigEndian: address.sin_port)))
    }

    @Test("a server that accepts and never greets: a timeout, not a hang")
    func silent() async throws {
        // A listening socket nobody accepts on: the kernel completes the connection, no byte ever comes.
        let (fd, port) = try Self.listener()
        defer { close(fd) }
        var settings = Self.settings(port: port)
        settings.timeoutSeconds = 1
        await #expect(throws: MailError(.timeout, "")) { try await SMTPClient(settings: settings).send(try Self.message()) }
    }

    @Test("replies injected with STARTTLS's 220, before TLS, are refused as a TLS failure, not taken as answers")
    func injectionAfterSTARTTLS() async throws {
        // A man in the middle: offers STARTTLS, then answers it together with the replies to every later command.
        let (listener, port) = try Self.listener()
        defer { close(listener) }
        Thread {
            let c = accept(listener, nil, nil)
            guard c >= 0 else { return }
            func say(_ s: String) { _ = s.utf8CString.withUnsafeBufferPointer { write(c, $0.baseAddress, $0.count - 1) } }
            func line() { var b: UInt8 = 0; while read(c, &b, 1) == 1, b != 0x0A {} }
            say("220 fake ESMTP\r\n"); line()
            say("250-fake\r\n250 STARTTLS\r\n"); line()
            say("220 go ahead\r\n250 injected-ehlo\r\n250 mail-ok\r\n250 rcpt-ok\r\n354 go\r\n250 queued\r\n221 bye\r\n")
            var b: UInt8 = 0
            while read(c, &b, 1) == 1 {}   // until the client hangs up
            close(c)
        }.start()
        var settings = Self.settings(port: port)
        // Generous: with the whole suite running, the client's async reads can wait over a minute for one of
        // Swift's two cooperative threads here, which the idle timeout would count as a silent server.
        (settings.starttls, settings.timeoutSeconds) = (true, 600)
        do {
            try await SMTPClient(settings: settings).send(try Self.message())
            Issue.record("injected replies were taken as the server's")
        } catch let error as MailError {
            #expect(error.code == .tls && error.reason.contains("after its STARTTLS reply"), "\(error)")
        }
    }

    @Test("a server that is down: a connection failure")
    func down() async throws {
        let server = try await SMTPTestServer.start()
        let port = server.port
        server.stop()
        await #expect(throws: MailError(.connect, "")) { try await SMTPClient(settings: Self.settings(port: port)).send(try Self.message()) }
    }
}
