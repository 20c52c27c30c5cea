public import Foundation
public import TulgaCrypto
public import TulgaDigitalID
public import TulgaPolicy

/// The clock the store reads; tests move a manual one.
public protocol Clock: Sendable {
    func now() -> Double
}

public struct SystemClock: Clock {
    public init() {}
    public func now() -> Double { Date().timeIntervalSince1970 }
}

/// Settings the store enforces.
public struct StoreSettings: Sendable, Hashable, Codable {
    public var attempts = AttemptPolicy()
    /// A moderator's claim lasts this long.
    public var leaseSeconds: Double = 15 * 60
    /// Open cases older than this are flagged.
    public var slaSeconds: Double = 24 * 3600
    public init() {}
}

/// A refusal from the store, in words, with a stable code.
public struct StoreError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable {
        case notFound = "not_found"
        case attemptsExhausted = "attempts_exhausted"
        case inPersonLocked = "in_person_locked"
        case invalidState = "invalid_state"
        case moderation
        case unauthorized
        case invalidPIN = "invalid_pin"
        case conflict
    }
    public let code: Code
    public let reason: String
    public init(_ code: Code, _ reason: String) {
        self.code = code
        self.reason = reason
    }
    public var description: String { reason }
    public static func == (a: StoreError, b: StoreError) -> Bool { a.code == b.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }
}

/// A registry entry: the state database's record of a person.
public struct RegistryEntry: Sendable, Hashable {
    public var iin: String
    public var surname: String
    public var givenName: String
    public var documentNumber: String
    public var phone: String?
    public var photo: Data
    public init(iin: String, surname: String, givenName: String, documentNumber: String, phone: String? = nil, photo: Data) {
        self.iin = iin
        self.surname = surname
        self.givenName = givenName
        self.documentNumber = documentNumber
        self.phone = phone
        self.photo = photo
    }
}

public struct AttemptTicket: Sendable, Hashable {
    public let id: String
    public let iin: String
}

/// The evidence a verification leaves for a moderator.
public struct Evidence: Sendable {
    public var selfie: Data?
    public var reference: Data?
    public var livenessReport: String?
    public init(selfie: Data?, reference: Data?, livenessReport: String?) {
        self.selfie = selfie
        self.reference = reference
        self.livenessReport = livenessReport
    }
}

public struct AttemptResult: Sendable, Hashable, Codable {
    public var attemptID: String
    public var outcome: AttemptOutcome
    public var attemptsLeft: Int
    public var inPersonUnlocked: Bool
    public var caseID: String?
}

public struct ApplicantStatus: Sendable, Hashable, Codable {
    public var iin: String
    public var failures: Int
    public var running: Int
    public var attemptsLeft: Int
    public var inPersonUnlocked: Bool
    public var inPersonAccepted: Bool
}

public struct CaseSummary: Sendable, Hashable, Codable {
    public var id: String
    public var iin: String
    public var state: CaseState
    public var score: Double
    public var flagReason: String
    public var createdAt: Double
    public var claimedBy: String?
    public var leaseUntil: Double?
    public var decidedBy: String?
    public var decidedAt: Double?
    public var reason: String?
    public var overSLA: Bool
    public var evidencePurged: Bool
}

/// An authenticated moderator (see `Store.authenticate`).
public struct Moderator: Sendable, Hashable, Codable {
    public var id: String
    public var role: Role
    /// The moderator's own IIN, so they never decide a case about themselves.
    public var iin: String?
    public init(id: String, role: Role, iin: String?) {
        self.id = id
        self.role = role
        self.iin = iin
    }
}

public struct OutboxMessage: Sendable, Hashable, Codable {
    public var id: String
    public var iin: String
    public var phone: String?
    public var language: String
    public var body: String
    public var createdAt: Double

    init(row: SQLRow) {
        id = row["id"].text ?? ""
        iin = row["iin"].text ?? ""
        phone = row["phone"].text
        language = row["language"].text ?? ""
        body = row["body"].text ?? ""
        createdAt = row["created_at"].double ?? 0
    }
}

