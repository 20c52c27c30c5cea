public import Foundation
public import TulgaCore
public import TulgaDigitalID
import TulgaAttempts
import TulgaIdentity
public import TulgaPKI
public import TulgaPolicy
public import TulgaStorage
public import TulgaCrypto

/// An application as the status page shows it.
public struct ApplicationView: Sendable, Codable, Hashable {
    /// The application number: seven groups of four digits (93 random bits).
    public var number: String
    /// The applicant's IIN.
    public var iin: String
    /// The template it was filed under.
    public var template: Template
    /// Remote or in person.
    public var channel: Channel
    /// Where it stands.
    public var status: ApplicationStatus
    /// The portal's words for the status, in Russian.
    public var statusTitle: String
    /// The key algorithm of both requests.
    public var algorithm: KeyAlgorithm
    /// Where the applicant's keys live: a folder or a token.
    public var storage: KeyStorageKind
    /// When it was filed, in seconds since 1970.
    public var createdAt: Double
    /// The organisation's BIN, for legal-entity templates.
    public var bin: String?
    /// The organisation's registered name, for legal-entity templates.
    public var organization: String?
    /// Whether the template needs HR's and the first head's approval.
    public var needsHeadApproval: Bool
    /// Whether HR has approved it.
    public var hrApproved: Bool
    /// Whether the first head has approved it.
    public var headApproved: Bool
    /// The application it renews or reissues, if any.
    public var replaces: String?
    /// The certificates' serials in hex, once issued (authentication first).
    public var serials: [String]
    /// The user agreement's version the applicant accepted, and when (remote applications).
    public var agreementVersion: String? = nil
    public var agreementAcceptedAt: Double? = nil
    /// Where the number and status changes are e-mailed, if anywhere.
    public var email: String? = nil
}

/// One change of an application's status («Время изменения статуса»), from the audit log.
public struct StatusChange: Sendable, Codable, Hashable {
    public var status: ApplicationStatus
    /// The portal's words for it.
    public var title: String
    public var at: Double
}

/// The two certificates of an application, for the applicant's key store.
public struct IssuedCertificates: Sendable, Codable, Hashable {
    /// The application.
    public var number: String
    /// The authentication certificate, PEM.
    public var auth: String
    /// The signing certificate, PEM.
    public var sign: String
    /// The issuing CA's then the root's certificate, PEM.
    public var chain: String
    /// The status after taking them.
    public var status: ApplicationStatus
    /// By purpose, for ``KeyPurpose``-keyed callers.
    public var byPurpose: [KeyPurpose: String] { [.auth: auth, .sign: sign] }
}

/// The two requests an application carries, checked: each signed by its own key, RSA-2048+ or
/// P-256, the same algorithm, two different keys.
public struct KeyRequests: Sendable, Hashable {
    /// The authentication key's request.
    public let auth: CertificateRequest
    /// The signing key's request.
    public let sign: CertificateRequest
    /// Where the keys live.
    public let storage: KeyStorageKind
    /// Checks both requests.
    ///
    /// - Parameters:
    ///   - auth: the authentication request, PEM.
    ///   - sign: the signing request, PEM.
    ///   - storage: where the applicant's key store keeps the keys.
    /// - Throws: ``KeyError`` `.invalidRequest` or `.weakKey` for either request, or when both carry the same
    ///   key or different algorithms.
    public init(auth: String, sign: String, storage: KeyStorageKind) throws(KeyError) {
        (self.auth, self.sign, self.storage) = (try CertificateRequest(pem: auth), try CertificateRequest(pem: sign), storage)
        guard self.auth.keyID != self.sign.keyID else { throw KeyError(.invalidRequest, "the AUTH and SIGN requests carry the same key; two key pairs are required") }
        guard self.auth.algorithm == self.sign.algorithm else { throw KeyError(.invalidRequest, "the AUTH and SIGN keys must use the same algorithm") }
    }
    /// The keys' algorithm.
    public var algorithm: KeyAlgorithm { auth.algorithm }
}

/// A one-time challenge the holder signs to renew their keys.
public struct RenewalChallenge: Sendable, Codable, Hashable {
    /// The application whose keys are to be renewed.
    public var number: String
    /// 64 hex digits, used once.
    public var challenge: String
    /// When it expires, in seconds since 1970.
    public var expiresAt: Double
}

