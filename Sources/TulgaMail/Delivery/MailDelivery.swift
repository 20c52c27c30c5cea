public import TulgaCore
public import TulgaCrypto
public import TulgaStorage

/// The outbox's e-mails to the SMTP server: each due message is claimed, sent, and then marked
/// sent (its text dropped) or failed (attempts, reason, next try with backoff). Nothing is lost:
/// a refusing or absent server leaves every message pending; a crash between the server's 250 and
/// the mark may send one twice, never none.
///
/// ```swift
/// let report = try await MailDelivery.sendPending(database, key: keys.outbox, clock: clock, client: try SMTPClient(settings: mail))
/// ```
public enum MailDelivery {
    /// What one pass did.
    public struct Report: Sendable, Hashable, Codable {
        /// Messages the server accepted.
        public var sent = 0
        /// Messages tried and left pending.
        public var failed = 0
        /// The failures' reasons, by message id (no addresses, no text).
        public var errors: [String: String] = [:]
        /// Nothing yet.
        public init() {}
    }

    /// Seconds before the next try after `attempts` failures: 1, 2, 4… minutes, at most an hour.
    ///
    /// - Parameter attempts: failures so far, this one included.
    /// - Returns: The delay in seconds.
    public static func backoff(attempts: Int) -> Double { min(3600, 60 * Double(1 << min(max(attempts - 1, 0), 6))) }

    /// Sends every e-mail due now, oldest first.
    ///
    /// - Parameters:
    ///   - database: the database holding the outbox.
    ///   - key: the outbox key.
    ///   - clock: the injected clock (claims, `Date:` headers, next tries).
    ///   - client: the SMTP client.
    ///   - limit: the most messages in one pass.
    /// - Returns: How many were sent and how many failed.
    /// - Throws: ``DatabaseFailure`` or ``StorageError`` from the outbox; delivery failures are recorded, not thrown.
    public static func sendPending(_ database: any SQLDatabase, key: SealingKey, clock: any WallClock, client: SMTPClient,
                                   limit: Int = 50) async throws -> Report {
        // One message claimed at a time, just before it is sent, for longer than its connection (one
        // timeout) and dialogue (four) can last: two senders never hold the same message.
        let lease = client.settings.timeoutSeconds * 5 + 60
        var report = Report()
        for _ in 0..<max(1, limit) {
            guard let m = try await Outbox.claimMail(database, key: key, at: clock.now(), lease: lease, limit: 1).first else { break }
            do {
                guard let address = m.address, let subject = m.subject, let body = m.body else {
                    throw MailError(.protocolError, "the queued e-mail has no address, subject or text")
                }
                let to: MailAddress
                do { to = try MailAddress(address) } catch { throw MailError(.refused, "the queued address is no longer valid: \(error.reason)") }
                try await client.send(MailMessage(id: m.id, from: client.from, to: to, subject: subject, body: body, date: clock.date))
                try await Outbox.markSent(database, ids: [m.id], at: clock.now())
                report.sent += 1
            } catch let error as MailError {
                let reason = "\(error.code.rawValue): \(error.reason)"
                try await Outbox.markFailed(database, id: m.id, error: reason, retryAt: clock.now() + backoff(attempts: m.attempts + 1))
                report.failed += 1
                report.errors[m.id] = reason
            }
        }
        return report
    }
}