public struct AuditVerification: Sendable, Hashable, Codable {
    public var rows: Int
    public var intact: Bool
    /// The first sequence number where the chain breaks, and why.
    public var brokenAt: Int?
    public var problem: String?
}

public struct ModerationStats: Sendable, Hashable, Codable {
    public var open: Int
    public var claimed: Int
    public var approved: Int
    public var rejected: Int
    public var overSLA: Int
    /// Decisions per moderator (only the caller's own for a moderator).
    public var decisionsBy: [String: Int]
}

/// tulga's records on one database: registry, attempts, moderation, Digital ID, consents,
/// outbox, audit. Every method is one transaction; state changes go through the pure rules
/// in TulgaPolicy and TulgaDigitalID and leave an audit row in the same transaction.
public final class Store: Sendable {
    public let database: any SQLDatabase
    public let cipher: EvidenceCipher
    public let settings: StoreSettings
    public let clock: any Clock

    public init(database: any SQLDatabase, cipher: EvidenceCipher, settings: StoreSettings = StoreSettings(),
                clock: any Clock = SystemClock()) async throws {
        self.database = database
        self.cipher = cipher
        self.settings = settings
        self.clock = clock
        try await migrate(database)
    }

    func newID(_ prefix: String) -> String {
        prefix + "-" + hex((try? randomBytes(10)) ?? Array(UUID().uuidString.utf8.prefix(10)))
    }

    // MARK: Registry

    public func upsertRegistry(_ entry: RegistryEntry) async throws {
        let sealed = try cipher.seal(entry.photo), keyID = cipher.keyID, now = clock.now()
        try await database.transaction { db in
            try db.execute("DELETE FROM registry WHERE iin = ?", [.text(entry.iin)])
            try db.execute("""
                INSERT INTO registry (iin, surname, given_name, document_number, phone, photo, key_id) VALUES (?, ?, ?, ?, ?, ?, ?)
                """, [.text(entry.iin), .text(entry.surname), .text(entry.givenName), .text(entry.documentNumber),
                      SQLValue(entry.phone), .blob(sealed), .text(keyID)])
            try Audit.append(db, at: now, actor: "registry", action: "registry.upsert", subject: entry.iin, detail: "")
        }
    }

    public func registryEntry(_ iin: String) async throws -> RegistryEntry? {
        let row = try await database.transaction { db in try db.one("SELECT * FROM registry WHERE iin = ?", [.text(iin)]) }
        guard let row, let sealed = row["photo"].blob, let keyID = row["key_id"].text else { return nil }
        return RegistryEntry(iin: iin, surname: row["surname"].text ?? "", givenName: row["given_name"].text ?? "",
                             documentNumber: row["document_number"].text ?? "", phone: row["phone"].text,
                             photo: try cipher.open(sealed, keyID: keyID))
    }

    // MARK: Attempts

    /// Starts an attempt if the policy allows one; counting is atomic per IIN.
    public func beginAttempt(iin: String, language: String = "ru") async throws -> AttemptTicket {
        let id = newID("att"), now = clock.now(), policy = settings.attempts
        return try await database.transaction { db in
            try db.lock("applicant:" + iin)
            try db.execute("INSERT INTO applicants (iin, language) VALUES (?, ?) ON CONFLICT (iin) DO NOTHING", [.text(iin), .text(language)])
            let row = try db.one("SELECT failures, running FROM applicants WHERE iin = ?", [.text(iin)])
            let failures = row?["failures"].int ?? 0, running = row?["running"].int ?? 0
            guard policy.mayStart(failures: failures, running: running) else {
                if policy.inPersonUnlocked(failures: failures) {
                    throw StoreError(.attemptsExhausted, "all \(policy.maxAttempts) biometric attempts are used; apply in person at a service centre")
                }
                throw StoreError(.attemptsExhausted, "\(failures) failed and \(running) running attempts leave none free (limit \(policy.maxAttempts))")
            }
            try db.execute("UPDATE applicants SET running = running + 1, language = ? WHERE iin = ?", [.text(language), .text(iin)])
            try db.execute("INSERT INTO attempts (id, iin, state, started_at) VALUES (?, ?, 'running', ?)", [.text(id), .text(iin), .double(now)])
            try Audit.append(db, at: now, actor: "applicant:\(iin)", action: "attempt.begin", subject: id, detail: "")
            return AttemptTicket(id: id, iin: iin)
        }
    }

