public import Foundation
public import TulgaCore
public import TulgaCrypto
public import TulgaPolicy
public import TulgaStorage

/// An authenticated moderator (see ``ModerationRecords/authenticate(id:secret:)``).
public struct Moderator: Sendable, Hashable, Codable {
    /// The moderator's login id.
    public var id: String
    /// Moderator or supervisor.
    public var role: Role
    /// The moderator's own IIN (every account has one), so they never see or decide a case about themselves.
    public var iin: String
    /// Creates a moderator value.
    ///
    /// - Parameters:
    ///   - id: the login id.
    ///   - role: moderator or supervisor.
    ///   - iin: the moderator's own IIN.
    public init(id: String, role: Role, iin: String) {
        self.id = id
        self.role = role
        self.iin = iin
    }
}

/// A case as a list shows it.
public struct CaseSummary: Sendable, Hashable, Codable {
    /// The case id and the applicant's IIN.
    public var id, iin: String
    /// What it is about: the face, or the identity document.
    public var kind: CaseKind
    /// The effective state: a claim whose lease ran out shows as open.
    public var state: CaseState
    /// The face-comparison score that put the case in the review band.
    public var score: Double
    /// Why the policy sent it to a moderator.
    public var flagReason: String
    /// When the case was opened, in seconds since 1970.
    public var createdAt: Double
    /// Who holds the claim and until when, while it is claimed.
    public var claimedBy: String?, leaseUntil: Double?
    /// Who decided it, when, and why, once it is decided.
    public var decidedBy: String?, decidedAt: Double?, reason: String?
    /// `overSLA`: undecided for longer than the SLA; `evidencePurged`: the selfie, reference and report (and a document case's photos and data) are deleted.
    public var overSLA, evidencePurged: Bool
}

/// A case with its decrypted evidence, for `moderate show`.
public struct CaseDetail: Sendable {
    /// The case as a list shows it.
    public var summary: CaseSummary
    /// The selfie, decrypted; `nil` once purged.
    public var selfie: Data?
    /// The registry photo, decrypted; `nil` once purged.
    public var reference: Data?
    /// The liveness report as JSON; `nil` once purged.
    public var livenessReport: String?
    /// A document case's photos (the front, or the passport page, then the back) and the recognised
    /// data with every check as JSON; `nil` for a face case and once purged.
    public var document: DocumentEvidence? = nil
}

/// What a document case keeps for the moderator, beside the selfie.
public struct DocumentEvidence: Sendable {
    /// The photo with the portrait (the ID card's front, or the passport page), plain.
    public var front: Data?
    /// The ID card's back, plain; `nil` for a passport.
    public var back: Data?
    /// The recognised data, the comparison with the registry and the portrait's score, as JSON.
    public var data: String
    /// Creates document evidence.
    ///
    /// - Parameters:
    ///   - front: the photo with the portrait, plain.
    ///   - back: the ID card's back, plain.
    ///   - data: the recognised data and every check, as JSON.
    public init(front: Data?, back: Data?, data: String) { (self.front, self.back, self.data) = (front, back, data) }
}

/// The evidence a verification leaves for a moderator.
public struct Evidence: Sendable {
    /// The selfie from the session, plain.
    public var selfie: Data?
    /// The registry photo it was compared with, plain.
    public var reference: Data?
    /// The liveness report as JSON.
    public var livenessReport: String?
    /// Creates evidence.
    ///
    /// - Parameters:
    ///   - selfie: the session's selfie, plain.
    ///   - reference: the registry photo, plain.
    ///   - livenessReport: the liveness report as JSON.
    public init(selfie: Data?, reference: Data?, livenessReport: String?) {
        self.selfie = selfie
        self.reference = reference
        self.livenessReport = livenessReport
    }
}

/// Queue figures for `moderate stats`.
public struct ModerationStats: Sendable, Hashable, Codable {
    /// Cases in each state, and undecided cases over the SLA.
    public var open, claimed, approved, rejected, overSLA: Int
    /// Decisions per moderator (only the caller's own for a moderator).
    public var decisionsBy: [String: Int]
}

