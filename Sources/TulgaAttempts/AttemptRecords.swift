public import Foundation
public import TulgaCore
public import TulgaPolicy
public import TulgaStorage
public import TulgaCrypto

/// A started attempt.
public struct AttemptTicket: Sendable, Hashable {
    /// The attempt's id, `att-` and 20 hex digits.
    public let id: String
    /// The applicant's IIN.
    public let iin: String
    /// Who runs it (`Caller.ownerTag`: a calling system's key family, or staff); `nil` for a kiosk or
    /// the service's own CLI. Only they may set the first PIN of the Digital ID a pass creates.
    public var owner: String? = nil
}

/// An applicant's attempts as the policy sees them.
public struct ApplicantStatus: Sendable, Hashable, Codable {
    /// The applicant's IIN.
    public var iin: String
    /// Recorded failed attempts.
    public var failures: Int
    /// Attempts started and not yet ended.
    public var running: Int
    /// How many attempts may still start.
    public var attemptsLeft: Int
    /// Whether the failures have reached the limit, so the service-centre path is open.
    public var inPersonUnlocked: Bool
    /// Whether an operator has accepted an in-person application.
    public var inPersonAccepted: Bool
}

/// Attempts and their per-IIN counter, the in-person acceptances and the replay ledger. Owns
/// `applicants`, `attempts`, `in_person` and `frame_signatures`. The limit is enforced in ``begin(iin:language:)``:
/// a per-IIN lock, then the pure ``AttemptCounter`` rule, in one transaction. Each running attempt
/// holds a lease (``AttemptPolicy/leaseSeconds``); one left by a crash is released, not counted, the
/// next time anyone touches that IIN, at start-up and by the background service.
///
/// ```swift
/// let attempts = AttemptRecords(context, policy: AttemptPolicy(maxAttempts: 5))
/// let ticket = try await attempts.begin(iin: iin, language: .kk)
/// // … liveness and comparison; the attempt runner ends it with `AttemptRecords.end(_:_:event:…)`
/// try await attempts.abandon(ticket, reason: "the face engine is unavailable")
/// let status = try await attempts.status(iin)   // status.attemptsLeft
/// ```
public struct AttemptRecords: Sendable {
    /// The shared database and the clock attempts are stamped with.
    public let database: any SQLDatabase, clock: any WallClock
    /// The attempt limit.
    public let policy: AttemptPolicy
    /// Creates the records.
    ///
    /// - Parameters:
    ///   - context: the database and the clock.
    ///   - policy: the attempt limit.
    public init(_ context: RecordContext, policy: AttemptPolicy) { (database, clock, self.policy) = (context.database, context.clock, policy) }

    enum Columns: String { case id, iin, failures, running, language, state, leaseUntil = "lease_until", judgedFailed = "judged_failed", owner }

    /// The attempt tables, as released in v1.
    ///
    /// - Parameter migrator: the migrator to add `attempts.v1` to.
    public static func register(_ migrator: inout Migrator) {
        migrator.registerMigration("attempts.v1", replaces: ["v1-core"], [
            """
            CREATE TABLE applicants (
              iin TEXT PRIMARY KEY, failures {INT} NOT NULL DEFAULT 0, running {INT} NOT NULL DEFAULT 0,
              language TEXT NOT NULL DEFAULT 'ru')
            """,
            """
            CREATE TABLE attempts (
              id TEXT PRIMARY KEY, iin TEXT NOT NULL, state TEXT NOT NULL, score {REAL}, liveness_passed {INT},
              started_at {REAL} NOT NULL, finished_at {REAL}, reason TEXT)
            """,
            "CREATE INDEX attempts_iin ON attempts(iin)",
            "CREATE TABLE in_person (iin TEXT PRIMARY KEY, accepted_by TEXT NOT NULL, accepted_at {REAL} NOT NULL)",
            "CREATE TABLE replay_hashes (hash TEXT PRIMARY KEY, seen_at {REAL} NOT NULL)",
        ])
        // A running attempt holds a lease: a crash can no longer leave it running for ever.
        migrator.registerMigration("attempts.v2", [
            "ALTER TABLE attempts ADD COLUMN lease_until {REAL}",
            "CREATE INDEX attempts_running ON attempts(state, lease_until)",
        ])
        // The replay guard keeps each attempt's sampled frames (sealed: they are biometric) with
        // the attempt's result; hashes of exact pixels did not survive re-encoding.
        migrator.registerMigration("attempts.v3", [
            """
            CREATE TABLE frame_signatures (
              attempt_id TEXT PRIMARY KEY, iin TEXT NOT NULL, sealed {BLOB} NOT NULL, key_id TEXT NOT NULL, created_at {REAL} NOT NULL)
            """,
            "CREATE INDEX frame_signatures_iin ON frame_signatures(iin, created_at)",
            "DROP TABLE replay_hashes",
            // A session whose liveness check had already failed when the service stopped still counts.
            "ALTER TABLE attempts ADD COLUMN judged_failed {INT}",
        ])
        // Signatures sealed by earlier builds are sealed again bound to their row, in the migration's transaction.
        migrator.registerMigration("attempts.v4", []) { try Reseal.bindEarlier($0, migration: "attempts.v4", key: \.evidence, sealed) }
        // Who ran each attempt: the first PIN of the Digital ID it creates is theirs to set.
        migrator.registerMigration("attempts.v5", ["ALTER TABLE attempts ADD COLUMN owner TEXT"])
    }

