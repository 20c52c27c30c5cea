import Foundation
public import TulgaCore
public import TulgaDigitalID
import TulgaAttempts
import TulgaCrypto
import TulgaIdentity
import TulgaLegalEntities
public import TulgaPKI
import TulgaPolicy
import TulgaStorage

/// Filing: remote (Digital ID) and in person; the legal-entity register decides O and OU.
extension IssuanceService {
    /// 28 uniformly drawn digits in seven groups of four: about 93 random bits.
    static func newNumber() throws -> String {
        var digits: [Character] = []
        while digits.count < 28 {
            // Bytes of 250 and above are dropped so that every digit is equally likely.
            for byte in try randomBytes(32) where byte < 250 && digits.count < 28 { digits.append(Character(String(byte % 10))) }
        }
        return stride(from: 0, to: 28, by: 4).map { String(digits[$0..<$0 + 4]) }.joined(separator: "-")
    }

    /// A remote application, filed with the two requests the applicant's key store made. Needs a
    /// confirmed phone, an active Digital ID, a valid consent, the register's backing for a
    /// legal-entity template, and the PIN (checked last). An individual's, or a first head's,
    /// certificates are issued at once when the CA is up; employees wait for HR and the first head.
    ///
    /// - Parameters:
    ///   - iin: the applicant's IIN.
    ///   - pin: the applicant's Digital ID PIN.
    ///   - agreement: the version of the user agreement the applicant accepted (``UserAgreement/version``).
    ///   - template: the template to file under.
    ///   - requests: the checked AUTH and SIGN requests.
    ///   - bin: the organisation's BIN, for legal-entity templates.
    ///   - caller: the calling system; it alone sees the application afterwards.
    ///   - email: where the number and each status change are e-mailed; `nil` for none.
    /// - Returns: The application: `issued`, `signing` (CA down), or `identified` awaiting approvals.
    /// - Throws: ``MailAddressError`` `.invalid` for a malformed e-mail address (checked first);
    ///   ``IssuanceError`` naming the missing step: `.invalidIdentity` for a bad IIN or BIN,
    ///   `.agreement`, `.tokenRequired`, `.code` (no fresh confirmation through this caller), `.digitalID`, `.documentStep` (the
    ///   identity-document step not done while the policy requires it), `.consent`, `.register`, `.pin`,
    ///   `.activeApplication`;
    ///   ``StorageError`` and ``DatabaseFailure`` for failures on our side.
    public func applyRemote(iin: String, pin: String, agreement: String?, template: Template = .individual, requests: KeyRequests,
                            bin: String? = nil, caller: Caller, email: String? = nil) async throws -> ApplicationView {
        let email = try email.map { try MailAddress($0) }
        try UserAgreement.check(agreement)
        let holder = try await remoteHolder(iin: iin, pin: pin, template: template, storage: requests.storage, bin: bin, caller: caller)
        return try await create(holder: holder, template: template, channel: .remote, requests: requests, caller: caller, agreement: UserAgreement.version,
                                email: email)
    }

    /// Every check of a remote application, the PIN last: who the certificates are for.
    func remoteHolder(iin: String, pin: String, template: Template, storage: KeyStorageKind, bin: String?, caller: Caller) async throws -> Holder {
        let iin = try Self.checkIIN(iin)
        if template == .treasuryClient, storage != .token {
            throw IssuanceError(.tokenRequired, "a Treasury-Client participant's keys must be generated on a token (storage \"token\")")
        }
        let at = now
        let (confirmed, organization) = try await db.transaction { db in
            (try self.phoneConfirmed(db, iin: iin, caller: caller, at: at), try Self.legalEntity(db, iin: iin, template: template, bin: bin))
        }
        guard confirmed else { throw IssuanceError(.code, "confirm the phone with an SMS code first") }
        guard let id = try await digitalIDs.record(iin), id.status == .active else {
            throw IssuanceError(.digitalID, "a remote application needs an active Digital ID")
        }
        try checkDocumentStep(id, whose: "your")
        guard try await digitalIDs.validConsent(iin: iin, scope: Consent.caIdentityScope) != nil else {
            throw IssuanceError(.consent, "grant the CA service consent to your identity data first")
        }
        let holder = Holder(iin: iin, surname: id.surname, givenName: id.givenName, organization: organization?.name, bin: organization?.bin,
                            patronymic: id.patronymic)
        try holder.checkSubject()
        try await checkPIN(iin: iin, pin: pin, whose: "your")
        return holder
    }

    /// While the policy requires it, a Digital ID is used for applications (filing, reissuing, approving) only once its
    /// identity-document step is done.
    func checkDocumentStep(_ id: DigitalIDRecord?, whose: String) throws {
        guard documentStepRequired, let id, id.documentState != .done else { return }
        throw IssuanceError(.documentStep, "the identity-document step of \(whose) Digital ID is \(id.documentState.rawValue): photograph the ID card or passport and confirm its data first")
    }

