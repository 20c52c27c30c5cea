import Foundation
public import Logging
public import ServiceLifecycle
public import TulgaCore
public import TulgaStorage
public import TulgaCrypto
import TulgaAttempts
import TulgaIssuance
public import TulgaMail
import TulgaModeration

/// Work that repeats on an interval as a `Service` in the server's one `ServiceGroup`, and stops
/// on graceful shutdown (SIGTERM). Each pass runs once at start, then every `interval`.
///
/// ```swift
/// let group = ServiceGroup(services: BackgroundWork.services(records, settings: .init(), logger: logger), logger: logger)
/// ```
public struct PeriodicService: Service, CustomStringConvertible {
    /// The service's name, for logs.
    public let description: String
    /// The time between passes.
    public let interval: Duration
    let logger: Logger
    let pass: @Sendable () async throws -> Int
    let onPass: (@Sendable (Int) -> Void)?

    /// Creates a service.
    ///
    /// - Parameters:
    ///   - name: the service's name, for logs.
    ///   - interval: the time between passes.
    ///   - logger: where passes that changed something, and failures, are logged.
    ///   - onPass: told after each pass (tests wait on it instead of on time).
    ///   - pass: one round of the work; returns how many records it changed.
    public init(_ name: String, every interval: Duration, logger: Logger, onPass: (@Sendable (Int) -> Void)? = nil,
                _ pass: @escaping @Sendable () async throws -> Int) {
        description = name
        self.interval = interval
        self.logger = logger
        self.pass = pass
        self.onPass = onPass
    }

    /// Runs a pass, then waits `interval`, until graceful shutdown or cancellation.
    ///
    /// A failed pass is logged and reported to `onPass` as -1; the service keeps running.
    ///
    /// - Throws: Nothing in practice; errors from a pass are logged.
    public func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                let changed = try await pass()
                if changed > 0 { logger.info("background pass", metadata: ["service": "\(description)", "changed": "\(changed)"]) }
                onPass?(changed)
            } catch {
                // The reason, not the values: tulga's errors say what failed without the data.
                logger.error("background pass failed", metadata: ["service": "\(description)",
                                                                  "error": "\((error as? any TulgaError)?.reason ?? "\(type(of: error))")"])
                onPass?(-1)
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
    }
}

/// How often background work runs, and what it does.
public struct BackgroundSettings: Sendable, Hashable, Codable {
    /// Seconds between passes of application expiry and lease expiry.
    public var intervalSeconds = 60.0
    /// Delete the evidence of cases decided this many days ago; 0 leaves it to `tulga purge`.
    public var purgeAfterDays = 0.0
    /// Hand pending SMS to this gateway spool folder; empty leaves it to `tulga sms spool`.
    public var smsSpoolFolder = ""
    /// Minutes between signed audit checkpoints (when the head moved); 0 leaves it to `tulga audit checkpoint`.
    public var checkpointMinutes = 5.0
    /// Every minute; no purge; no SMS hand-off; a checkpoint every 5 minutes.
    public init() {}
}