/// The portal-plus-CA side: phone codes (`Phone/`), applications filed with the applicant's
/// requests, certificates issued from them, revocation (CRL and OCSP). It never holds a private
/// key of an applicant. Owns `mobile_citizens`, `sms_codes`, `sms_failures`,
/// `phone_verifications`, `applications`, `application_keys`, `renewal_challenges`, `revocations`, `crls` and the sign-in
/// tables (`signin_challenges`, `signin_pending`, `signin_sessions`); reads the Digital ID, the
/// legal-entity register and the attempt counter only through their modules.
///
/// ```swift
/// let issuance = IssuanceService(database: db, clock: SystemClock(), digitalIDs: ids, ca: try LocalCA(caConfig), outboxKey: keys.outbox)
/// try await issuance.requestCode(iin: iin)
/// try await issuance.confirmCode(iin: iin, code: code)
/// let requests = try KeyRequests(auth: authPEM, sign: signPEM, storage: .folder)   // from the key store
/// let application = try await issuance.applyRemote(iin: iin, pin: pin, requests: requests, caller: .system(keyID))
/// let certificates = try await issuance.install(application.number, caller: .system(keyID))
/// ```
public final class IssuanceService: Sendable {
    /// The shared database.
    public let database: any SQLDatabase
    /// The clock applications, codes and certificates are dated with.
    public let clock: any WallClock
    /// The Digital ID records remote applications are checked against.
    public let digitalIDs: DigitalIDRecords
    /// The CA, or `nil` when none is set up (applications then wait «на подписи»).
    public let ca: LocalCA?
    /// The SMS-code rules.
    public let sms: SMSCodePolicy
    /// The application lifecycle, with its in-person expiry.
    public let lifecycle: ApplicationLifecycle
    /// The attempt limit behind the in-person gate.
    public let attempts: AttemptPolicy
    /// How long sign-in challenges, sign-ins waiting for a code, and sessions last.
    public let signInPolicy: SignInPolicy
    /// Whether a remote application needs the Digital ID's identity-document step done.
    public let documentStepRequired: Bool
    /// The key SMS bodies are sealed with in the outbox.
    let outboxKey: SealingKey

    /// Creates the service.
    ///
    /// - Parameters:
    ///   - database: the shared database.
    ///   - clock: the clock.
    ///   - digitalIDs: the Digital ID records.
    ///   - ca: the CA, or `nil` when none is set up.
    ///   - outboxKey: the key SMS bodies are sealed with.
    ///   - sms: the SMS-code rules.
    ///   - lifecycle: the application lifecycle.
    ///   - attempts: the attempt limit behind the in-person gate.
    ///   - signInPolicy: the sign-in lifetimes.
    ///   - documentStepRequired: whether a remote application needs the identity-document step done.
    public init(database: any SQLDatabase, clock: any WallClock, digitalIDs: DigitalIDRecords, ca: LocalCA?, outboxKey: SealingKey,
                sms: SMSCodePolicy = SMSCodePolicy(), lifecycle: ApplicationLifecycle = ApplicationLifecycle(), attempts: AttemptPolicy = AttemptPolicy(),
                signInPolicy: SignInPolicy = SignInPolicy(), documentStepRequired: Bool = true) {
        (self.database, self.clock, self.digitalIDs, self.ca, self.outboxKey) = (database, clock, digitalIDs, ca, outboxKey)
        (self.sms, self.lifecycle, self.attempts, self.signInPolicy) = (sms, lifecycle, attempts, signInPolicy)
        self.documentStepRequired = documentStepRequired
    }

    var db: any SQLDatabase { database }
    var now: Double { clock.now() }

    enum Columns: String {
        case number, iin, template, channel, status, algorithm, createdAt = "created_at", headIIN = "head_iin", hrIIN = "hr_iin", storage, bin, organization
        case headApprovedAt = "head_approved_at", hrApprovedAt = "hr_approved_at", serialAuth = "serial_auth", serialSign = "serial_sign"
        case certAuth = "cert_auth", certSign = "cert_sign", csrAuth = "csr_auth", csrSign = "csr_sign", ownerKey = "owner_key"
        case reissueOf = "reissue_of", renewalOf = "renewal_of", validUntil = "valid_until", surname, givenName = "given_name"
        case serial, revokedAt = "revoked_at", reason, verifiedAt = "verified_at", phone, id, codeHash = "code_hash", expiresAt = "expires_at"
        case usedAt = "used_at", n, challenge, owner, agreementVersion = "agreement_version", agreementAt = "agreement_at"
        case action, detail, at, email
    }

    static func checkIIN(_ iin: String) throws -> String {
        do { return try IIN(iin).value } catch { throw IssuanceError(.invalidIdentity, "invalid IIN \(iin): \(error)") }
    }