    /// Records an attempt's outcome: a pass creates the Digital ID, a review opens a case
    /// with encrypted evidence, a failure counts toward the limit.
    public func finishAttempt(_ ticket: AttemptTicket, outcome: AttemptOutcome, score: Double?, livenessPassed: Bool,
                              reason: String, evidence: Evidence) async throws -> AttemptResult {
        let now = clock.now(), policy = settings.attempts, caseID = newID("case"), keyID = cipher.keyID
        let selfie = try evidence.selfie.map { try cipher.seal($0) }
        let reference = try evidence.reference.map { try cipher.seal($0) }
        return try await database.transaction { db in
            try db.lock("applicant:" + ticket.iin)
            guard let attempt = try db.one("SELECT state FROM attempts WHERE id = ?", [.text(ticket.id)]),
                  attempt["state"].text == "running" else {
                throw StoreError(.invalidState, "attempt \(ticket.id) is not running")
            }
            try db.execute("UPDATE attempts SET state = ?, score = ?, liveness_passed = ?, finished_at = ?, reason = ? WHERE id = ?",
                           [.text(outcome.rawValue), SQLValue(score), .int(livenessPassed ? 1 : 0), .double(now), .text(reason), .text(ticket.id)])
            try db.execute("UPDATE applicants SET running = running - 1, failures = failures + ? WHERE iin = ?",
                           [.int(outcome == .fail ? 1 : 0), .text(ticket.iin)])
            var openedCase: String?
            switch outcome {
            case .pass:
                try Self.createDigitalID(db, iin: ticket.iin, verifiedBy: "automatic", now: now)
            case .review:
                try db.execute("""
                    INSERT INTO cases (id, iin, attempt_id, state, created_at, score, flag_reason, liveness_report, selfie, reference, key_id)
                    VALUES (?, ?, ?, 'open', ?, ?, ?, ?, ?, ?, ?)
                    """, [.text(caseID), .text(ticket.iin), .text(ticket.id), .double(now), .double(score ?? 0), .text(reason),
                          SQLValue(evidence.livenessReport), SQLValue(selfie), SQLValue(reference), .text(keyID)])
                try Audit.append(db, at: now, actor: "policy", action: "case.open", subject: caseID, detail: reason)
                openedCase = caseID
            case .fail: break
            }
            try Audit.append(db, at: now, actor: "policy", action: "attempt.\(outcome.rawValue)", subject: ticket.id,
                             detail: String(format: "score=%.4f liveness=%@", score ?? -1, livenessPassed ? "passed" : "failed"))
            let row = try db.one("SELECT failures, running FROM applicants WHERE iin = ?", [.text(ticket.iin)])
            let failures = row?["failures"].int ?? 0, running = row?["running"].int ?? 0
            return AttemptResult(attemptID: ticket.id, outcome: outcome, attemptsLeft: policy.attemptsLeft(failures: failures, running: running),
                                 inPersonUnlocked: policy.inPersonUnlocked(failures: failures), caseID: openedCase)
        }
    }

