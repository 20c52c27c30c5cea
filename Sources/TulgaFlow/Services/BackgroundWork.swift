import Foundation
public import Logging
public import ServiceLifecycle
public import TulgaCore
import TulgaStorage
import TulgaAttempts
import TulgaIssuance
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
                logger.error("background pass failed", metadata: ["service": "\(description)", "error": "\(type(of: error))"])
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
    /// Every minute; no purge; no SMS hand-off.
    public init() {}
}

/// The background services next to the HTTP server.
public enum BackgroundWork {
    /// Application expiry, moderation lease expiry, attempt lease release, CRL refresh (with a CA), and (when configured)
    /// evidence purge and the SMS hand-off.
    ///
    /// - Parameters:
    ///   - records: every module's records.
    ///   - settings: the interval and the optional work.
    ///   - logger: where passes are logged.
    /// - Returns: The services, for one `ServiceGroup`.
    public static func services(_ records: Records, settings: BackgroundSettings, logger: Logger) -> [PeriodicService] {
        let every = Duration.milliseconds(Int64(max(1, settings.intervalSeconds) * 1000))
        var services = [
            applicationExpiry(records, every: every, logger: logger),
            PeriodicService("lease-expiry", every: every, logger: logger) { try await records.moderation.expireLeases() },
            // Its first pass runs at start-up: attempts a crash left running are released, not counted.
            PeriodicService("attempt-leases", every: every, logger: logger) { try await records.attempts.releaseExpiredLeases() },
        ]
        if records.issuance.ca != nil {
            // A fresh CRL before the served one reaches its nextUpdate (it is re-signed at half time).
            services.append(PeriodicService("crl-refresh", every: every, logger: logger) { try await records.issuance.refreshCRL(); return 0 })
        }
        if settings.purgeAfterDays > 0 {
            services.append(PeriodicService("evidence-purge", every: every, logger: logger) {
                try await records.moderation.purgeEvidence(olderThan: settings.purgeAfterDays * 86400, actor: "policy")
            })
        }
        if !settings.smsSpoolFolder.isEmpty {
            services.append(PeriodicService("sms-hand-off", every: every, logger: logger) {
                try await SMSSpool.handOff(records, to: settings.smsSpoolFolder)
            })
        }
        return services
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

/// The SMS gateway adapter: each pending message becomes a 0600 file in a spool folder.
public enum SMSSpool {
    /// Writes the pending messages, then marks them sent; returns how many.
    ///
    /// - Parameters:
    ///   - records: every module's records.
    ///   - folder: the spool folder; created with mode 0700 if needed.
    /// - Returns: How many messages were written.
    /// - Throws: ``SpoolError`` `.unwritable` when a message file cannot be written;
    ///   the file system's error if the folder cannot be created; ``DatabaseFailure``; ``StorageError``.
    @discardableResult
    public static func handOff(_ records: Records, to folder: String) async throws -> Int {
        let messages = try await records.pendingSMS()
        let fm = FileManager.default
        try fm.createDirectory(atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        for m in messages {
            let path = (folder as NSString).appendingPathComponent("\(m.id).sms")
            let content = "to: \(m.phone ?? "-")\nlang: \(m.language)\n\n\(m.body)\n"
            guard fm.createFile(atPath: path, contents: Data(content.utf8), attributes: [.posixPermissions: 0o600]) else {
                throw SpoolError(.unwritable, "cannot write \(path)")
            }
        }
        // Marked sent only once written: a crash or a bad folder loses nothing (a message may go twice).
        try await records.markSMSSent(messages.map(\.id))
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