    /// Who ran an attempt (``AttemptTicket/owner``), inside the caller's transaction.
    ///
    /// - Throws: ``DatabaseFailure`` from the database.
    public static func owner(_ db: any SQLSession, attemptID: String) throws -> String? {
        try db.one("SELECT owner FROM attempts WHERE id = ?", [.text(attemptID)])?.optionalText(Columns.owner)
    }

    static func counter(_ db: any SQLSession, iin: String) throws -> AttemptCounter {
        guard let row = try db.one("SELECT failures, running FROM applicants WHERE iin = ?", [.text(iin)]) else { return AttemptCounter() }
        return AttemptCounter(failures: try row.int(Columns.failures), running: try row.int(Columns.running))
    }

    static func save(_ db: any SQLSession, iin: String, _ counter: AttemptCounter) throws {
        try db.execute("UPDATE applicants SET failures = ?, running = ? WHERE iin = ?",
                       [.int(Int64(counter.failures)), .int(Int64(counter.running)), .text(iin)])
    }

    /// Releases, inside the caller's transaction (holding the applicant's lock), every running
    /// attempt of `iin` whose lease has expired: abandoned, not counted, audited. A session left
    /// behind by a crash or `kill -9` ends this way, so it never locks the citizen out. One whose
    /// liveness check had already failed (``markFailed(_:)``) ends as the failure it was: a crash
    /// gives nobody a free try.
    ///
    /// - Parameters:
    ///   - db: the caller's transaction.
    ///   - iin: the applicant's IIN.
    ///   - policy: the attempt policy (its lease rule).
    ///   - now: the injected clock's time.
    /// - Returns: How many attempts were released.
    /// - Throws: ``DatabaseFailure``; ``StorageError`` `.damagedRow`.
    @discardableResult
    public static func releaseExpired(_ db: any SQLSession, iin: String, policy: AttemptPolicy, at now: Double) throws -> Int {
        var released = 0
        for row in try db.query("SELECT id, lease_until, COALESCE(judged_failed, 0) AS judged_failed FROM attempts WHERE iin = ? AND state = 'running'", [.text(iin)])
        where policy.leaseExpired(leaseUntil: try row.optionalDouble(Columns.leaseUntil), now: now) {
            let id = try row.text(Columns.id)
            if try row.int(Columns.judgedFailed) == 1 {
                _ = try end(db, AttemptTicket(id: id, iin: iin), event: .finish(.fail), score: nil, livenessPassed: false,
                            reason: "lease expired: the liveness check had failed before the service stopped; counted", at: now)
                try AuditLog.append(db, at: now, actor: "policy", action: "attempt.lease_expired_failed", subject: id, detail: "")
            } else {
                _ = try end(db, AttemptTicket(id: id, iin: iin), event: .abandon, score: nil, livenessPassed: nil,
                            reason: "lease expired: the session ended without a result (the service stopped); not counted", at: now)
                try AuditLog.append(db, at: now, actor: "policy", action: "attempt.lease_expired", subject: id, detail: "")
            }
            released += 1
        }
        return released
    }

