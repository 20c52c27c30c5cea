public import Foundation
internal import TulgaCrypto
public import TulgaPolicy

/// A case with its decrypted evidence, for `moderate show`.
public struct CaseDetail: Sendable {
    public var summary: CaseSummary
    public var selfie: Data?
    public var reference: Data?
    public var livenessReport: String?
}

extension Store {
    // MARK: Moderators

    public func addModerator(id: String, role: Role, secret: String, iin: String?) async throws {
        guard secret.count >= 12 else { throw StoreError(.unauthorized, "a moderator secret must have at least 12 characters") }
        let hash = try SecretHash.make(secret), now = clock.now()
        try await database.transaction { db in
            try db.execute("DELETE FROM moderators WHERE id = ?", [.text(id)])
            try db.execute("INSERT INTO moderators (id, role, secret_hash, iin) VALUES (?, ?, ?, ?)",
                           [.text(id), .text(role.rawValue), .text(hash), SQLValue(iin)])
            try Audit.append(db, at: now, actor: "admin", action: "moderator.add", subject: id, detail: role.rawValue)
        }
    }

    /// The moderator with this id and secret; any mismatch is the same refusal.
    public func authenticate(id: String, secret: String) async throws -> Moderator {
        let row = try await database.transaction { db in try db.one("SELECT * FROM moderators WHERE id = ?", [.text(id)]) }
        let refusal = StoreError(.unauthorized, "unknown moderator or wrong secret")
        guard let row, let stored = row["secret_hash"].text, let role = Role(rawValue: row["role"].text ?? "") else {
            _ = SecretHash.verify(secret, against: "scrypt$32768$8$1$00$00")  // same cost either way
            throw refusal
        }
        guard SecretHash.verify(secret, against: stored) else { throw refusal }
        return Moderator(id: id, role: role, iin: row["iin"].text)
    }

    // MARK: Cases

    func summary(_ row: SQLRow, now: Double) -> CaseSummary {
        let lease = CaseLease(state: CaseState(rawValue: row["state"].text ?? "") ?? .open, claimedBy: row["claimed_by"].text,
                              leaseUntil: row["lease_until"].double).effective(now: now)
        let created = row["created_at"].double ?? 0
        let undecided = lease.state == .open || lease.state == .claimed
        return CaseSummary(id: row["id"].text ?? "", iin: row["iin"].text ?? "", state: lease.state, score: row["score"].double ?? 0,
                           flagReason: row["flag_reason"].text ?? "", createdAt: created, claimedBy: lease.claimedBy,
                           leaseUntil: lease.leaseUntil, decidedBy: row["decided_by"].text, decidedAt: row["decided_at"].double,
                           reason: row["reason"].text, overSLA: undecided && now - created > settings.slaSeconds,
                           evidencePurged: (row["evidence_purged"].int ?? 0) != 0)
    }

    private static let summaryColumns = "id, iin, state, score, flag_reason, created_at, claimed_by, lease_until, decided_by, decided_at, reason, evidence_purged"

    public func listCases(state: CaseState? = nil, as moderator: Moderator) async throws -> [CaseSummary] {
        try authorize(moderator, .list)
        let now = clock.now()
        let rows = try await database.transaction { db in
            try db.query("SELECT \(Self.summaryColumns) FROM cases ORDER BY created_at, id", [])
        }
        return rows.map { summary($0, now: now) }.filter { state == nil || $0.state == state }
    }

    public func caseDetail(_ id: String, as moderator: Moderator) async throws -> CaseDetail {
        try authorize(moderator, .show)
        let now = clock.now()
        let row = try await database.transaction { db in
            let row = try db.one("SELECT * FROM cases WHERE id = ?", [.text(id)])
            if row != nil { try Audit.append(db, at: now, actor: "moderator:\(moderator.id)", action: "case.view", subject: id, detail: "") }
            return row
        }
        guard let row else { throw StoreError(.notFound, ModerationError.unknownCase(id).description) }
        let keyID = row["key_id"].text ?? ""
        return CaseDetail(summary: summary(row, now: now), selfie: try row["selfie"].blob.map { try cipher.open($0, keyID: keyID) },
                          reference: try row["reference"].blob.map { try cipher.open($0, keyID: keyID) },
                          livenessReport: row["liveness_report"].text)
    }

    public func claim(_ id: String, as moderator: Moderator) async throws -> CaseSummary {
        try authorize(moderator, .claim)
        return try await transition(id, moderator: moderator, action: "case.claim", detail: "") { lease, row, now in
            if let iin = moderator.iin, iin == row["iin"].text { throw ModerationError.ownCase }
            return try lease.claim(by: moderator.id, now: now, leaseSeconds: self.settings.leaseSeconds)
        }
    }

    /// Approves or rejects a claimed case. Approval creates the Digital ID; both send the SMS.
    public func decide(_ id: String, approve: Bool, reason: String, as moderator: Moderator) async throws -> CaseSummary {
        try authorize(moderator, .decide)
        return try await transition(id, moderator: moderator, action: approve ? "case.approve" : "case.reject", detail: reason) { lease, row, now in
            if let iin = moderator.iin, iin == row["iin"].text { throw ModerationError.ownCase }
            return try lease.decide(approve, by: moderator.id, reason: reason, now: now)
        }
    }