    static func facts(_ row: SQLRow) throws -> ApplicationFacts {
        ApplicationFacts(status: try row.value(Columns.status, as: ApplicationStatus.self), channel: try row.value(Columns.channel, as: Channel.self),
                         template: try row.value(Columns.template, as: Template.self), createdAt: try row.double(Columns.createdAt),
                         hrApproved: try row.optionalDouble(Columns.hrApprovedAt) != nil,
                         headApproved: try row.optionalDouble(Columns.headApprovedAt) != nil)
    }

    /// The application's row when `caller` may see it; another system's reads as absent.
    static func owned(_ db: any SQLSession, _ number: String, by caller: Caller) throws -> SQLRow {
        guard let row = try db.one("SELECT * FROM applications WHERE number = ?", [.text(number)]),
              caller.owns(try row.optionalText(Columns.ownerKey)) else {
            throw IssuanceError(.notFound, "no application \(number)")
        }
        return row
    }

    /// The application as stored, when `caller` may see it (past its 30 days an in-person one reads as expired).
    ///
    /// - Parameters:
    ///   - number: the application number.
    ///   - caller: who asks; another system's application reads as absent.
    /// - Returns: The application.
    /// - Throws: ``IssuanceError`` `.notFound`; ``StorageError`` `.damagedRow`; ``DatabaseFailure`` from the database.
    public func status(_ number: String, caller: Caller) async throws -> ApplicationView {
        try view(try await db.transaction { db in try Self.owned(db, number, by: caller) })
    }

    /// The application's status changes, oldest first, each with its time: read from the audit log,
    /// whose rows every change writes in its own transaction.
    ///
    /// - Parameters:
    ///   - number: the application's number.
    ///   - caller: who asks; must own the application.
    /// - Throws: ``IssuanceError`` `.notFound`; ``StorageError``; ``DatabaseFailure``.
    public func history(_ number: String, caller: Caller) async throws -> [StatusChange] {
        try await history(number) { row in caller.owns(try row.optionalText(Columns.ownerKey)) }
    }

    /// The applications `caller` filed itself (its owner tag recorded with them), newest first: a
    /// browser's own, say. Staff list only what they filed under their own name here.
    ///
    /// - Parameter caller: who asks.
    /// - Returns: The applications (past their 30 days an in-person one reads as expired).
    /// - Throws: ``StorageError`` `.damagedRow`; ``DatabaseFailure``.
    public func applications(caller: Caller) async throws -> [ApplicationView] {
        let rows = try await db.transaction { db in
            try db.query("SELECT * FROM applications WHERE owner_key = ? ORDER BY created_at DESC, number", [.text(caller.ownerTag)])
        }
        return try rows.map(view)
    }

    /// The applications of `iin` filed in the browser portal, by any of its sessions, newest first: what a later
    /// session bound to that IIN by its SMS code may read (never what a calling system filed).
    ///
    /// - Parameter iin: the IIN the session's SMS code bound.
    /// - Returns: The applications.
    /// - Throws: ``StorageError`` `.damagedRow`; ``DatabaseFailure``.
    public func portalApplications(iin: String) async throws -> [ApplicationView] {
        let rows = try await db.transaction { db in
            try db.query("SELECT * FROM applications WHERE iin = ? AND substr(owner_key, 1, 7) = 'portal:' ORDER BY created_at DESC, number", [.text(iin)])
        }
        return try rows.map(view)
    }

    /// The portal session that filed application `number`, when it is `iin`'s and was filed in the portal: a later
    /// session bound to that IIN acts as it (takes and installs the certificates), so a closed tab locks nobody out.
    ///
    /// - Parameters:
    ///   - number: the application's number.
    ///   - iin: the IIN the asking session's SMS code bound.
    /// - Returns: The filing session as a caller, `nil` for another IIN's, a calling system's, or none.
    /// - Throws: ``DatabaseFailure``.
    public func portalFiler(_ number: String, iin: String) async throws -> Caller? {
        let owner = try await db.transaction { db in
            try db.one("SELECT owner_key FROM applications WHERE number = ? AND iin = ?", [.text(number), .text(iin)])?["owner_key"].text
        }
        guard let owner, owner.hasPrefix("portal:"), owner.count > 7 else { return nil }
        return .portal(String(owner.dropFirst(7)))
    }