/// Lease and SLA lengths.
public struct ModerationSettings: Sendable, Hashable, Codable {
    /// A moderator's claim lasts this long.
    public var leaseSeconds: Double = 15 * 60
    /// Open cases older than this are flagged.
    public var slaSeconds: Double = 24 * 3600
    /// The defaults: a 15-minute lease and a 24-hour SLA.
    public init() {}
}

/// Cases and moderators. Owns `cases` and `moderators`; the state moves only through the pure
/// ``CaseLease/transition(from:event:now:)``.
///
/// ```swift
/// let moderation = ModerationRecords(context, cipher: cipher, settings: ModerationSettings())
/// try await moderation.addModerator(id: "mod-1", role: .moderator, secret: secret, iin: "900101300017")
/// let me = try await moderation.authenticate(id: "mod-1", secret: secret)
/// let open = try await moderation.list(state: .open, as: me)
/// let claimed = try await moderation.claim(open[0].id, as: me)
/// ```
public struct ModerationRecords: Sendable {
    /// The shared database.
    public let database: any SQLDatabase
    /// Seals and opens case evidence.
    public let cipher: SealingKey
    /// Lease and SLA lengths.
    public let settings: ModerationSettings
    /// The clock leases and the SLA are measured with.
    public let clock: any WallClock

    /// Creates the records.
    ///
    /// - Parameters:
    ///   - context: the database and the clock.
    ///   - cipher: the evidence key.
    ///   - settings: lease and SLA lengths.
    public init(_ context: RecordContext, cipher: SealingKey, settings: ModerationSettings) {
        (database, clock, self.cipher, self.settings) = (context.database, context.clock, cipher, settings)
    }

    enum Columns: String {
        case id, iin, state, score, flagReason = "flag_reason", createdAt = "created_at", claimedBy = "claimed_by", attemptID = "attempt_id"
        case leaseUntil = "lease_until", decidedBy = "decided_by", decidedAt = "decided_at", reason, evidencePurged = "evidence_purged"
        case selfie, reference, livenessReport = "liveness_report", livenessSealed = "liveness_sealed", keyID = "key_id", role, secretHash = "secret_hash"
        case kind, documentFront = "document_front", documentBack = "document_back", documentSealed = "document_sealed"
        case documentKeyID = "document_key_id"
    }

    /// The moderation tables, as released in v1.
    ///
    /// - Parameter migrator: the migrator to add `moderation.v1` to.
    public static func register(_ migrator: inout Migrator) {
        migrator.registerMigration("moderation.v1", replaces: ["v1-core"], [
            """
            CREATE TABLE cases (
              id TEXT PRIMARY KEY, iin TEXT NOT NULL, attempt_id TEXT NOT NULL, state TEXT NOT NULL,
              created_at {REAL} NOT NULL, claimed_by TEXT, lease_until {REAL}, decided_by TEXT, decided_at {REAL},
              reason TEXT, score {REAL} NOT NULL, flag_reason TEXT NOT NULL, liveness_report TEXT,
              selfie {BLOB}, reference {BLOB}, key_id TEXT, evidence_purged {INT} NOT NULL DEFAULT 0)
            """,
            "CREATE INDEX cases_state ON cases(state)",
            "CREATE TABLE moderators (id TEXT PRIMARY KEY, role TEXT NOT NULL, secret_hash TEXT NOT NULL, iin TEXT)",
        ])
        // The liveness report is sealed with the rest of the evidence. In the migration's transaction, evidence
        // sealed by earlier builds is sealed again bound to its row, and reports kept in clear are sealed.
        migrator.registerMigration("moderation.v2", ["ALTER TABLE cases ADD COLUMN liveness_sealed {BLOB}"]) { context in
            let key = try context.requireKeys("moderation.v2").evidence
            try Reseal.bindEarlier(context, migration: "moderation.v2", key: \.evidence, sealed)
            // Reports in clear are sealed under the row's key only where the row is readable.
            for row in try context.db.query("SELECT id, liveness_report FROM cases WHERE liveness_report IS NOT NULL AND (key_id IS NULL OR key_id = ?)",
                                            [.text(key.keyID)]) {
                let id = try row.text(Columns.id), report = try row.text(Columns.livenessReport)
                try context.db.execute("UPDATE cases SET liveness_sealed = ?, liveness_report = NULL, key_id = ? WHERE id = ?",
                                       [.blob(try key.seal(Data(report.utf8), for: sealed.place("liveness_sealed", id))), .text(key.keyID), .text(id)])
            }
        }
        // Case kinds, and a document case's photos and recognised data, sealed under their own key id
        // (so a re-sealing pass over the face evidence never strands them).
        migrator.registerMigration("moderation.v3", [
            "ALTER TABLE cases ADD COLUMN kind TEXT NOT NULL DEFAULT 'face'",
            "ALTER TABLE cases ADD COLUMN document_front {BLOB}",
            "ALTER TABLE cases ADD COLUMN document_back {BLOB}",
            "ALTER TABLE cases ADD COLUMN document_sealed {BLOB}",
            "ALTER TABLE cases ADD COLUMN document_key_id TEXT",
        ])
    }

