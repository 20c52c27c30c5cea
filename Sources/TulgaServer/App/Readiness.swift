import Foundation
import Logging
import TulgaCore
import TulgaStorage
import TulgaConfig
import TulgaCrypto
import TulgaFace
import TulgaFlow
import TulgaIssuance

/// What `/health/ready` checks: the database answers, the models are loaded, the keys are on disk,
/// and the outbox is not stuck (SMS; e-mail too when this node delivers it). Each check gives `nil` (fine) or a reason that names no record.
struct Readiness {
    /// One check's outcome.
    struct Check: Sendable, Equatable {
        let name: String
        let problem: String?
    }

    let env: ServerEnvironment

    func run() async -> [Check] {
        var checks = [Check(name: "database", problem: await database())]
        checks.append(Check(name: "models", problem: env.sessions.pool.pipelines.isEmpty ? "no face pipeline is loaded" : nil))
        checks.append(Check(name: "keys", problem: keys()))
        checks.append(Check(name: "outbox", problem: checks[0].problem == nil ? await outbox() : "not checked: the database did not answer"))
        return checks
    }

    func database() async -> String? {
        let database = env.records.database, limit = env.config.readyDatabaseTimeoutSeconds
        let outcome = await firstOf(seconds: limit) {
            try await database.transaction { db in _ = try db.query("SELECT 1 AS one", []) }
        }
        switch outcome {
        case .finished: return nil
        case .failed(let error): return "the database did not answer: \((error as? any TulgaError)?.reason ?? "\(type(of: error))")"
        case .timedOut: return "the database did not answer within \(Self.seconds(limit)) s"
        }
    }

    func keys() -> String? {
        var missing = env.records.keys.missingFiles()
        if let ca = env.records.issuance.ca { missing += ca.missingFiles.map { "CA " + $0 } }
        return missing.isEmpty ? nil : "missing: " + missing.joined(separator: ", ")
    }

    /// SMS always; e-mail only when this node delivers it (otherwise e-mails wait by design).
    func outbox() async -> String? {
        let limit = env.config.readyOutboxMaxAgeSeconds
        var channels = [("sms", "the oldest SMS has waited", "for the gateway")]
        if env.files.mail != nil { channels.append(("email", "the oldest e-mail has waited", "for the SMTP server")) }
        do {
            for (channel, what, whom) in channels {
                guard let oldest = try await Outbox.oldestPending(env.records.database, channel: channel) else { continue }
                let waited = env.records.clock.now() - oldest
                if waited > limit { return "\(what) \(Self.seconds(waited)) s \(whom) (limit \(Self.seconds(limit)) s)" }
            }
            return nil
        } catch {
            return "the outbox cannot be read: \((error as? any TulgaError)?.reason ?? "\(type(of: error))")"
        }
    }

    static func seconds(_ value: Double) -> String { String(Int(value.rounded(.down))) }

    enum Outcome: Sendable { case finished, failed(any Error), timedOut }

    /// Runs `work` and returns its outcome, or `.timedOut` after `seconds` even if `work` does not
    /// heed cancellation (a hung connection): a probe must answer.
    func firstOf(seconds: Double, _ work: @escaping @Sendable () async throws -> Void) async -> Outcome {
        let (outcomes, sink) = AsyncStream.makeStream(of: Outcome.self)
        let worker = Task {
            do { try await work(); sink.yield(.finished) } catch { sink.yield(.failed(error)) }
        }
        let timer = Task {
            try? await Task.sleep(for: .milliseconds(Int64(seconds * 1000)))
            sink.yield(.timedOut)
        }
        var iterator = outcomes.makeAsyncIterator()
        let first = await iterator.next() ?? .timedOut
        timer.cancel()
        if case .timedOut = first { worker.cancel() }
        sink.finish()
        return first
    }
}

/// Runs the readiness checks for `/health/ready` one at a time: callers that arrive while a check
/// runs share its result, so anonymous probes cannot pile up database work. A change in what fails
/// is logged with the reasons (the HTTP answer names only the failing checks).
actor ReadinessProbe {
    private var running: Task<[Readiness.Check], Never>?
    private var reported: [String: String] = [:]

    func run(_ env: ServerEnvironment, logger: Logger) async -> [Readiness.Check] {
        if let running { return await running.value }
        let task = Task { await Readiness(env: env).run() }
        running = task
        let checks = await task.value
        running = nil
        var problems: [String: String] = [:]
        for check in checks { if let problem = check.problem { problems[check.name] = problem } }
        if problems != reported {
            reported = problems
            if problems.isEmpty { logger.notice("ready") } else {
                logger.warning("not ready", metadata: problems.mapValues { .string($0) })
            }
        }
        return checks
    }
}