    /// The status changes of the application `number` when `allowed` accepts its row; another reads as absent.
    func history(_ number: String, allowed: @escaping @Sendable (SQLRow) throws -> Bool) async throws -> [StatusChange] {
        let rows = try await db.transaction { db in
            guard let row = try db.one("SELECT * FROM applications WHERE number = ?", [.text(number)]), try allowed(row) else {
                throw IssuanceError(.notFound, "no application \(number)")
            }
            return try db.query("SELECT action, detail, at FROM audit_log WHERE subject = ? AND action LIKE 'application.%' ORDER BY seq", [.text(number)])
        }
        return try rows.compactMap { row in
            let action = String(try row.text(Columns.action).dropFirst("application.".count))
            // The creation row names the first status in its detail: "template channel status storage".
            let name = action == "create" ? try row.text(Columns.detail).split(separator: " ").dropFirst(2).first.map(String.init) ?? "" : action
            guard let status = ApplicationStatus(rawValue: name) else { return nil }
            return StatusChange(status: status, title: status.title, at: try row.double(Columns.at))
        }
    }

    func view(_ row: SQLRow) throws -> ApplicationView {
        var facts = try Self.facts(row)
        if lifecycle.isOverdue(facts, now: now) { facts.status = .expired }
        return ApplicationView(
            number: try row.text(Columns.number), iin: try row.text(Columns.iin), template: facts.template, channel: facts.channel,
            status: facts.status, statusTitle: facts.status.title, algorithm: try row.value(Columns.algorithm, as: KeyAlgorithm.self),
            storage: KeyStorageKind(rawValue: try row.optionalText(Columns.storage) ?? "") ?? .folder, createdAt: facts.createdAt,
            bin: try row.optionalText(Columns.bin), organization: try row.optionalText(Columns.organization),
            needsHeadApproval: facts.template.needsHeadApproval, hrApproved: facts.hrApproved,
            headApproved: try row.optionalDouble(Columns.headApprovedAt) != nil,
            replaces: try row.optionalText(Columns.reissueOf) ?? row.optionalText(Columns.renewalOf),
            serials: [try row.optionalText(Columns.serialAuth), try row.optionalText(Columns.serialSign)].compactMap { $0 },
            agreementVersion: try row.optionalText(Columns.agreementVersion), agreementAcceptedAt: try row.optionalDouble(Columns.agreementAt),
            email: try row.optionalText(Columns.email))
    }

    /// Loads the application (owned by `caller`), asks the pure lifecycle for `event`, saves the
    /// new status with `extra` columns and an audit row, in one transaction.
    func transition(_ number: String, _ event: ApplicationEvent, caller: Caller, actor: String? = nil, set extra: [(String, SQLValue)] = [],
                    check: @escaping @Sendable (any SQLSession, SQLRow) throws -> Void = { _, _ in }) async throws -> ApplicationView {
        let at = now, lifecycle = lifecycle, outboxKey = outboxKey
        let row = try await db.transaction { db in
            try db.lock("number:" + number)
            let row = try Self.owned(db, number, by: caller)
            let next = try lifecycle.transition(from: try Self.facts(row), event: event, now: at)
            try check(db, row)
            try Self.save(db, number: number, status: next, at: at, extra: extra, actor: actor ?? caller.actor, outbox: outboxKey)
            return try Self.owned(db, number, by: caller)
        }
        return try view(row)
    }

    /// Saves a new status with its audit row and, when the application has an address, its e-mail.
    static func save(_ db: any SQLSession, number: String, status: ApplicationStatus, at: Double, extra: [(String, SQLValue)], actor: String,
                     outbox: SealingKey) throws {
        let sets = [("status", SQLValue.text(status.rawValue)), ("updated_at", .double(at))] + extra
        try db.execute("UPDATE applications SET \(sets.map { "\($0.0) = ?" }.joined(separator: ", ")) WHERE number = ?", sets.map(\.1) + [.text(number)])
        try AuditLog.append(db, at: at, actor: actor, action: "application.\(status.rawValue)", subject: number, detail: "")
        if let row = try db.one("SELECT iin, email FROM applications WHERE number = ?", [.text(number)]), let address = try row.optionalText(Columns.email) {
            try queueMail(db, key: outbox, iin: try row.text(Columns.iin), address: address, number: number, status: status, at: at,
                          subject: .mailStatusSubject, body: .mailStatusBody)
        }
    }

    /// Queues an e-mail naming the application and its status, in the applicant's language, in the caller's transaction.
    static func queueMail(_ db: any SQLSession, key: SealingKey, iin: String, address: String, number: String, status: ApplicationStatus, at: Double,
                          subject: MessageKey, body: MessageKey) throws {
        let language = try AttemptRecords.language(db, iin: iin)
        try Outbox.enqueueMail(db, key: key, iin: iin, address: address, language: language, subject: Message(subject),
                               body: Message(body, ["number": number, "status": Message(status.message).text(language)]), at: at)
    }
}