    /// The sealed evidence columns.
    public static let sealed = SealedColumns("cases", id: "id", ["selfie", "reference", "liveness_sealed"])
    /// A document case's sealed photos and data, with their own key id.
    public static let sealedDocument = SealedColumns("cases", id: "id", ["document_front", "document_back", "document_sealed"],
                                                     keyColumn: "document_key_id")

    // MARK: Moderators

    /// Adds or replaces a moderator; the secret (12 characters at least) is scrypt-hashed.
    ///
    /// - Parameters:
    ///   - id: the login id.
    ///   - role: moderator or supervisor.
    ///   - secret: the login secret, at least 12 characters.
    ///   - iin: the moderator's own IIN (required), so they never see or decide a case about themselves.
    /// - Throws: ``ModerationError`` `.unauthorized` for a secret shorter than 12 characters, `.invalidModerator` without a
    ///   12-digit IIN; `CryptoFailure` if hashing fails; ``DatabaseFailure`` from the database.
    public func addModerator(id: String, role: Role, secret: String, iin: String) async throws {
        guard secret.count >= 12 else { throw ModerationError(.unauthorized, "a moderator secret must have at least 12 characters") }
        guard iin.count == 12, iin.allSatisfy({ $0.isASCII && $0.isNumber }) else { throw ModerationError(.invalidModerator, "a moderator account needs the moderator's own IIN") }
        let hash = try SecretHash.make(secret), now = clock.now()
        try await database.transaction { db in
            try db.execute("DELETE FROM moderators WHERE id = ?", [.text(id)])
            try db.execute("INSERT INTO moderators (id, role, secret_hash, iin) VALUES (?, ?, ?, ?)",
                           [.text(id), .text(role.rawValue), .text(hash), SQLValue(iin)])
            try AuditLog.append(db, at: now, actor: "admin", action: "moderator.add", subject: id, detail: role.rawValue)
        }
    }

    /// The moderator with this id and secret; any mismatch is the same refusal, at the same cost.
    ///
    /// - Parameters:
    ///   - id: the login id.
    ///   - secret: the login secret.
    /// - Returns: The moderator, with their role and IIN.
    /// - Throws: ``ModerationError`` `.unauthorized` for an unknown id or a wrong secret; ``StorageError``
    ///   `.damagedRow` for a damaged row; ``DatabaseFailure`` from the database.
    public func authenticate(id: String, secret: String) async throws -> Moderator {
        let row = try await database.transaction { db in try db.one("SELECT * FROM moderators WHERE id = ?", [.text(id)]) }
        let refusal = ModerationError(.unauthorized, "unknown moderator or wrong secret")
        guard let row else {
            _ = SecretHash.verify(secret, against: "scrypt$32768$8$1$00$00")
            throw refusal
        }
        guard SecretHash.verify(secret, against: try row.text(Columns.secretHash)) else { throw refusal }
        // An account from before IINs were required cannot be kept from its own cases: it does not log in.
        guard let iin = try row.optionalText(Columns.iin), !iin.isEmpty else {
            throw ModerationError(.unauthorized, "moderator \(id) has no IIN on record: add the account again with tulga moderator add --iin")
        }
        return Moderator(id: id, role: try row.value(Columns.role, as: Role.self), iin: iin)
    }

