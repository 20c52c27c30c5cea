public import TulgaCore
import TulgaCrypto
public import TulgaStorage

/// The Digital ID records: the record, its PIN counter, consents. Owns `digital_ids` and
/// `consents`; every change goes through the pure rules in `Rules/`.
///
/// ```swift
/// let ids = DigitalIDRecords(context)
/// try await ids.setPIN(iin: iin, pin: "402719")
/// if case .accepted = try await ids.checkPIN(iin: iin, pin: "402719") {
///     let consent = try await ids.grantConsent(iin: iin, scope: Consent.caIdentityScope, seconds: 3600)
/// }
/// ```
public struct DigitalIDRecords: Sendable {
    /// The shared database.
    public let database: any SQLDatabase
    /// The clock records and consents are stamped with.
    public let clock: any WallClock

    /// Creates the records.
    ///
    /// - Parameter context: the database and the clock.
    public init(_ context: RecordContext) { (database, clock) = (context.database, context.clock) }

    enum Columns: String {
        case iin, surname, givenName = "given_name", documentNumber = "document_number", status, createdAt = "created_at"
        case verifiedAt = "verified_at", verifiedBy = "verified_by", pinHash = "pin_hash", pinFailures = "pin_failures", pinLocked = "pin_locked"
        case id, scope, grantedAt = "granted_at", expiresAt = "expires_at", revokedAt = "revoked_at", patronymic
        case pinSetter = "pin_setter", pinSetterUntil = "pin_setter_until", documentState = "document_state"
    }

    /// How long after a passed verification its runner may set the first PIN (or a new one after a reset).
    public static let pinWindowSeconds: Double = 86400

    /// The Digital ID tables, as released in v1.
    ///
    /// - Parameter migrator: the migrator to add `digital_id.v1` to.
    public static func register(_ migrator: inout Migrator) {
        migrator.registerMigration("digital_id.v1", replaces: ["v1-core"], [
            """
            CREATE TABLE digital_ids (
              iin TEXT PRIMARY KEY, surname TEXT NOT NULL, given_name TEXT NOT NULL, document_number TEXT NOT NULL,
              status TEXT NOT NULL, created_at {REAL} NOT NULL, verified_at {REAL} NOT NULL, verified_by TEXT NOT NULL,
              pin_hash TEXT, pin_failures {INT} NOT NULL DEFAULT 0, pin_locked {INT} NOT NULL DEFAULT 0)
            """,
            """
            CREATE TABLE consents (
              id TEXT PRIMARY KEY, iin TEXT NOT NULL, scope TEXT NOT NULL, granted_at {REAL} NOT NULL,
              expires_at {REAL} NOT NULL, revoked_at {REAL})
            """,
        ])
        migrator.registerMigration("digital_id.v2", ["ALTER TABLE digital_ids ADD COLUMN patronymic TEXT"])
        // Who may set the first PIN, and until when: the system that ran the passed verification.
        migrator.registerMigration("digital_id.v3", [
            "ALTER TABLE digital_ids ADD COLUMN pin_setter TEXT",
            "ALTER TABLE digital_ids ADD COLUMN pin_setter_until {REAL}",
        ])
        // The identity-document step: records from before it have not done it (`pending`).
        migrator.registerMigration("digital_id.v4", ["ALTER TABLE digital_ids ADD COLUMN document_state TEXT NOT NULL DEFAULT 'pending'"])
    }