    /// Releases a running attempt that could not be processed (our failure, not the applicant's):
    /// it does not count as a failed attempt.
    public func abandonAttempt(_ ticket: AttemptTicket, reason: String) async throws {
        let now = clock.now()
        try await database.transaction { db in
            try db.lock("applicant:" + ticket.iin)
            guard try db.one("SELECT state FROM attempts WHERE id = ?", [.text(ticket.id)])?["state"].text == "running" else { return }
            try db.execute("UPDATE attempts SET state = 'abandoned', finished_at = ?, reason = ? WHERE id = ?",
                           [.double(now), .text(reason), .text(ticket.id)])
            try db.execute("UPDATE applicants SET running = running - 1 WHERE iin = ?", [.text(ticket.iin)])
            try Audit.append(db, at: now, actor: "policy", action: "attempt.abandon", subject: ticket.id, detail: reason)
        }
    }

    public func applicantStatus(_ iin: String) async throws -> ApplicantStatus {
        let policy = settings.attempts
        return try await database.transaction { db in
            let row = try db.one("SELECT failures, running FROM applicants WHERE iin = ?", [.text(iin)])
            let failures = row?["failures"].int ?? 0, running = row?["running"].int ?? 0
            let accepted = try db.one("SELECT iin FROM in_person WHERE iin = ?", [.text(iin)]) != nil
            return ApplicantStatus(iin: iin, failures: failures, running: running,
                                   attemptsLeft: policy.attemptsLeft(failures: failures, running: running),
                                   inPersonUnlocked: policy.inPersonUnlocked(failures: failures), inPersonAccepted: accepted)
        }
    }

    /// An operator accepts an in-person application; refused until the attempts are used up.
    public func acceptInPerson(iin: String, operator operatorID: String) async throws {
        let now = clock.now(), policy = settings.attempts
        try await database.transaction { db in
            try db.lock("applicant:" + iin)
            let failures = try db.one("SELECT failures FROM applicants WHERE iin = ?", [.text(iin)])?["failures"].int ?? 0
            guard policy.inPersonUnlocked(failures: failures) else {
                throw StoreError(.inPersonLocked, "the in-person path opens after \(policy.maxAttempts) failed attempts; \(failures) recorded")
            }
            try db.execute("INSERT INTO in_person (iin, accepted_by, accepted_at) VALUES (?, ?, ?) ON CONFLICT (iin) DO NOTHING",
                           [.text(iin), .text(operatorID), .double(now)])
            try Audit.append(db, at: now, actor: "operator:\(operatorID)", action: "in_person.accept", subject: iin, detail: "")
        }
    }

    // MARK: Replay

    /// Records frame hashes; true if any was seen before.
    public func checkAndRecordFrames(_ hashes: [String]) async throws -> Bool {
        let now = clock.now()
        return try await database.transaction { db in
            try db.lock("replay")
            var replayed = false
            for hash in hashes {
                if try db.one("SELECT hash FROM replay_hashes WHERE hash = ?", [.text(hash)]) != nil {
                    replayed = true
                } else {
                    try db.execute("INSERT INTO replay_hashes (hash, seen_at) VALUES (?, ?)", [.text(hash), .double(now)])
                }
            }
            return replayed
        }
    }

    // MARK: Outbox

    public func outbox(iin: String? = nil) async throws -> [OutboxMessage] {
        try await database.transaction { db in
            let rows = try iin.map { try db.query("SELECT * FROM outbox WHERE iin = ? ORDER BY created_at, id", [.text($0)]) }
                ?? db.query("SELECT * FROM outbox ORDER BY created_at, id", [])
            return rows.map(OutboxMessage.init(row:))
        }
    }

    static func enqueue(_ db: any SQLSession, iin: String, language: String, body: String, now: Double) throws {
        let phone = try db.one("SELECT phone FROM registry WHERE iin = ?", [.text(iin)])?["phone"].text
        try Store.enqueueSMS(db, iin: iin, phone: phone, language: language, body: body, at: now)
    }

    /// Pending messages for the SMS gateway, marked sent in the same transaction.
    public func takePendingSMS() async throws -> [OutboxMessage] {
        let now = clock.now()
        return try await database.transaction { db in
            try db.lock("outbox")
            let rows = try db.query("SELECT * FROM outbox WHERE sent_at IS NULL ORDER BY created_at, id", [])
            try db.execute("UPDATE outbox SET sent_at = ? WHERE sent_at IS NULL", [.double(now)])
            return rows.map(OutboxMessage.init(row:))
        }
    }

