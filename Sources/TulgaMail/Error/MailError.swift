public import TulgaCore

/// Codes of failures delivering e-mail. Reasons name the step and the server's reply code,
/// never an address, a password or a message's text.
public enum MailErrorCode: String, ErrorCode {
    /// The `mail` section is incomplete or contradicts itself.
    case configuration = "mail_configuration"
    /// The password file is missing, unreadable, or readable by others.
    case passwordFile = "mail_password_file"
    /// The server cannot be reached (refused, unreachable, name unknown).
    case connect = "mail_connect"
    /// The server did not answer in time.
    case timeout = "mail_timeout"
    /// The server closed the connection mid-dialogue.
    case closed = "mail_closed"
    /// A reply that is not SMTP, or longer than allowed.
    case protocolError = "mail_protocol"
    /// STARTTLS is required but not offered, or the TLS handshake or the certificate failed.
    case tls = "mail_tls"
    /// Credentials would go over a connection without TLS: refused before sending them.
    case credentialsWithoutTLS = "mail_credentials_without_tls"
    /// The server refused the credentials, or offers no mechanism we speak.
    case authentication = "mail_authentication"
    /// The server refused the message for now (4xx).
    case deferred = "mail_deferred"
    /// The server refused the message (5xx); it stays pending all the same.
    case refused = "mail_refused"

    /// Configuration faults are ours to fix; the rest are the server's side.
    public var kind: ProblemKind { self == .configuration || self == .passwordFile ? .internalError : .unavailable }
}

/// A failure delivering e-mail.
public typealias MailError = CodedError<MailErrorCode>