    /// Creates the record after a passed verification or an approval, inside the caller's
    /// transaction (``DigitalIDLifecycle/creation(existing:)`` decides: create, replace a revoked one, or keep).
    ///
    /// - Parameters:
    ///   - db: the caller's transaction.
    ///   - iin: the person's IIN.
    ///   - surname: the family name, from the registry.
    ///   - givenName: the given name, from the registry.
    ///   - documentNumber: the identity document's number, from the registry.
    ///   - verifiedBy: `automatic` or `moderator:<id>`.
    ///   - pinSetter: who ran the verification (the attempt's owner): the only calling system that may
    ///     set the first PIN, within ``pinWindowSeconds``; `nil` leaves it to staff.
    ///   - now: the injected clock's time.
    /// - Throws: ``StorageError`` `.damagedRow` if a stored status cannot be read; ``DatabaseFailure`` from the database.
    public static func create(_ db: any SQLSession, iin: String, surname: String, givenName: String, patronymic: String? = nil,
                              documentNumber: String, verifiedBy: String, pinSetter: String? = nil, at now: Double) throws {
        let existing = try db.one("SELECT status, pin_locked, pin_hash, document_state FROM digital_ids WHERE iin = ?", [.text(iin)])
        let setter: [SQLValue] = [SQLValue(pinSetter), .double(now + pinWindowSeconds)]
        switch DigitalIDLifecycle.creation(existing: try existing?.value(Columns.status, as: DigitalIDRecord.Status.self)) {
        case .keep:
            // A rejected document step may be taken again after this verification.
            if let existing {
                let document = try existing.value(Columns.documentState, as: DocumentStepState.self)
                let next = try DocumentStepLifecycle.transition(from: document, event: .reverified)
                if next != document {
                    try db.execute("UPDATE digital_ids SET document_state = ? WHERE iin = ?", [.text(next.rawValue), .text(iin)])
                    try AuditLog.append(db, at: now, actor: verifiedBy == "automatic" ? "policy" : verifiedBy, action: "digital_id.document_pending",
                                        subject: iin, detail: "a new verification passed; the document step may be taken again")
                }
            }
            // PIN recovery: a locked PIN is cleared only by a new passed verification of the same
            // person; they then set a new one. Nothing else unlocks it.
            if let existing, try existing.bool(Columns.pinLocked) {
                try db.execute("""
                    UPDATE digital_ids SET pin_hash = NULL, pin_failures = 0, pin_locked = 0, verified_at = ?, verified_by = ?,
                      pin_setter = ?, pin_setter_until = ? WHERE iin = ?
                    """, [.double(now), .text(verifiedBy)] + setter + [.text(iin)])
                try AuditLog.append(db, at: now, actor: verifiedBy == "automatic" ? "policy" : verifiedBy, action: "digital_id.pin_reset", subject: iin,
                                    detail: "a new verification passed; a new PIN is to be set")
            } else if let existing, try existing.optionalText(Columns.pinHash) == nil {
                // No PIN yet: this verification's runner may set it now (an earlier window may have passed).
                try db.execute("UPDATE digital_ids SET pin_setter = ?, pin_setter_until = ? WHERE iin = ?", setter + [.text(iin)])
            }
            return
        case .replaceRevoked: try db.execute("DELETE FROM digital_ids WHERE iin = ?", [.text(iin)])
        case .create: break
        }
        try db.execute("""
            INSERT INTO digital_ids (iin, surname, given_name, document_number, status, created_at, verified_at, verified_by, patronymic,
                                     pin_setter, pin_setter_until, document_state)
            VALUES (?, ?, ?, ?, 'active', ?, ?, ?, ?, ?, ?, 'pending')
            """, [.text(iin), .text(surname), .text(givenName), .text(documentNumber), .double(now), .double(now), .text(verifiedBy),
                  SQLValue(patronymic)] + setter)
        try AuditLog.append(db, at: now, actor: verifiedBy == "automatic" ? "policy" : verifiedBy, action: "digital_id.create", subject: iin,
                            detail: verifiedBy)
    }

    static func record(_ r: SQLRow) throws -> DigitalIDRecord {
        DigitalIDRecord(iin: try r.text(Columns.iin), surname: try r.text(Columns.surname), givenName: try r.text(Columns.givenName),
                        documentNumber: try r.text(Columns.documentNumber), status: try r.value(Columns.status, as: DigitalIDRecord.Status.self),
                        createdAt: try r.double(Columns.createdAt), verifiedAt: try r.double(Columns.verifiedAt),
                        verifiedBy: try r.text(Columns.verifiedBy), hasPIN: try r.optionalText(Columns.pinHash) != nil,
                        pinFailures: try r.int(Columns.pinFailures), pinLocked: try r.bool(Columns.pinLocked),
                        patronymic: try r.optionalText(Columns.patronymic),
                        documentState: try r.value(Columns.documentState, as: DocumentStepState.self))
    }

    /// Moves the identity-document step (``DocumentStepLifecycle``) inside the caller's transaction,
    /// with an audit row (`digital_id.document_<state>`).
    ///
    /// - Parameters:
    ///   - db: the caller's transaction.
    ///   - iin: the person's IIN.
    ///   - event: what happened.
    ///   - actor: who, for the audit log (`policy`, `moderator:<id>`).
    ///   - detail: why, for the audit log.
    ///   - now: the injected clock's time.
    /// - Returns: The new state.
    /// - Throws: ``DigitalIDError`` `.notFound` without a record, `.invalidState` for a move the lifecycle refuses;
    ///   ``StorageError`` `.damagedRow`; ``DatabaseFailure``.
    @discardableResult
    public static func moveDocumentStep(_ db: any SQLSession, iin: String, event: DocumentStepEvent, actor: String, detail: String,
                                        at now: Double) throws -> DocumentStepState {
        guard let row = try db.one("SELECT document_state FROM digital_ids WHERE iin = ?", [.text(iin)]) else {
            throw DigitalIDError(.notFound, "no Digital ID for \(iin)")
        }
        let next = try DocumentStepLifecycle.transition(from: try row.value(Columns.documentState, as: DocumentStepState.self), event: event)
        try db.execute("UPDATE digital_ids SET document_state = ? WHERE iin = ?", [.text(next.rawValue), .text(iin)])
        try AuditLog.append(db, at: now, actor: actor, action: "digital_id.document_\(next.rawValue)", subject: iin, detail: detail)
        return next
    }