/// The background services next to the HTTP server.
public enum BackgroundWork {
    /// Application expiry, moderation lease expiry, attempt lease release, CRL refresh (with a CA), and (when configured)
    /// evidence purge, the SMS hand-off and e-mail delivery.
    ///
    /// - Parameters:
    ///   - records: every module's records.
    ///   - settings: the interval and the optional work.
    ///   - files: where purged review PNGs and checkpoints are, the audit-signing key (none: no checkpoints), and the
    ///     SMTP client (none: e-mails wait for `tulga mail send-pending`).
    ///   - logger: where passes are logged.
    /// - Returns: The services, for one `ServiceGroup`.
    public static func services(_ records: Records, settings: BackgroundSettings, files: ServiceFiles = ServiceFiles(), logger: Logger) -> [PeriodicService] {
        let every = Duration.milliseconds(Int64(max(1, settings.intervalSeconds) * 1000))
        var services = [
            applicationExpiry(records, every: every, logger: logger),
            PeriodicService("lease-expiry", every: every, logger: logger) { try await records.moderation.expireLeases() },
            // Its first pass runs at start-up: attempts a crash left running are released, not counted.
            PeriodicService("attempt-leases", every: every, logger: logger) { try await records.attempts.releaseExpiredLeases() },
        ]
        if let node = files.node {
            // Which keys this node seals with, so a rotation waits for it (``KeyUse``).
            services.append(PeriodicService("key-use", every: every, logger: logger) {
                try await KeyUse.report(records.database, node: node, keys: records.keys, interval: settings.intervalSeconds, at: records.clock.now())
                return 0
            })
        }
        if records.issuance.ca != nil {
            // A fresh CRL before the served one reaches its nextUpdate (it is re-signed at half time).
            services.append(PeriodicService("crl-refresh", every: every, logger: logger) { try await records.issuance.refreshCRL(); return 0 })
        }
        if settings.purgeAfterDays > 0 {
            services.append(PeriodicService("evidence-purge", every: every, logger: logger) {
                try await EvidencePurge.run(records, olderThan: settings.purgeAfterDays * 86400, reviewFolder: files.reviewFolder, actor: "policy")
            })
        }
        if settings.checkpointMinutes > 0, let signer = files.signer {
            let checkpointEvery = Duration.milliseconds(Int64(settings.checkpointMinutes * 60_000))
            services.append(PeriodicService("audit-checkpoint", every: checkpointEvery, logger: logger) {
                try await AuditLog.checkpoint(records.database, key: records.keys.audit, signer: signer, folder: files.checkpointFolder, at: records.clock.now()) == nil ? 0 : 1
            })
        }
        if !settings.smsSpoolFolder.isEmpty {
            services.append(PeriodicService("sms-hand-off", every: every, logger: logger) {
                try await SMSSpool.handOff(records, to: settings.smsSpoolFolder)
            })
        }
        if let mail = files.mail {
            services.append(mailDelivery(records, client: mail, logger: logger))
        }
        return services
    }

    /// Due e-mails to the SMTP server every ``MailSettings/intervalSeconds``; a failure is logged
    /// by message id and reason (never the address) and the message waits for its next try.
    ///
    /// - Parameters:
    ///   - records: every module's records.
    ///   - client: the SMTP client.
    ///   - logger: where passes and failures are logged.
    ///   - onPass: told after each pass, with the number sent.
    /// - Returns: The service.
    public static func mailDelivery(_ records: Records, client: SMTPClient, logger: Logger, onPass: (@Sendable (Int) -> Void)? = nil) -> PeriodicService {
        let every = Duration.milliseconds(Int64(max(1, client.settings.intervalSeconds) * 1000))
        return PeriodicService("mail-delivery", every: every, logger: logger, onPass: onPass) {
            let report = try await records.deliverMail(client)
            for (id, reason) in report.errors.sorted(by: { $0.key < $1.key }) {
                logger.warning("e-mail left pending", metadata: ["id": "\(id)", "error": "\(reason)"])
            }
            return report.sent
        }
    }

    /// In-person applications past their 30 days are expired without anyone reading them.
    ///
    /// - Parameters:
    ///   - records: every module's records.
    ///   - every: the time between passes.
    ///   - logger: where passes are logged.
    ///   - onPass: told after each pass, with the number expired.
    /// - Returns: The service.
    public static func applicationExpiry(_ records: Records, every: Duration, logger: Logger,
                                         onPass: (@Sendable (Int) -> Void)? = nil) -> PeriodicService {
        PeriodicService("application-expiry", every: every, logger: logger, onPass: onPass) { try await records.issuance.expireStale() }
    }
}

