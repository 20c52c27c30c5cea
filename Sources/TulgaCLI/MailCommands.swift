import ArgumentParser
import Foundation
import TulgaConfig
import TulgaCore
import TulgaFlow
import TulgaMail

struct MailCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "mail", abstract: "Applicants' e-mails (the outbox, the mail section's SMTP server).",
                                                    subcommands: [MailSendPending.self])
}

/// One delivery pass, for cron or a node without `tulga serve`.
struct MailSendPending: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "send-pending",
        abstract: "Hand the outbox's due e-mails to the mail section's SMTP server.",
        discussion: "A message the server refuses, or cannot take (down, timeout), stays pending: its attempts, reason and next try are recorded, and a later run sends it. Exit 0 either way; the failures are listed.")
    @OptionGroup var store: StoreOptions

    func run() async throws {
        try await withStore(store) { s, configuration in
            guard configuration.mail.enabled else { throw fail("e-mail is not enabled: set mail.enabled, mail.host and mail.from in the configuration") }
            let client: SMTPClient
            do { client = try SMTPClient(settings: configuration.mail) } catch let error as MailError { throw fail(error.reason) }
            let report = try await s.deliverMail(client)
            if store.common.json { try printJSON(report); return }
            print("sent \(report.sent) e-mail(s); \(report.failed) left pending")
            for (id, reason) in report.errors.sorted(by: { $0.key < $1.key }) { print("  \(id): \(reason)") }
        }
    }
}