    /// The record inside the caller's transaction, or nil.
    ///
    /// - Throws: ``StorageError`` `.damagedRow`; ``DatabaseFailure``.
    public static func record(_ db: any SQLSession, iin: String) throws -> DigitalIDRecord? {
        try db.one("SELECT * FROM digital_ids WHERE iin = ?", [.text(iin)]).map(record)
    }

    /// The record, or nil.
    ///
    /// - Parameter iin: the person's IIN.
    /// - Returns: The record, or `nil` if the person has none.
    /// - Throws: ``StorageError`` `.damagedRow` for a damaged row; ``DatabaseFailure`` from the database.
    public func record(_ iin: String) async throws -> DigitalIDRecord? {
        try await database.transaction { db in try db.one("SELECT * FROM digital_ids WHERE iin = ?", [.text(iin)]).map(Self.record) }
    }

    /// Sets the PIN once (scrypt), or again after a locked PIN was cleared by a new passed
    /// verification (see ``create(_:iin:surname:givenName:documentNumber:verifiedBy:at:)``).
    ///
    /// - Parameters:
    ///   - iin: the person's IIN.
    ///   - pin: 6 digits that pass ``PINPolicy``.
    /// - Throws: ``DigitalIDError`` `.pinNotSixDigits`, `.pinAllSame` or `.pinSequence` for a PIN that breaks a rule, `.notFound` without a Digital ID,
    ///   `.invalidState` unless it is active, `.conflict` if a PIN is already set; `CryptoFailure` if hashing
    ///   fails; ``DatabaseFailure`` from the database.
    ///   - setter: when given, whether the caller is the stored PIN setter (its tag, or `nil` when a kiosk
    ///     or the CLI ran the verification): the PIN is then set only by them, within ``pinWindowSeconds``
    ///     of the verification. Without it (staff), by anyone.
    public func setPIN(iin: String, pin: String, setter: (@Sendable (String?) -> Bool)? = nil) async throws {
        let now = clock.now()
        try await writePIN(iin: iin, pin: pin, action: "digital_id.set_pin") { record, row in
            guard !record.hasPIN else { throw DigitalIDError(.conflict, "a PIN is already set") }
            guard let setter else { return }
            guard try Self.allowsPINSetter(row, at: now, setter) else {
                throw DigitalIDError(.invalidState, "the PIN is set through the system that ran the passed verification, within a day of it: verify again")
            }
        }
    }

    /// Whether `setter` accepts the stored PIN setter of a record without a PIN, within its window
    /// (see ``setPIN(iin:pin:setter:)``).
    ///
    /// - Throws: ``StorageError`` `.damagedRow`; ``DatabaseFailure`` from the database.
    public func isPINSetter(iin: String, _ setter: @escaping @Sendable (String?) -> Bool) async throws -> Bool {
        let now = clock.now()
        return try await database.transaction { db in
            guard let row = try db.one("SELECT pin_setter, pin_setter_until FROM digital_ids WHERE iin = ? AND pin_hash IS NULL", [.text(iin)]) else { return false }
            return try Self.allowsPINSetter(row, at: now, setter)
        }
    }

    /// The one rule for the first PIN: `setter` accepts the row's stored setter, and its window is open at `now`.
    static func allowsPINSetter(_ row: SQLRow, at now: Double, _ setter: (String?) -> Bool) throws -> Bool {
        guard let until = try row.optionalDouble(Columns.pinSetterUntil), now <= until else { return false }
        return setter(try row.optionalText(Columns.pinSetter))
    }