    // MARK: Digital ID

    static func createDigitalID(_ db: any SQLSession, iin: String, verifiedBy: String, now: Double) throws {
        guard let person = try db.one("SELECT surname, given_name, document_number FROM registry WHERE iin = ?", [.text(iin)]) else {
            throw StoreError(.notFound, "IIN \(iin) is not in the registry")
        }
        try db.execute("DELETE FROM digital_ids WHERE iin = ? AND status = 'revoked'", [.text(iin)])
        if try db.one("SELECT iin FROM digital_ids WHERE iin = ?", [.text(iin)]) != nil { return }
        try db.execute("""
            INSERT INTO digital_ids (iin, surname, given_name, document_number, status, created_at, verified_at, verified_by)
            VALUES (?, ?, ?, ?, 'active', ?, ?, ?)
            """, [.text(iin), person["surname"], person["given_name"], person["document_number"], .double(now), .double(now), .text(verifiedBy)])
        try Audit.append(db, at: now, actor: verifiedBy == "automatic" ? "policy" : verifiedBy, action: "digital_id.create", subject: iin,
                         detail: verifiedBy)
    }

    public func digitalID(_ iin: String) async throws -> DigitalIDRecord? {
        try await database.transaction { db in
            guard let r = try db.one("SELECT * FROM digital_ids WHERE iin = ?", [.text(iin)]) else { return nil }
            return DigitalIDRecord(
                iin: iin, surname: r["surname"].text ?? "", givenName: r["given_name"].text ?? "", documentNumber: r["document_number"].text ?? "",
                status: DigitalIDRecord.Status(rawValue: r["status"].text ?? "") ?? .suspended, createdAt: r["created_at"].double ?? 0,
                verifiedAt: r["verified_at"].double ?? 0, verifiedBy: r["verified_by"].text ?? "", hasPIN: !r["pin_hash"].isNull,
                pinFailures: r["pin_failures"].int ?? 0, pinLocked: (r["pin_locked"].int ?? 0) != 0)
        }
    }

    /// Sets the PIN once (hashed with scrypt); changing it needs the old one through `checkPIN` first.
    public func setPIN(iin: String, pin: String) async throws {
        do { try PINPolicy.check(pin) } catch { throw StoreError(.invalidPIN, error.description) }
        let hash = try SecretHash.make(pin), now = clock.now()
        try await database.transaction { db in
            guard let row = try db.one("SELECT status, pin_hash FROM digital_ids WHERE iin = ?", [.text(iin)]) else {
                throw StoreError(.notFound, "no Digital ID for \(iin)")
            }
            guard row["status"].text == "active" else { throw StoreError(.invalidState, "the Digital ID is \(row["status"].text ?? "?")") }
            guard row["pin_hash"].isNull else { throw StoreError(.conflict, "a PIN is already set") }
            try db.execute("UPDATE digital_ids SET pin_hash = ?, pin_failures = 0, pin_locked = 0 WHERE iin = ?", [.text(hash), .text(iin)])
            try Audit.append(db, at: now, actor: "applicant:\(iin)", action: "digital_id.set_pin", subject: iin, detail: "")
        }
    }