    // MARK: Cases

    /// Opens a case inside the attempt runner's transaction, sealing its evidence to the case's row.
    ///
    /// - Parameters:
    ///   - db: the attempt runner's transaction.
    ///   - key: the evidence key.
    ///   - id: the new case's id.
    ///   - iin: the applicant's IIN.
    ///   - attemptID: the attempt that was sent to review.
    ///   - score: the face-comparison score.
    ///   - reason: why the policy flagged it; audited.
    ///   - evidence: the selfie, the reference and the liveness report as JSON, in clear; sealed here.
    ///   - now: the injected clock's time.
    /// - Throws: `CryptoFailure` if sealing fails; ``DatabaseFailure`` from the database.
    public static func openCase(_ db: any SQLSession, key: SealingKey, id: String, iin: String, attemptID: String, score: Double, reason: String,
                                evidence: Evidence, at now: Double) throws {
        let seal = { (data: Data?, column: String) in try data.map { try key.seal($0, for: sealed.place(column, id)) } }
        try db.execute("""
            INSERT INTO cases (id, iin, attempt_id, state, created_at, score, flag_reason, liveness_sealed, selfie, reference, key_id)
            VALUES (?, ?, ?, 'open', ?, ?, ?, ?, ?, ?, ?)
            """, [.text(id), .text(iin), .text(attemptID), .double(now), .double(score), .text(reason),
                  SQLValue(try seal(evidence.livenessReport.map { Data($0.utf8) }, "liveness_sealed")),
                  SQLValue(try seal(evidence.selfie, "selfie")), SQLValue(try seal(evidence.reference, "reference")), .text(key.keyID)])
        try AuditLog.append(db, at: now, actor: "policy", action: "case.open", subject: id, detail: reason)
    }

    /// Opens a document case inside the document step's transaction: the selfie, the document's
    /// photos and the recognised data, each sealed to the case's row.
    ///
    /// - Parameters:
    ///   - db: the caller's transaction.
    ///   - key: the evidence key.
    ///   - id: the new case's id.
    ///   - iin: the applicant's IIN.
    ///   - attemptID: the passed attempt whose session took the selfie.
    ///   - score: the portrait's cosine with the selfie.
    ///   - reason: what did not match, in words; audited.
    ///   - selfie: the session's selfie, plain.
    ///   - document: the photos and the recognised data, plain.
    ///   - now: the injected clock's time.
    /// - Throws: `CryptoFailure` if sealing fails; ``DatabaseFailure`` from the database.
    public static func openDocumentCase(_ db: any SQLSession, key: SealingKey, id: String, iin: String, attemptID: String, score: Double,
                                        reason: String, selfie: Data?, document: DocumentEvidence, at now: Double) throws {
        let seal = { (data: Data?, spec: SealedColumns, column: String) in try data.map { try key.seal($0, for: spec.place(column, id)) } }
        try db.execute("""
            INSERT INTO cases (id, iin, attempt_id, state, created_at, score, flag_reason, kind, selfie, key_id,
                               document_front, document_back, document_sealed, document_key_id)
            VALUES (?, ?, ?, 'open', ?, ?, ?, 'document', ?, ?, ?, ?, ?, ?)
            """, [.text(id), .text(iin), .text(attemptID), .double(now), .double(score), .text(reason),
                  SQLValue(try seal(selfie, sealed, "selfie")), .text(key.keyID),
                  SQLValue(try seal(document.front, sealedDocument, "document_front")),
                  SQLValue(try seal(document.back, sealedDocument, "document_back")),
                  SQLValue(try seal(Data(document.data.utf8), sealedDocument, "document_sealed")), .text(key.keyID)])
        try AuditLog.append(db, at: now, actor: "policy", action: "case.open", subject: id, detail: "document: " + reason)
    }

