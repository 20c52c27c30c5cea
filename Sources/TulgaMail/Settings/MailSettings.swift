public import Foundation
public import TulgaCore

/// The `mail` section: the SMTP server applicants' e-mails are handed to.
///
/// ```json
/// { "mail": { "enabled": true, "host": "smtp.example.kz", "port": 587, "starttls": true,
///             "username": "tulga", "passwordFile": "var/keys/smtp-password", "from": "noreply@example.kz" } }
/// ```
public struct MailSettings: Sendable, Hashable, Codable {
    /// Deliver e-mail at all; when `false` e-mails wait in the outbox.
    public var enabled = false
    /// The SMTP server.
    public var host = "127.0.0.1"
    /// Its port (587 for submission with STARTTLS, 25 for a local relay).
    public var port = 587
    /// Require STARTTLS before anything else is sent; the server's certificate is verified.
    public var starttls = true
    /// The login for AUTH PLAIN/LOGIN; empty sends none.
    public var username = ""
    /// A 0600 file holding the password (one line); required with `username`.
    public var passwordFile = ""
    /// The sender's address (`From:` and `MAIL FROM`).
    public var from = ""
    /// PEM certificates to trust for the server instead of the system's roots; empty uses the system's.
    public var caFile = ""
    /// Seconds to connect, and to wait for each reply.
    public var timeoutSeconds = 30.0
    /// Seconds between delivery passes in `tulga serve`.
    public var intervalSeconds = 60.0
    /// The name sent with EHLO.
    public var heloName = "localhost"

    /// Disabled, port 587 with STARTTLS.
    public init() {}

    /// Why these settings cannot deliver mail; empty when they can (or when mail is disabled).
    ///
    /// - Returns: One sentence per fault.
    public func problems() -> [String] {
        guard enabled else { return [] }
        var out: [String] = []
        if host.isEmpty { out.append("mail.host is empty") }
        if !(1...65535).contains(port) { out.append("mail.port must be 1 to 65535") }
        if (try? MailAddress(from)) == nil { out.append("mail.from must be an e-mail address") }
        if !username.isEmpty, passwordFile.isEmpty { out.append("mail.username needs mail.passwordFile") }
        if !username.isEmpty, !starttls { out.append("mail.username needs mail.starttls: credentials are never sent without TLS") }
        if !(timeoutSeconds > 0 && timeoutSeconds <= 600) { out.append("mail.timeoutSeconds must be above 0 and at most 600") }
        if !(intervalSeconds >= 1) { out.append("mail.intervalSeconds must be at least 1") }
        if heloName.isEmpty || !heloName.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "." || $0 == "-") }) {
            out.append("mail.heloName must be a host name")
        }
        return out
    }

    /// The password, read from ``passwordFile`` (0600, at most 4 KiB, one line).
    ///
    /// - Returns: The password's bytes; `nil` without a username.
    /// - Throws: ``MailError`` `.passwordFile`.
    public func password() throws(MailError) -> [UInt8]? {
        guard !username.isEmpty else { return nil }
        let data: Data?
        do { data = try PrivateFile.read(passwordFile, limit: 4096, secret: true) } catch {
            throw MailError(.passwordFile, "mail.passwordFile: \(error)")
        }
        guard let data else { throw MailError(.passwordFile, "mail.passwordFile \(passwordFile) does not exist") }
        var bytes = [UInt8](data)
        while let last = bytes.last, last == 0x0A || last == 0x0D { bytes.removeLast() }
        guard !bytes.isEmpty, !bytes.contains(0x0A), !bytes.contains(0x0D), !bytes.contains(0) else {
            throw MailError(.passwordFile, "mail.passwordFile \(passwordFile) must hold one non-empty line")
        }
        return bytes
    }
}