    /// A supervisor hands a case to another moderator.
    public func reassign(_ id: String, to target: String, as supervisor: Moderator) async throws -> CaseSummary {
        try authorize(supervisor, .reassign)
        return try await transition(id, moderator: supervisor, action: "case.reassign", detail: target) { lease, row, now in
            guard let targetRow = try row.session.one("SELECT iin FROM moderators WHERE id = ?", [.text(target)]) else {
                throw ModerationError.unknownModerator(target)
            }
            if let iin = targetRow["iin"].text, iin == row["iin"].text { throw ModerationError.ownCase }
            return try lease.reassign(to: target, now: now, leaseSeconds: self.settings.leaseSeconds)
        }
    }

    struct CaseRow {
        let row: SQLRow
        let session: any SQLSession
        subscript(_ name: String) -> SQLValue { row[name] }
    }

    private func transition(
        _ id: String, moderator: Moderator, action: String, detail: String,
        _ rule: @escaping @Sendable (CaseLease, CaseRow, Double) throws -> CaseLease
    ) async throws -> CaseSummary {
        let now = clock.now()
        let row: SQLRow = try await database.transaction { db in
            try db.lock("case:" + id)
            guard let row = try db.one("SELECT * FROM cases WHERE id = ?", [.text(id)]) else {
                throw StoreError(.notFound, ModerationError.unknownCase(id).description)
            }
            let lease = CaseLease(state: CaseState(rawValue: row["state"].text ?? "") ?? .open, claimedBy: row["claimed_by"].text,
                                  leaseUntil: row["lease_until"].double)
            let next: CaseLease
            do { next = try rule(lease, CaseRow(row: row, session: db), now) } catch let error as ModerationError {
                throw StoreError(.moderation, error.description)
            }
            let decided = next.state == .approved || next.state == .rejected
            try db.execute("""
                UPDATE cases SET state = ?, claimed_by = ?, lease_until = ?, decided_by = ?, decided_at = ?, reason = ? WHERE id = ?
                """, [.text(next.state.rawValue), SQLValue(next.claimedBy), SQLValue(next.leaseUntil),
                      decided ? .text(moderator.id) : row["decided_by"], decided ? .double(now) : row["decided_at"],
                      decided ? .text(detail) : row["reason"], .text(id)])
            try Audit.append(db, at: now, actor: "moderator:\(moderator.id)", action: action, subject: id, detail: detail)
            if decided, let iin = row["iin"].text {
                if next.state == .approved {
                    try Store.createDigitalID(db, iin: iin, verifiedBy: "moderator:\(moderator.id)", now: now)
                }
                let language = SMSLanguage(rawValue: try db.one("SELECT language FROM applicants WHERE iin = ?", [.text(iin)])?["language"].text ?? "ru") ?? .ru
                try Store.enqueue(db, iin: iin, language: language.rawValue,
                                  body: moderationResultSMS(approved: next.state == .approved, language: language), now: now)
            }
            return try db.one("SELECT \(Self.summaryColumns) FROM cases WHERE id = ?", [.text(id)]) ?? row
        }
        return summary(row, now: now)
    }

    func authorize(_ moderator: Moderator, _ action: ModerationAction) throws {
        guard isAllowed(moderator.role, action) else {
            throw StoreError(.unauthorized, ModerationError.notAllowed(moderator.role, action).description)
        }
    }

    public func moderationStats(as moderator: Moderator) async throws -> ModerationStats {
        let all = isAllowed(moderator.role, .statsAll)
        let cases = try await listCases(as: moderator)
        var by: [String: Int] = [:]
        for c in cases { if let who = c.decidedBy, all || who == moderator.id { by[who, default: 0] += 1 } }
        return ModerationStats(open: cases.filter { $0.state == .open }.count, claimed: cases.filter { $0.state == .claimed }.count,
                               approved: cases.filter { $0.state == .approved }.count, rejected: cases.filter { $0.state == .rejected }.count,
                               overSLA: cases.filter(\.overSLA).count, decisionsBy: by)
    }

    /// Deletes the evidence of decided cases decided more than `seconds` ago.
    public func purgeEvidence(olderThan seconds: Double, actor: String) async throws -> Int {
        let now = clock.now()
        return try await database.transaction { db in
            let rows = try db.query("""
                SELECT id FROM cases WHERE state IN ('approved', 'rejected') AND evidence_purged = 0 AND decided_at < ?
                """, [.double(now - seconds)])
            for row in rows {
                try db.execute("UPDATE cases SET selfie = NULL, reference = NULL, liveness_report = NULL, evidence_purged = 1 WHERE id = ?", [row["id"]])
                try Audit.append(db, at: now, actor: actor, action: "case.purge", subject: row["id"].text ?? "", detail: "")
            }
            return rows.count
        }
    }
}