    /// What a case is about, inside the caller's transaction.
    ///
    /// - Throws: ``ModerationError`` `.unknownCase`; ``StorageError`` `.damagedRow`; ``DatabaseFailure``.
    public static func kind(_ db: any SQLSession, case id: String) throws -> CaseKind {
        guard let row = try db.one("SELECT kind FROM cases WHERE id = ?", [.text(id)]) else { throw ModerationError(.unknownCase, "no case \(id)") }
        return try row.value(Columns.kind, as: CaseKind.self)
    }

    static let summaryColumns = "id, iin, kind, state, score, flag_reason, created_at, claimed_by, lease_until, decided_by, decided_at, reason, evidence_purged"

    static func lease(_ row: SQLRow) throws -> CaseLease {
        CaseLease(state: try row.value(Columns.state, as: CaseState.self), claimedBy: try row.optionalText(Columns.claimedBy),
                  leaseUntil: try row.optionalDouble(Columns.leaseUntil))
    }

    func summary(_ row: SQLRow, now: Double) throws -> CaseSummary {
        let lease = try Self.lease(row).effective(now: now)
        let created = try row.double(Columns.createdAt)
        let undecided = lease.state == .open || lease.state == .claimed
        return CaseSummary(id: try row.text(Columns.id), iin: try row.text(Columns.iin), kind: try row.value(Columns.kind, as: CaseKind.self),
                           state: lease.state, score: try row.double(Columns.score),
                           flagReason: try row.text(Columns.flagReason), createdAt: created, claimedBy: lease.claimedBy,
                           leaseUntil: lease.leaseUntil, decidedBy: try row.optionalText(Columns.decidedBy),
                           decidedAt: try row.optionalDouble(Columns.decidedAt), reason: try row.optionalText(Columns.reason),
                           overSLA: undecided && now - created > settings.slaSeconds, evidencePurged: try row.bool(Columns.evidencePurged))
    }

    /// Refuses a role that may not take `action`.
    public func authorize(_ moderator: Moderator, _ action: ModerationAction) throws {
        guard isAllowed(moderator.role, action) else { throw ModerationError.notAllowed(moderator.role, action) }
    }

    /// Every case (in one state, or all), oldest first.
    ///
    /// - Parameters:
    ///   - state: only cases in this effective state; `nil` for all.
    ///   - moderator: the caller.
    /// - Returns: The summaries, oldest first.
    /// - Throws: ``ModerationError`` `.notAllowed` if the role may not list; ``StorageError`` `.damagedRow` for a
    ///   damaged row; ``DatabaseFailure`` from the database.
    public func list(state: CaseState? = nil, as moderator: Moderator) async throws -> [CaseSummary] {
        try authorize(moderator, .list)
        let now = clock.now()
        let rows = try await database.transaction { db in try db.query("SELECT \(Self.summaryColumns) FROM cases ORDER BY created_at, id", []) }
        return try rows.map { try summary($0, now: now) }.filter { state == nil || $0.state == state }
    }

    /// One case with its evidence opened: only for the moderator who holds the claim, or a
    /// supervisor (whose view is audited as such); never for the person the case is about.
    ///
    /// - Parameters:
    ///   - id: the case id.
    ///   - moderator: the caller; the view is audited under their id.
    /// - Returns: The summary with the selfie, reference and report opened.
    /// - Throws: ``ModerationError`` `.notAllowed`, `.unknownCase`, `.ownCase`, `.notClaimedByYou`; `CryptoFailure` if
    ///   evidence does not open; ``StorageError`` `.damagedRow` for a damaged row; ``DatabaseFailure`` from the database.
    public func detail(_ id: String, as moderator: Moderator) async throws -> CaseDetail {
        try authorize(moderator, .show)
        let now = clock.now()
        let row = try await database.transaction { db -> SQLRow in
            guard let row = try db.one("SELECT * FROM cases WHERE id = ?", [.text(id)]) else { throw ModerationError(.unknownCase, "no case \(id)") }
            guard try row.text(Columns.iin) != moderator.iin else { throw ModerationError(.ownCase, "nobody may see a case about themselves") }
            let holds = try Self.lease(row).effective(now: now).claimedBy == moderator.id
            guard holds || moderator.role == .supervisor else {
                throw ModerationError(.notClaimedByYou, "claim the case to see its evidence")
            }
            try AuditLog.append(db, at: now, actor: "moderator:\(moderator.id)", action: "case.view", subject: id,
                                detail: holds ? "" : "supervisor, not holding the claim")
            return row
        }
        let keyID = try row.optionalText(Columns.keyID) ?? ""
        let open = { (column: Columns) in
            try row.optionalBlob(column).map { try cipher.open($0, keyID: keyID, for: Self.sealed.place(column.rawValue, id)) }
        }
        var document: DocumentEvidence?
        if let documentKeyID = try row.optionalText(Columns.documentKeyID) {
            let openDocument = { (column: Columns) in
                try row.optionalBlob(column).map { try cipher.open($0, keyID: documentKeyID, for: Self.sealedDocument.place(column.rawValue, id)) }
            }
            if let data = try openDocument(.documentSealed) {
                document = DocumentEvidence(front: try openDocument(.documentFront), back: try openDocument(.documentBack),
                                            data: String(decoding: data, as: UTF8.self))
            }
        }
        return CaseDetail(summary: try summary(row, now: now), selfie: try open(.selfie), reference: try open(.reference),
                          livenessReport: try open(.livenessSealed).map { String(decoding: $0, as: UTF8.self) }
                              ?? row.optionalText(Columns.livenessReport), document: document)
    }