    /// Hashes `pin` (after the rules) and stores it for an active record that passes `check`, with an
    /// audit row; the right to set a first PIN is used up.
    private func writePIN(iin: String, pin: String, action: String, check: @escaping @Sendable (DigitalIDRecord, SQLRow) throws -> Void) async throws {
        try PINPolicy.check(pin)
        let hash = try SecretHash.make(pin), now = clock.now()
        try await database.transaction { db in
            guard let row = try db.one("SELECT * FROM digital_ids WHERE iin = ?", [.text(iin)]) else { throw DigitalIDError(.notFound, "no Digital ID for \(iin)") }
            let record = try Self.record(row)
            guard record.status == .active else { throw DigitalIDError(.invalidState, "the Digital ID is \(record.status.rawValue)") }
            try check(record, row)
            try db.execute("UPDATE digital_ids SET pin_hash = ?, pin_failures = 0, pin_locked = 0, pin_setter = NULL, pin_setter_until = NULL WHERE iin = ?",
                           [.text(hash), .text(iin)])
            try AuditLog.append(db, at: now, actor: "applicant:\(iin)", action: action, subject: iin, detail: "")
        }
    }

    /// Checks a PIN through the pure ``PINCounter``; five wrong ones in a row lock the record.
    ///
    /// The slow key derivation runs outside the transaction; the counter is updated under a per-IIN lock.
    ///
    /// - Parameters:
    ///   - iin: the person's IIN.
    ///   - pin: the PIN as typed.
    /// - Returns: `.accepted`, `.wrong(attemptsLeft:)`, `.locked` or `.notSet`.
    /// - Throws: ``DigitalIDError`` `.notFound` if the person has no Digital ID; ``StorageError`` `.damagedRow`;
    ///   ``DatabaseFailure`` from the database.
    public func checkPIN(iin: String, pin: String) async throws -> PINCheck {
        let row = try await database.transaction { db in try db.one("SELECT pin_hash, pin_locked FROM digital_ids WHERE iin = ?", [.text(iin)]) }
        guard let row else { throw DigitalIDError(.notFound, "no Digital ID for \(iin)") }
        if try row.bool(Columns.pinLocked) { return .locked }
        guard let stored = try row.optionalText(Columns.pinHash) else { return .notSet }
        let matches = SecretHash.verify(pin, against: stored)   // the slow KDF runs outside the transaction
        let now = clock.now()
        return try await database.transaction { db in
            try db.lock("pin:" + iin)
            guard let current = try db.one("SELECT pin_failures, pin_locked FROM digital_ids WHERE iin = ?", [.text(iin)]) else {
                throw DigitalIDError(.notFound, "no Digital ID for \(iin)")
            }
            let counter = PINCounter(failures: try current.int(Columns.pinFailures), locked: try current.bool(Columns.pinLocked))
            let (next, result) = counter.checked(matches: matches)
            guard next != counter else { return result }
            try db.execute("UPDATE digital_ids SET pin_failures = ?, pin_locked = ? WHERE iin = ?",
                           [.int(Int64(next.failures)), .int(next.locked ? 1 : 0), .text(iin)])
            if !matches {
                try AuditLog.append(db, at: now, actor: "applicant:\(iin)", action: next.locked ? "digital_id.pin_locked" : "digital_id.pin_wrong",
                                    subject: iin, detail: "failures=\(next.failures)")
            }
            return result
        }
    }

    /// Suspends, reinstates or revokes a record (``DigitalIDLifecycle``).
    ///
    /// - Parameters:
    ///   - event: suspend, reinstate or revoke.
    ///   - iin: the person's IIN.
    ///   - actor: who asks, for the audit log.
    /// - Returns: The new status.
    /// - Throws: ``DigitalIDError`` `.notFound`, or `.invalidState` for a move the lifecycle refuses;
    ///   ``StorageError`` `.damagedRow`; ``DatabaseFailure`` from the database.
    public func apply(_ event: DigitalIDEvent, iin: String, actor: String) async throws -> DigitalIDRecord.Status {
        let now = clock.now()
        return try await database.transaction { db in
            guard let row = try db.one("SELECT status FROM digital_ids WHERE iin = ?", [.text(iin)]) else { throw DigitalIDError(.notFound, "no Digital ID for \(iin)") }
            let next = try DigitalIDLifecycle.transition(from: try row.value(Columns.status, as: DigitalIDRecord.Status.self), event: event)
            try db.execute("UPDATE digital_ids SET status = ? WHERE iin = ?", [.text(next.rawValue), .text(iin)])
            try AuditLog.append(db, at: now, actor: actor, action: "digital_id.\(next.rawValue)", subject: iin, detail: "")
            return next
        }
    }