/// Where the background work finds its files.
public struct ServiceFiles: Sendable {
    /// The moderators' review PNGs.
    public var reviewFolder = "var/review"
    /// The write-once checkpoint folder.
    public var checkpointFolder = "var/audit-checkpoints"
    /// The audit-signing key; `nil` writes no checkpoints.
    public var signer: AuditSigner?
    /// This node's name in ``KeyUse``; `nil` reports nothing.
    public var node: String?
    /// The SMTP client for the `mail` section, when enabled; `nil` delivers no e-mail.
    public var mail: SMTPClient?
    /// The defaults, without a signer, a node name or mail.
    public init(reviewFolder: String = "var/review", checkpointFolder: String = "var/audit-checkpoints", signer: AuditSigner? = nil,
                node: String? = nil, mail: SMTPClient? = nil) {
        (self.reviewFolder, self.checkpointFolder, self.signer, self.node, self.mail) = (reviewFolder, checkpointFolder, signer, node, mail)
    }
}

/// Purging decided cases' evidence, with the review PNGs that show it.
public enum EvidencePurge {
    /// Purges the evidence of cases decided more than `seconds` ago, then removes every review PNG
    /// in `reviewFolder` whose case has no evidence left (these and any left by earlier purges).
    ///
    /// - Returns: How many cases were purged.
    /// - Throws: ``DatabaseFailure``.
    @discardableResult
    public static func run(_ records: Records, olderThan seconds: Double, reviewFolder: String, actor: String) async throws -> Int {
        let purged = try await records.moderation.purgeEvidence(olderThan: seconds, actor: actor)
        // Only names `moderate show` writes (`case-` and 20 hex digits): nothing else in the folder is touched.
        let pictures = ((try? FileManager.default.contentsOfDirectory(atPath: reviewFolder)) ?? []).filter { name in
            name.count == 29 && name.hasPrefix("case-") && name.hasSuffix(".png") && name.dropFirst(5).prefix(20).allSatisfy(\.isHexDigit)
        }
        let gone = try await records.moderation.withoutEvidence(pictures.map { String($0.dropLast(4)) })
        for id in gone { unlink((reviewFolder as NSString).appendingPathComponent(id + ".png")) }
        return purged.count
    }
}

/// The SMS gateway adapter: each pending message becomes a 0600 file in a spool folder.
public enum SMSSpool {
    /// Writes each pending message to a temporary name, syncs it and the folder, renames it to
    /// `<id>.sms`, and only then marks it sent (which drops its text): a failure leaves it pending.
    ///
    /// - Parameters:
    ///   - records: every module's records.
    ///   - folder: the spool folder; created with mode 0700 if needed.
    /// - Returns: How many messages were written.
    /// - Throws: ``SpoolError`` `.unwritable` when a message file cannot be written (that message and
    ///   the later ones stay pending); ``DatabaseFailure``; ``StorageError``.
    @discardableResult
    public static func handOff(_ records: Records, to folder: String) async throws -> Int {
        let messages = try await records.pendingSMS()
        do { try PrivateFile.makeFolder(folder) } catch { throw SpoolError(.unwritable, "\(error)") }
        for m in messages {
            let content = "to: \(m.phone ?? "-")\nlang: \(m.language)\n\n\(m.body ?? "")\n"
            do { try PrivateFile.replace((folder as NSString).appendingPathComponent("\(m.id).sms"), Data(content.utf8)) } catch {
                throw SpoolError(.unwritable, "\(error)")
            }
            // A crash between the rename and this leaves the file and a pending row: the message may go twice, never not at all.
            try await records.markSMSSent([m.id])
        }
        return messages.count
    }
}

/// Codes of spool failures.
public enum SpoolErrorCode: String, ErrorCode {
    /// A message file cannot be written.
    case unwritable
    /// Always ``ProblemKind/internalError``.
    public var kind: ProblemKind { .internalError }
}

/// A failure handing SMS to the spool folder.
public typealias SpoolError = CodedError<SpoolErrorCode>