    /// Releases every expired lease, one applicant per transaction (at start-up and by the
    /// background service).
    ///
    /// - Returns: How many attempts were released.
    /// - Throws: ``DatabaseFailure``; ``StorageError`` `.damagedRow`.
    @discardableResult
    public func releaseExpiredLeases() async throws -> Int {
        let now = clock.now(), policy = policy
        let iins = try await database.transaction { db in
            try db.query("SELECT DISTINCT iin FROM attempts WHERE state = 'running' AND (lease_until IS NULL OR lease_until <= ?)", [.double(now)])
                .map { try $0.text(Columns.iin) }
        }
        var released = 0
        for iin in iins {
            released += try await database.transaction { db in
                try db.lock("applicant:" + iin)
                return try Self.releaseExpired(db, iin: iin, policy: policy, at: now)
            }
        }
        return released
    }

    /// Starts an attempt if the policy leaves one free; counting is atomic per IIN.
    ///
    /// - Parameters:
    ///   - iin: the applicant's IIN.
    ///   - language: the applicant's language for SMS; stored with the applicant.
    ///   - owner: who runs it (see ``AttemptTicket/owner``).
    /// - Returns: The running attempt's ticket.
    /// - Throws: ``AttemptError`` `.attemptsExhausted` when no attempt is free, `.reviewPending` while an earlier attempt
    ///   is with a moderator; ``DatabaseFailure`` from the database;
    ///   ``StorageError`` `.damagedRow` if the counter row cannot be read; `CryptoFailure` if no id can be made.
    public func begin(iin: String, language: Language = .ru, owner: String? = nil) async throws -> AttemptTicket {
        let id = try newRecordID("att"), now = clock.now(), policy = policy
        return try await database.transaction { db in
            try db.lock("applicant:" + iin)
            try db.execute("INSERT INTO applicants (iin, language) VALUES (?, ?) ON CONFLICT (iin) DO NOTHING", [.text(iin), .text(language.rawValue)])
            try Self.releaseExpired(db, iin: iin, policy: policy, at: now)
            // One case at a time, for a day at most: nobody queues up moderator reviews for someone.
            if try db.one("SELECT id FROM attempts WHERE iin = ? AND state = ? AND finished_at > ?",
                          [.text(iin), .text(AttemptState.review.rawValue), .double(now - policy.reviewHoldSeconds)]) != nil {
                throw AttemptError(.reviewPending, "an earlier attempt is with a moderator: the result comes by SMS, and the next attempt can start after it (or a day after the attempt)")
            }
            try Self.save(db, iin: iin, try Self.counter(db, iin: iin).begin(policy))
            try db.execute("UPDATE applicants SET language = ? WHERE iin = ?", [.text(language.rawValue), .text(iin)])
            try db.execute("INSERT INTO attempts (id, iin, state, started_at, lease_until, owner) VALUES (?, ?, 'running', ?, ?, ?)",
                           [.text(id), .text(iin), .double(now), .double(now + policy.leaseSeconds), SQLValue(owner)])
            try AuditLog.append(db, at: now, actor: "applicant:\(iin)", action: "attempt.begin", subject: id, detail: "")
            return AttemptTicket(id: id, iin: iin, owner: owner)
        }
    }

    /// Notes that a running attempt's liveness check has failed, before its result is recorded:
    /// if the service stops now, the lease's expiry counts it as the failure it was.
    ///
    /// - Parameter ticket: the running attempt.
    /// - Throws: ``DatabaseFailure``.
    public func markFailed(_ ticket: AttemptTicket) async throws {
        try await database.transaction { db in
            try db.execute("UPDATE attempts SET judged_failed = 1 WHERE id = ? AND state = 'running'", [.text(ticket.id)])
        }
    }

    /// Ends a running attempt inside the caller's transaction (the attempt runner records the
    /// decision's other effects in the same one). Returns the applicant's counter afterwards.
    ///
    /// - Parameters:
    ///   - db: the caller's transaction.
    ///   - ticket: the running attempt.
    ///   - event: how it ends: `.finish(outcome)` or `.abandon`.
    ///   - score: the face-comparison score, when there is one.
    ///   - livenessPassed: whether liveness passed, when it ran.
    ///   - reason: why, in words; stored with the attempt.
    ///   - now: the injected clock's time.
    /// - Returns: The applicant's counter after the attempt ends.
    /// - Throws: ``AttemptError`` `.invalidState` if it is not running, `.notFound` if there is no such attempt;
    ///   ``StorageError`` `.damagedRow` for a damaged row; ``DatabaseFailure`` from the database.
    public static func end(_ db: any SQLSession, _ ticket: AttemptTicket, event: AttemptEvent, score: Double?, livenessPassed: Bool?,
                           reason: String, at now: Double) throws -> AttemptCounter {
        try db.lock("applicant:" + ticket.iin)
        guard let row = try db.one("SELECT state FROM attempts WHERE id = ?", [.text(ticket.id)]) else {
            throw AttemptError(.notFound, "no attempt \(ticket.id)")
        }
        let state = try AttemptLifecycle.transition(from: try row.value(Columns.state, as: AttemptState.self), event: event)
        try db.execute("UPDATE attempts SET state = ?, score = ?, liveness_passed = ?, finished_at = ?, reason = ? WHERE id = ?",
                       [.text(state.rawValue), SQLValue(score), livenessPassed.map { .int($0 ? 1 : 0) } ?? .null, .double(now),
                        .text(reason), .text(ticket.id)])
        let counter = try counter(db, iin: ticket.iin).ended(state)
        try save(db, iin: ticket.iin, counter)
        return counter
    }