    func checkPIN(iin: String, pin: String, whose: String) async throws {
        switch try await digitalIDs.checkPIN(iin: iin, pin: pin) {
        case .accepted: break
        case .wrong(let left): throw IssuanceError(.pin, "wrong PIN (\(whose) Digital ID); \(left) tries left")
        case .locked: throw IssuanceError(.pin, "the Digital ID PIN (\(whose)) is locked")
        case .notSet: throw IssuanceError(.pin, "\(whose) Digital ID has no PIN set")
        }
    }

    /// The organisation behind a legal-entity template, as the register says: active, and the
    /// applicant its first head or listed in the template's role.
    static func legalEntity(_ db: any SQLSession, iin: String, template: Template, bin: String?) throws -> Organization? {
        guard template.isLegalEntity else { return nil }
        guard let bin else { throw IssuanceError(.invalidIdentity, "a legal-entity template needs the organisation's BIN") }
        do { _ = try BIN(bin) } catch { throw IssuanceError(.invalidIdentity, "invalid BIN \(bin): \(error)") }
        guard let organization = try LegalEntityRecords.organization(db, bin: bin) else {
            throw IssuanceError(.register, "BIN \(bin) is not in the legal-entity register")
        }
        guard organization.status == .active else { throw IssuanceError(.register, "the organisation \(bin) is \(organization.status.rawValue)") }
        if template == .firstHead {
            guard organization.headIIN == iin else { throw IssuanceError(.register, "the register names another first head of \(bin)") }
        } else if let role = template.employeeRole {
            guard try LegalEntityRecords.hasRole(db, bin: bin, iin: iin, role: role) else {
                throw IssuanceError(.register, "the register does not list \(iin) as \(role.rawValue) of \(bin)")
            }
        }
        return organization
    }

    /// An application taken at a service centre, only after five recorded failed attempts (the
    /// gate of `tulga inperson accept`); an operator confirms it within 30 days or it expires.
    ///
    /// - Parameters:
    ///   - iin: the applicant's IIN.
    ///   - surname: the family name, as checked at the desk; upper-cased.
    ///   - givenName: the given name, as checked at the desk; upper-cased.
    ///   - operatorID: the operator who takes it; audited, and the application's owner.
    ///   - template: the template to file under.
    ///   - requests: the requests the applicant's key store made at the desk.
    ///   - bin: the organisation's BIN, for legal-entity templates.
    ///   - email: where the number and each status change are e-mailed; `nil` for none.
    /// - Returns: The new application, `new`.
    /// - Throws: ``MailAddressError`` `.invalid`; ``IssuanceError`` `.invalidIdentity`, `.inPersonLocked` before five failures, `.tokenRequired`,
    ///   `.register`, `.activeApplication`; ``StorageError``; ``DatabaseFailure``.
    public func applyInPerson(iin: String, surname: String, givenName: String, operator operatorID: String, template: Template = .individual,
                              requests: KeyRequests, bin: String? = nil, patronymic: String? = nil, email: String? = nil) async throws -> ApplicationView {
        let email = try email.map { try MailAddress($0) }
        let iin = try Self.checkIIN(iin)
        if template == .treasuryClient, requests.storage != .token {
            throw IssuanceError(.tokenRequired, "a Treasury-Client participant's keys must be generated on a token (storage \"token\")")
        }
        let organization = try await db.transaction { db in try Self.legalEntity(db, iin: iin, template: template, bin: bin) }
        let holder = Holder(iin: iin, surname: surname.uppercased(), givenName: givenName.uppercased(), organization: organization?.name, bin: organization?.bin,
                            patronymic: patronymic?.uppercased())
        return try await create(holder: holder, template: template, channel: .inPerson, requests: requests, caller: .staff("operator:" + operatorID),
                                gateInPerson: true, email: email)
    }