    /// Checks a PIN; five wrong ones in a row lock the record.
    public func checkPIN(iin: String, pin: String) async throws -> PINCheck {
        let row = try await database.transaction { db in try db.one("SELECT pin_hash, pin_locked FROM digital_ids WHERE iin = ?", [.text(iin)]) }
        guard let row else { throw StoreError(.notFound, "no Digital ID for \(iin)") }
        if (row["pin_locked"].int ?? 0) != 0 { return .locked }
        guard let stored = row["pin_hash"].text else { return .notSet }
        let matches = SecretHash.verify(pin, against: stored)   // slow KDF outside the transaction
        let now = clock.now()
        return try await database.transaction { db in
            try db.lock("pin:" + iin)
            let current = try db.one("SELECT pin_failures, pin_locked FROM digital_ids WHERE iin = ?", [.text(iin)])
            if (current?["pin_locked"].int ?? 0) != 0 { return .locked }
            if matches {
                try db.execute("UPDATE digital_ids SET pin_failures = 0 WHERE iin = ?", [.text(iin)])
                return .accepted
            }
            let failures = (current?["pin_failures"].int ?? 0) + 1
            let locked = failures >= PINPolicy.maxFailures
            try db.execute("UPDATE digital_ids SET pin_failures = ?, pin_locked = ? WHERE iin = ?", [.int(Int64(failures)), .int(locked ? 1 : 0), .text(iin)])
            try Audit.append(db, at: now, actor: "applicant:\(iin)", action: locked ? "digital_id.pin_locked" : "digital_id.pin_wrong",
                             subject: iin, detail: "failures=\(failures)")
            return locked ? .locked : .wrong(attemptsLeft: PINPolicy.maxFailures - failures)
        }
    }

    public func setDigitalIDStatus(iin: String, status: DigitalIDRecord.Status, actor: String) async throws {
        let now = clock.now()
        try await database.transaction { db in
            guard try db.one("SELECT iin FROM digital_ids WHERE iin = ?", [.text(iin)]) != nil else { throw StoreError(.notFound, "no Digital ID for \(iin)") }
            try db.execute("UPDATE digital_ids SET status = ? WHERE iin = ?", [.text(status.rawValue), .text(iin)])
            try Audit.append(db, at: now, actor: actor, action: "digital_id.\(status.rawValue)", subject: iin, detail: "")
        }
    }

    // MARK: Consents

    public func grantConsent(iin: String, scope: String, seconds: Double) async throws -> Consent {
        let now = clock.now(), id = newID("consent")
        guard seconds > 0, seconds <= 366 * 86400 else { throw StoreError(.invalidState, "a consent lasts between 1 second and 366 days") }
        return try await database.transaction { db in
            guard let row = try db.one("SELECT status FROM digital_ids WHERE iin = ?", [.text(iin)]), row["status"].text == "active" else {
                throw StoreError(.invalidState, "consent needs an active Digital ID")
            }
            try db.execute("INSERT INTO consents (id, iin, scope, granted_at, expires_at) VALUES (?, ?, ?, ?, ?)",
                           [.text(id), .text(iin), .text(scope), .double(now), .double(now + seconds)])
            try Audit.append(db, at: now, actor: "applicant:\(iin)", action: "consent.grant", subject: id, detail: scope)
            return Consent(id: id, iin: iin, scope: scope, grantedAt: now, expiresAt: now + seconds, revokedAt: nil)
        }
    }

    public func revokeConsent(id: String, iin: String) async throws {
        let now = clock.now()
        try await database.transaction { db in
            guard try db.one("SELECT id FROM consents WHERE id = ? AND iin = ?", [.text(id), .text(iin)]) != nil else {
                throw StoreError(.notFound, "no consent \(id) for \(iin)")
            }
            try db.execute("UPDATE consents SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", [.double(now), .text(id)])
            try Audit.append(db, at: now, actor: "applicant:\(iin)", action: "consent.revoke", subject: id, detail: "")
        }
    }

    /// A valid consent for `scope` at the store's current time, if any.
    public func validConsent(iin: String, scope: String) async throws -> Consent? {
        let now = clock.now()
        let rows = try await database.transaction { db in try db.query("SELECT * FROM consents WHERE iin = ? AND scope = ?", [.text(iin), .text(scope)]) }
        return rows.map {
            Consent(id: $0["id"].text ?? "", iin: iin, scope: scope, grantedAt: $0["granted_at"].double ?? 0,
                    expiresAt: $0["expires_at"].double ?? 0, revokedAt: $0["revoked_at"].double)
        }.first { $0.isValid(for: scope, at: now) }
    }
}