    /// A moderator rejected the attempt sent to review, inside the desk's transaction: it becomes a
    /// recorded failure, so the in-person path opens after the fifth as after any other failure.
    ///
    /// - Parameters:
    ///   - db: the desk's transaction.
    ///   - attemptID: the attempt the case was opened for.
    ///   - iin: the applicant's IIN.
    ///   - reason: the moderator's reason; stored with the attempt.
    ///   - now: the injected clock's time.
    /// - Returns: The applicant's counter afterwards.
    /// - Throws: ``AttemptError`` `.notFound`, `.invalidState` if the attempt is not in review; ``StorageError``; ``DatabaseFailure``.
    public static func rejectReviewed(_ db: any SQLSession, attemptID: String, iin: String, reason: String, at now: Double) throws -> AttemptCounter {
        try db.lock("applicant:" + iin)
        guard let row = try db.one("SELECT state FROM attempts WHERE id = ? AND iin = ?", [.text(attemptID), .text(iin)]) else {
            throw AttemptError(.notFound, "no attempt \(attemptID)")
        }
        let state = try AttemptLifecycle.transition(from: try row.value(Columns.state, as: AttemptState.self), event: .reject)
        try db.execute("UPDATE attempts SET state = ?, reason = ? WHERE id = ?", [.text(state.rawValue), .text("rejected by a moderator: " + reason), .text(attemptID)])
        let counter = try counter(db, iin: iin).rejected()
        try save(db, iin: iin, counter)
        return counter
    }

    /// Releases a running attempt we could not process (our failure, not the applicant's): not counted.
    ///
    /// An attempt that has already ended is left as it is.
    ///
    /// - Parameters:
    ///   - ticket: the running attempt.
    ///   - reason: what went wrong on our side; stored and audited.
    /// - Throws: ``AttemptError`` `.notFound` if there is no such attempt; ``DatabaseFailure`` from the database.
    public func abandon(_ ticket: AttemptTicket, reason: String) async throws {
        let now = clock.now()
        try await database.transaction { db in
            do { _ = try Self.end(db, ticket, event: .abandon, score: nil, livenessPassed: nil, reason: reason, at: now) } catch let e as AttemptError
                where e.code == .invalidState { return }
            try AuditLog.append(db, at: now, actor: "policy", action: "attempt.abandon", subject: ticket.id, detail: reason)
        }
    }

    /// The applicant's language for SMS, inside another module's transaction.
    ///
    /// - Parameters:
    ///   - db: the caller's transaction.
    ///   - iin: the applicant's IIN.
    /// - Returns: The stored language; `.ru` for an unknown applicant or value.
    /// - Throws: ``DatabaseFailure`` from the database.
    public static func language(_ db: any SQLSession, iin: String) throws -> Language {
        guard let raw = try db.one("SELECT language FROM applicants WHERE iin = ?", [.text(iin)])?["language"].text else { return .ru }
        return Language(rawValue: raw) ?? .ru
    }

    /// Failures, running attempts, what is left, and the in-person path.
    ///
    /// - Parameter iin: the applicant's IIN.
    /// Expired leases are released first, so a crashed session never shows as running.
    ///
    /// - Returns: The status; an applicant never seen has no failures and every attempt left.
    /// - Throws: ``DatabaseFailure`` from the database; ``StorageError`` `.damagedRow` if the counter row cannot be read.
    public func status(_ iin: String) async throws -> ApplicantStatus {
        let policy = policy, now = clock.now()
        return try await database.transaction { db in
            try db.lock("applicant:" + iin)
            try Self.releaseExpired(db, iin: iin, policy: policy, at: now)
            let c = try Self.counter(db, iin: iin)
            let accepted = try db.one("SELECT iin FROM in_person WHERE iin = ?", [.text(iin)]) != nil
            return ApplicantStatus(iin: iin, failures: c.failures, running: c.running, attemptsLeft: policy.attemptsLeft(failures: c.failures, running: c.running),
                                   inPersonUnlocked: policy.inPersonUnlocked(failures: c.failures), inPersonAccepted: accepted)
        }
    }