    /// Files the application in one transaction: the in-person gate, no other active application
    /// (but the one it replaces), the row, the audit, the number's e-mail (a renewal or reissue
    /// keeps the replaced one's address unless given another). Issues at once when it starts `signing`.
    func create(holder: Holder, template: Template, channel: Channel, requests: KeyRequests, caller: Caller, reissueOf: String? = nil,
                renewalOf: String? = nil, initial: ApplicationStatus? = nil, gateInPerson: Bool = false, agreement: String? = nil,
                email: MailAddress? = nil,
                consumeChallenge: (@Sendable (any SQLSession) throws -> Void)? = nil) async throws -> ApplicationView {
        try holder.checkSubject()
        let number = try Self.newNumber(), at = now, lifecycle = lifecycle, attempts = attempts, outboxKey = outboxKey
        let next = initial ?? ApplicationLifecycle.initialStatus(channel: channel, template: template)
        let replaced = reissueOf ?? renewalOf
        try await db.transaction { db in
            try db.lock("application:" + holder.iin)
            if gateInPerson {
                do { try AttemptRecords.checkInPerson(db, iin: holder.iin, policy: attempts) } catch let error as AttemptError {
                    throw IssuanceError(.inPersonLocked, error.reason, message: error.message)
                }
            }
            // Renewing keys a certificate of which was revoked meanwhile (as compromised, say) is refused.
            if let renewalOf {
                try db.lock("revocation")   // against a revocation committing meanwhile
                if try db.one("SELECT serial FROM revocations WHERE number = ?", [.text(renewalOf)]) != nil {
                    throw IssuanceError(.renewal, "a certificate of application \(renewalOf) was revoked: its keys renew nothing; apply again")
                }
                if let consume = consumeChallenge { try consume(db) }
            }
            // A key goes in one application only, ever (checked first: it is about the request).
            for (purpose, request) in [(KeyPurpose.auth, requests.auth), (.sign, requests.sign)] {
                // Insert-if-absent, then read back: a concurrent filing with the same key waits on this
                // row and finds it taken, rather than failing on the primary key.
                try db.execute("INSERT INTO application_keys (key_id, number, purpose, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (key_id) DO NOTHING",
                               [.text(request.keyID), .text(number), .text(purpose.rawValue), .double(at)])
                guard try db.one("SELECT number FROM application_keys WHERE key_id = ?", [.text(request.keyID)])?.text(Columns.number) == number else {
                    throw IssuanceError(.keyReused, "the \(purpose.rawValue) key was offered in an application before: make new keys with tulga keys generate")
                }
            }
            var active: [String] = []
            for row in try db.query("SELECT * FROM applications WHERE iin = ?", [.text(holder.iin)]) {
                let facts = try Self.facts(row), other = try row.text(Columns.number)
                if lifecycle.isOverdue(facts, now: at) {
                    try Self.expire(db, row, lifecycle: lifecycle, at: at, outbox: outboxKey)   // past its 30 days: expired now
                } else if facts.status.isActive, other != replaced {
                    active.append(other)
                }
            }
            if let existing = active.first {
                throw IssuanceError(.activeApplication, "application \(existing) is still active; a second one is refused")
            }
            let address = try email?.value ?? replaced.flatMap { try db.one("SELECT email FROM applications WHERE number = ?", [.text($0)])?["email"].text }
            try db.execute("""
                INSERT INTO applications (number, iin, template, channel, status, bin, organization, algorithm, created_at, updated_at,
                  reissue_of, renewal_of, csr_auth, csr_sign, storage, owner_key, surname, given_name, agreement_version, agreement_at, email)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, [.text(number), .text(holder.iin), .text(template.rawValue), .text(channel.rawValue), .text(next.rawValue),
                      SQLValue(holder.bin), SQLValue(holder.organization), .text(requests.algorithm.rawValue), .double(at), .double(at),
                      SQLValue(reissueOf), SQLValue(renewalOf), .text(requests.auth.pem), .text(requests.sign.pem),
                      .text(requests.storage.rawValue), .text(caller.ownerTag), .text(holder.surname), .text(holder.givenName),
                      SQLValue(agreement), agreement == nil ? .null : .double(at), SQLValue(address)])
            try AuditLog.append(db, at: at, actor: caller.actor, action: "application.create", subject: number,
                                detail: "\(template.rawValue) \(channel.rawValue) \(next.rawValue) \(requests.storage.rawValue)")
            if let address {
                try Self.queueMail(db, key: outboxKey, iin: holder.iin, address: address, number: number, status: next, at: at,
                                   subject: .mailSubmittedSubject, body: .mailSubmittedBody)
            }
        }
        return try await issueIfReady(number, caller: caller)
    }

    /// Marks every overdue in-person application expired (the expiry service runs this); returns how many.
    ///
    /// - Returns: How many applications expired.
    /// - Throws: ``StorageError`` `.damagedRow`; ``DatabaseFailure`` from the database.
    @discardableResult
    public func expireStale() async throws -> Int {
        let at = now, lifecycle = lifecycle, outboxKey = outboxKey
        let numbers = try await db.transaction { db in
            try db.query("SELECT number FROM applications WHERE channel = 'in_person' AND status = 'new' AND created_at < ?",
                         [.double(at - lifecycle.inPersonExpirySeconds)]).map { try $0.text(Columns.number) }
        }
        // One transaction each: a damaged row is reported and does not hold back the others.
        var expired = 0, damaged: [String] = []
        for number in numbers {
            do {
                let done = try await db.transaction { db -> Bool in
                    try db.lock("number:" + number)
                    guard let row = try db.one("SELECT * FROM applications WHERE number = ?", [.text(number)]),
                          lifecycle.isOverdue(try Self.facts(row), now: at) else { return false }
                    try Self.expire(db, row, lifecycle: lifecycle, at: at, outbox: outboxKey)
                    return true
                }
                if done { expired += 1 }
            } catch let error as StorageError {
                damaged.append("\(number): \(error.reason)")
            }
        }
        if !damaged.isEmpty { throw StorageError(.damagedRow, "\(expired) expired; damaged applications left as they are: \(damaged.joined(separator: "; "))") }
        return expired
    }

    /// Marks one overdue application expired, inside the caller's transaction.
    static func expire(_ db: any SQLSession, _ row: SQLRow, lifecycle: ApplicationLifecycle, at: Double, outbox: SealingKey) throws {
        let next = try lifecycle.transition(from: try facts(row), event: .expire, now: at)
        try save(db, number: try row.text(Columns.number), status: next, at: at, extra: [], actor: "policy", outbox: outbox)
    }
}