    /// A moderator takes a case for the lease.
    ///
    /// Claiming a case one already holds renews the lease.
    ///
    /// - Parameters:
    ///   - id: the case id.
    ///   - moderator: the caller, who takes the claim.
    /// - Returns: The claimed case.
    /// - Throws: ``ModerationError`` `.notAllowed`, `.unknownCase`, `.ownCase`, `.alreadyClaimed` or `.alreadyDecided`;
    ///   ``StorageError`` `.damagedRow` for a damaged row; ``DatabaseFailure`` from the database.
    public func claim(_ id: String, as moderator: Moderator) async throws -> CaseSummary {
        try authorize(moderator, .claim)
        let lease = settings.leaseSeconds, now = clock.now()
        let row = try await database.transaction { db in
            try Self.move(db, id, event: .claim(by: moderator.id, leaseSeconds: lease), actor: moderator, action: "case.claim", detail: "", at: now).row
        }
        return try summary(row, now: now)
    }

    /// A supervisor hands a case to another moderator (never to one whose own case it is).
    ///
    /// - Parameters:
    ///   - id: the case id.
    ///   - target: the moderator who gets it.
    ///   - supervisor: the caller; must be a supervisor.
    /// - Returns: The case, claimed by `target` with a fresh lease.
    /// - Throws: ``ModerationError`` `.notAllowed`, `.unknownModerator`, `.unknownCase`, `.ownCase` or `.alreadyDecided`;
    ///   ``StorageError`` `.damagedRow` for a damaged row; ``DatabaseFailure`` from the database.
    public func reassign(_ id: String, to target: String, as supervisor: Moderator) async throws -> CaseSummary {
        try authorize(supervisor, .reassign)
        let lease = settings.leaseSeconds, now = clock.now()
        let row = try await database.transaction { db in
            guard let targetRow = try db.one("SELECT iin, role FROM moderators WHERE id = ?", [.text(target)]) else { throw ModerationError(.unknownModerator, "no moderator \(target)") }
            guard isAllowed(try targetRow.value(Columns.role, as: Role.self), .decide) else {
                throw ModerationError(.notAllowed, "\(target) is not a moderator: a case goes to someone who decides cases")
            }
            let targetIIN = try targetRow.optionalText(Columns.iin)
            return try Self.move(db, id, event: .reassign(to: target, leaseSeconds: lease), actor: supervisor, action: "case.reassign",
                                 detail: target, at: now, forbiddenIIN: targetIIN).row
        }
        return try summary(row, now: now)
    }

    /// The attempt a case was opened for, inside the caller's transaction.
    ///
    /// - Parameters:
    ///   - db: the caller's transaction.
    ///   - id: the case id.
    /// - Returns: The attempt's id.
    /// - Throws: ``ModerationError`` `.unknownCase`; ``StorageError`` `.damagedRow`; ``DatabaseFailure``.
    public static func attemptID(_ db: any SQLSession, case id: String) throws -> String {
        guard let row = try db.one("SELECT attempt_id FROM cases WHERE id = ?", [.text(id)]) else { throw ModerationError(.unknownCase, "no case \(id)") }
        return try row.text(Columns.attemptID)
    }