    /// The in-person gate inside another module's transaction: the one ``acceptInPerson(iin:operator:)`` uses.
    ///
    /// - Parameters:
    ///   - db: the caller's transaction.
    ///   - iin: the applicant's IIN.
    ///   - policy: the attempt limit.
    /// - Throws: ``AttemptError`` `.inPersonLocked` until the recorded failures reach the limit; ``DatabaseFailure``;
    ///   ``StorageError`` `.damagedRow` if the counter row cannot be read.
    public static func checkInPerson(_ db: any SQLSession, iin: String, policy: AttemptPolicy) throws {
        try counter(db, iin: iin).checkInPerson(policy)
    }

    /// An operator accepts an in-person application; refused until the attempts are used up.
    ///
    /// - Parameters:
    ///   - iin: the applicant's IIN.
    ///   - operatorID: the operator who accepts it; audited.
    /// - Throws: ``AttemptError`` `.inPersonLocked` until the failures reach the limit; ``DatabaseFailure`` from the database;
    ///   ``StorageError`` `.damagedRow` if the counter row cannot be read.
    public func acceptInPerson(iin: String, operator operatorID: String) async throws {
        let now = clock.now(), policy = policy
        try await database.transaction { db in
            try db.lock("applicant:" + iin)
            try Self.counter(db, iin: iin).checkInPerson(policy)
            try db.execute("INSERT INTO in_person (iin, accepted_by, accepted_at) VALUES (?, ?, ?) ON CONFLICT (iin) DO NOTHING",
                           [.text(iin), .text(operatorID), .double(now)])
            try AuditLog.append(db, at: now, actor: "operator:\(operatorID)", action: "in_person.accept", subject: iin, detail: "")
        }
    }

    /// The replay ledger, inside the attempt runner's transaction (holding the applicant's lock):
    /// the sealed frame signatures of the IIN's latest attempts, newest first.
    ///
    /// - Parameters:
    ///   - db: the caller's transaction.
    ///   - iin: the applicant's IIN.
    ///   - key: the evidence key.
    ///   - limit: how many attempts to read.
    /// - Returns: Each attempt's encoded signatures, opened.
    /// - Throws: ``DatabaseFailure``; ``StorageError`` `.damagedRow`; `CryptoFailure` for a blob that does not open.
    public static func frameSignatures(_ db: any SQLSession, iin: String, key: SealingKey, limit: Int = 50) throws -> [Data] {
        try db.query("SELECT attempt_id, sealed, key_id FROM frame_signatures WHERE iin = ? ORDER BY created_at DESC LIMIT ?",
                     [.text(iin), .int(Int64(limit))]).map { row in
            try key.open(try row.blob(SignatureColumns.sealed), keyID: try row.text(SignatureColumns.keyID),
                         for: sealed.place("sealed", try row.text(SignatureColumns.attemptID)))
        }
    }

    /// Records an attempt's frame signatures, sealed to its row, in the transaction that records its result.
    ///
    /// - Parameters:
    ///   - db: the caller's transaction.
    ///   - ticket: the attempt.
    ///   - signatures: the encoded signatures, in clear; sealed here.
    ///   - key: the evidence key.
    ///   - now: the injected clock's time.
    /// - Throws: ``DatabaseFailure``; `CryptoFailure`.
    public static func recordFrameSignatures(_ db: any SQLSession, _ ticket: AttemptTicket, _ signatures: Data, key: SealingKey, at now: Double) throws {
        let blob = try key.seal(signatures, for: sealed.place("sealed", ticket.id))
        try db.execute("INSERT INTO frame_signatures (attempt_id, iin, sealed, key_id, created_at) VALUES (?, ?, ?, ?, ?)",
                       [.text(ticket.id), .text(ticket.iin), .blob(blob), .text(key.keyID), .double(now)])
    }

    /// The sealed signature column.
    public static let sealed = SealedColumns("frame_signatures", id: "attempt_id", ["sealed"])

    enum SignatureColumns: String { case sealed, keyID = "key_id", attemptID = "attempt_id" }
}