    /// Replaces the PIN; the caller has checked the current one (``checkPIN(iin:pin:)``) first.
    ///
    /// Writes an audit row (`digital_id.change_pin`) in the same transaction.
    ///
    /// - Throws: ``DigitalIDError`` for a PIN that breaks the rules, no record, one not active, or no PIN to change.
    public func changePIN(iin: String, to pin: String) async throws {
        try await writePIN(iin: iin, pin: pin, action: "digital_id.change_pin") { record, _ in
            guard record.hasPIN, !record.pinLocked else { throw DigitalIDError(.conflict, "no PIN to change: set one, or verify again to clear a locked one") }
        }
    }

    // MARK: Consents

    /// Every consent the person granted, newest first (revoked and expired ones included).
    public func consents(iin: String) async throws -> [Consent] {
        let rows = try await database.transaction { db in try db.query("SELECT * FROM consents WHERE iin = ? ORDER BY granted_at DESC", [.text(iin)]) }
        return try rows.map {
            Consent(id: try $0.text(Columns.id), iin: iin, scope: try $0.text(Columns.scope), grantedAt: try $0.double(Columns.grantedAt),
                    expiresAt: try $0.double(Columns.expiresAt), revokedAt: try $0.optionalDouble(Columns.revokedAt))
        }
    }

    /// Grants a scoped, time-limited consent (``ConsentRules``).
    ///
    /// - Parameters:
    ///   - iin: the owner's IIN.
    ///   - scope: what it allows, e.g. ``Consent/caIdentityScope``.
    ///   - seconds: how long it lasts, 1 second to 366 days.
    /// - Returns: The new consent.
    /// - Throws: ``DigitalIDError`` `.invalidState` for a length out of range or a Digital ID that is not active;
    ///   `CryptoFailure` if no id can be made; ``DatabaseFailure`` from the database.
    public func grantConsent(iin: String, scope: String, seconds: Double) async throws -> Consent {
        let now = clock.now(), id = try newRecordID("consent")
        return try await database.transaction { db in
            let status = try db.one("SELECT status FROM digital_ids WHERE iin = ?", [.text(iin)])?.value(Columns.status, as: DigitalIDRecord.Status.self)
            try ConsentRules.checkGrant(scope: scope, seconds: seconds, status: status)
            try db.execute("INSERT INTO consents (id, iin, scope, granted_at, expires_at) VALUES (?, ?, ?, ?, ?)",
                           [.text(id), .text(iin), .text(scope), .double(now), .double(now + seconds)])
            try AuditLog.append(db, at: now, actor: "applicant:\(iin)", action: "consent.grant", subject: id, detail: scope)
            return Consent(id: id, iin: iin, scope: scope, grantedAt: now, expiresAt: now + seconds, revokedAt: nil)
        }
    }

    /// Revokes one of the owner's consents.
    ///
    /// Revoking a revoked consent changes nothing.
    ///
    /// - Parameters:
    ///   - id: the consent's id.
    ///   - iin: the owner's IIN; another person's consent is not found.
    /// - Throws: ``DigitalIDError`` `.notFound`; ``DatabaseFailure`` from the database.
    public func revokeConsent(id: String, iin: String) async throws {
        let now = clock.now()
        try await database.transaction { db in
            guard try db.one("SELECT id FROM consents WHERE id = ? AND iin = ?", [.text(id), .text(iin)]) != nil else {
                throw DigitalIDError(.notFound, "no consent \(id) for \(iin)")
            }
            try db.execute("UPDATE consents SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", [.double(now), .text(id)])
            try AuditLog.append(db, at: now, actor: "applicant:\(iin)", action: "consent.revoke", subject: id, detail: "")
        }
    }

    /// A consent valid for `scope` now, if any.
    ///
    /// - Parameters:
    ///   - iin: the owner's IIN.
    ///   - scope: the scope asked for.
    /// - Returns: The first valid consent, or `nil`.
    /// - Throws: ``StorageError`` `.damagedRow` for a damaged row; ``DatabaseFailure`` from the database.
    public func validConsent(iin: String, scope: String) async throws -> Consent? {
        let now = clock.now()
        let rows = try await database.transaction { db in try db.query("SELECT * FROM consents WHERE iin = ? AND scope = ?", [.text(iin), .text(scope)]) }
        return try rows.map {
            Consent(id: try $0.text(Columns.id), iin: iin, scope: scope, grantedAt: try $0.double(Columns.grantedAt),
                    expiresAt: try $0.double(Columns.expiresAt), revokedAt: try $0.optionalDouble(Columns.revokedAt))
        }.first { $0.isValid(for: scope, at: now) }
    }
}