    /// Approves or rejects a claimed case inside the caller's transaction; returns the case's IIN
    /// and row. The moderation desk adds the Digital ID and the SMS in the same transaction.
    ///
    /// - Parameters:
    ///   - db: the caller's transaction.
    ///   - id: the case id.
    ///   - approve: `true` to approve, `false` to reject.
    ///   - reason: why, in words; must not be blank.
    ///   - moderator: the caller; must hold the claim.
    ///   - now: the injected clock's time.
    /// - Returns: The applicant's IIN and the updated case row.
    /// - Throws: ``ModerationError`` `.notAllowed`, `.unknownCase`, `.ownCase`, `.alreadyDecided`, `.notClaimedByYou`,
    ///   `.leaseExpired` or `.reasonRequired`; ``StorageError`` `.damagedRow`; ``DatabaseFailure`` from the database.
    public static func decide(_ db: any SQLSession, _ id: String, approve: Bool, reason: String, as moderator: Moderator,
                              at now: Double) throws -> (iin: String, row: SQLRow) {
        guard isAllowed(moderator.role, .decide) else { throw ModerationError.notAllowed(moderator.role, .decide) }
        return try move(db, id, event: .decide(approve: approve, by: moderator.id, reason: reason), actor: moderator,
                        action: approve ? "case.approve" : "case.reject", detail: reason, at: now)
    }

    /// Loads the case, applies the pure transition, saves it and audits it. `actor` nil is the
    /// policy itself (lease expiry): no own-case rule, audited as `policy`.
    static func move(_ db: any SQLSession, _ id: String, event: CaseEvent, actor: Moderator?, action: String, detail: String, at now: Double,
                     forbiddenIIN: String? = nil) throws -> (iin: String, row: SQLRow) {
        try db.lock("case:" + id)
        guard let row = try db.one("SELECT * FROM cases WHERE id = ?", [.text(id)]) else { throw ModerationError(.unknownCase, "no case \(id)") }
        let iin = try row.text(Columns.iin)
        if let actor, actor.iin == iin || (forbiddenIIN != nil && forbiddenIIN == iin) {
            throw ModerationError(.ownCase, "nobody may decide a case about themselves")
        }
        let next = try CaseLease.transition(from: try lease(row), event: event, now: now)
        let decided = next.state == .approved || next.state == .rejected
        try db.execute("""
            UPDATE cases SET state = ?, claimed_by = ?, lease_until = ?, decided_by = ?, decided_at = ?, reason = ? WHERE id = ?
            """, [.text(next.state.rawValue), SQLValue(next.claimedBy), SQLValue(next.leaseUntil),
                  decided ? SQLValue(actor?.id) : row["decided_by"], decided ? .double(now) : row["decided_at"],
                  decided ? .text(detail) : row["reason"], .text(id)])
        try AuditLog.append(db, at: now, actor: actor.map { "moderator:\($0.id)" } ?? "policy", action: action, subject: id, detail: detail)
        return (iin, try db.one("SELECT \(summaryColumns) FROM cases WHERE id = ?", [.text(id)]) ?? row)
    }

    /// A case row as a summary (for the desk, after ``decide(_:_:approve:reason:as:at:)``).
    ///
    /// - Parameter row: a row from ``decide(_:_:approve:reason:as:at:)``.
    /// - Returns: The summary as of now.
    /// - Throws: ``StorageError`` `.damagedRow` if the row cannot be read.
    public func summary(of row: SQLRow) throws -> CaseSummary { try summary(row, now: clock.now()) }

    /// Writes expired claims back to open (the lease-expiry service); returns how many.
    ///
    /// - Returns: How many claims were opened again.
    /// - Throws: ``DatabaseFailure`` from the database; ``StorageError`` `.damagedRow` for a damaged row.
    public func expireLeases() async throws -> Int {
        let now = clock.now()
        return try await database.transaction { db in
            let ids = try db.query("SELECT id FROM cases WHERE state = 'claimed' AND lease_until <= ?", [.double(now)]).map { try $0.text(Columns.id) }
            var expired = 0
            for id in ids {
                // A claim renewed since the query is left alone (the pure rule refuses before any write).
                do {
                    _ = try Self.move(db, id, event: .expireLease, actor: nil, action: "case.lease_expired", detail: "", at: now)
                    expired += 1
                } catch let error as ModerationError where error.code == .alreadyDecided {}
            }
            return expired
        }
    }

    /// Queue figures; a moderator sees only their own decisions.
    ///
    /// - Parameter moderator: the caller; a supervisor sees everyone's decisions.
    /// - Returns: Counts by state, over-SLA cases, and decisions by moderator.
    /// - Throws: ``ModerationError`` `.notAllowed`; ``StorageError`` `.damagedRow`; ``DatabaseFailure`` from the database.
    public func stats(as moderator: Moderator) async throws -> ModerationStats {
        let all = isAllowed(moderator.role, .statsAll)
        let cases = try await list(as: moderator)
        var by: [String: Int] = [:]
        for c in cases { if let who = c.decidedBy, all || who == moderator.id { by[who, default: 0] += 1 } }
        func count(_ s: CaseState) -> Int { cases.filter { $0.state == s }.count }
        return ModerationStats(open: count(.open), claimed: count(.claimed), approved: count(.approved), rejected: count(.rejected),
                               overSLA: cases.filter(\.overSLA).count, decisionsBy: by)
    }

    /// Deletes the evidence of cases decided more than `seconds` ago.
    ///
    /// The rows stay; only the selfie, reference, liveness report and a document case's photos and data are cleared.
    /// Each purge is audited.
    ///
    /// - Parameters:
    ///   - seconds: how long after the decision evidence is kept.
    ///   - actor: who purges, for the audit log, e.g. `policy` (the background service) or `purge` (the CLI).
    /// - Returns: The ids of the cases purged.
    /// - Throws: ``DatabaseFailure`` from the database; ``StorageError`` `.damagedRow` for a damaged row.
    public func purgeEvidence(olderThan seconds: Double, actor: String) async throws -> [String] {
        let now = clock.now()
        return try await database.transaction { db in
            let rows = try db.query("""
                SELECT id FROM cases WHERE state IN ('approved', 'rejected') AND evidence_purged = 0 AND decided_at < ?
                """, [.double(now - seconds)])
            for row in rows {
                try db.execute("""
                    UPDATE cases SET selfie = NULL, reference = NULL, liveness_report = NULL, liveness_sealed = NULL, document_front = NULL,
                      document_back = NULL, document_sealed = NULL, evidence_purged = 1 WHERE id = ?
                    """, [row["id"]])
                try AuditLog.append(db, at: now, actor: actor, action: "case.purge", subject: try row.text(Columns.id), detail: "")
            }
            return try rows.map { try $0.text(Columns.id) }
        }
    }

    /// Which of `ids` are cases whose evidence is purged, or no case at all (for sweeping files left behind).
    ///
    /// - Parameter ids: case ids, e.g. from review PNG names.
    /// - Returns: Those with no evidence left.
    /// - Throws: ``DatabaseFailure`` from the database.
    public func withoutEvidence(_ ids: [String]) async throws -> Set<String> {
        try await database.transaction { db in
            Set(try ids.filter { id in (try db.one("SELECT evidence_purged FROM cases WHERE id = ?", [.text(id)])?["evidence_purged"].int ?? 1) != 0 })
        }
    }

    /// How many cases wait for a moderator (open, or claimed with an expired lease), for metrics.
    ///
    /// - Returns: The number of cases waiting.
    /// - Throws: ``DatabaseFailure`` from the database.
    public func queueDepth() async throws -> Int {
        let now = clock.now()
        return try await database.transaction { db in
            try db.one("SELECT COUNT(*) AS n FROM cases WHERE state = 'open' OR (state = 'claimed' AND lease_until <= ?)", [.double(now)])?["n"].int ?? 0
        }
    }
}
