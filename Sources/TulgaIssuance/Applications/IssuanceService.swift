public import Foundation
public import TulgaCore
public import TulgaCrypto
public import TulgaDigitalID
import TulgaIdentity
public import TulgaStorage

/// An application as the status page shows it.
public struct ApplicationView: Sendable, Codable, Hashable {
    /// The application number: six groups of four digits.
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
    /// The key algorithm of both key pairs.
    public var algorithm: KeyAlgorithm
    /// When it was filed, in seconds since 1970.
    public var createdAt: Double
    /// Whether the template needs the first head's approval.
    public var needsHeadApproval: Bool
    /// Whether the first head has approved it.
    public var headApproved: Bool
    /// The certificates' serials in hex, once issued (authentication first).
    public var serials: [String]
}

/// One installed PKCS#12 container: its national-CA file name and its bytes.
public struct InstalledContainer: Sendable, Hashable {
    /// Authentication or signing.
    public var purpose: KeyPurpose
    /// The national CA's file name, e.g. `AUTH_RSA256_<serial>.p12`.
    public var fileName: String
    /// The container, DER.
    public var pkcs12: Data
}

/// The portal-plus-CA side: phone codes (`Phone/`), applications, keys, certificates,
/// installation. Owns `mobile_citizens`, `sms_codes`, `sms_failures`, `phone_verifications`,
/// `applications` and `revocations`; reads the Digital ID only through ``DigitalIDRecords``.
///
/// ```swift
/// let issuance = IssuanceService(database: db, cipher: cipher, clock: SystemClock(), digitalIDs: ids, ca: try LocalCA(caConfig))
/// try await issuance.requestCode(iin: iin)
/// try await issuance.confirmCode(iin: iin, code: code)
/// let application = try await issuance.applyRemote(iin: iin, pin: pin)
/// _ = try await issuance.issue(application.number)
/// let containers = try await issuance.install(application.number, password: password)
/// ```
public final class IssuanceService: Sendable {
    /// The shared database.
    public let database: any SQLDatabase
    /// Seals private keys until installation.
    public let cipher: EvidenceCipher
    /// The clock applications, codes and certificates are dated with.
    public let clock: any WallClock
    /// The Digital ID records remote applications are checked against.
    public let digitalIDs: DigitalIDRecords
    /// The CA, or `nil` when none is set up (issuing, installing and CRLs then refuse).
    public let ca: LocalCA?
    /// The SMS-code rules.
    public let sms: SMSCodePolicy
    /// The application lifecycle, with its in-person expiry.
    public let lifecycle: ApplicationLifecycle

    /// Creates the service.
    ///
    /// - Parameters:
    ///   - database: the shared database.
    ///   - cipher: the evidence key private keys are sealed with.
    ///   - clock: the clock.
    ///   - digitalIDs: the Digital ID records.
    ///   - ca: the CA, or `nil` when none is set up.
    ///   - sms: the SMS-code rules.
    ///   - lifecycle: the application lifecycle.
    public init(database: any SQLDatabase, cipher: EvidenceCipher, clock: any WallClock, digitalIDs: DigitalIDRecords, ca: LocalCA?,
                sms: SMSCodePolicy = SMSCodePolicy(), lifecycle: ApplicationLifecycle = ApplicationLifecycle()) {
        self.database = database
        self.cipher = cipher
        self.clock = clock
        self.digitalIDs = digitalIDs
        self.ca = ca
        self.sms = sms
        self.lifecycle = lifecycle
    }

    var db: any SQLDatabase { database }
    var now: Double { clock.now() }

    enum Columns: String {
        case number, iin, template, channel, status, algorithm, createdAt = "created_at", headIIN = "head_iin"
        case headApprovedAt = "head_approved_at", serialAuth = "serial_auth", serialSign = "serial_sign", keyID = "key_id"
        case keyAuth = "key_auth", keySign = "key_sign", certAuth = "cert_auth", certSign = "cert_sign", csrAuth = "csr_auth", csrSign = "csr_sign"
        case serial, revokedAt = "revoked_at", reason, verifiedAt = "verified_at", phone, id, codeHash = "code_hash", expiresAt = "expires_at"
        case usedAt = "used_at", n
    }

    static func checkIIN(_ iin: String) throws -> String {
        do { return try IIN(iin).value } catch { throw IssuanceError(.invalidIdentity, "invalid IIN \(iin): \(error)") }
    }

    static func facts(_ row: SQLRow) throws -> ApplicationFacts {
        ApplicationFacts(status: try row.value(Columns.status, as: ApplicationStatus.self), channel: try row.value(Columns.channel, as: Channel.self),
                         template: try row.value(Columns.template, as: Template.self), createdAt: try row.double(Columns.createdAt))
    }

    // MARK: Applications

    static func newNumber() throws -> String {
        // 80 random bits in 4-digit groups: unique and unguessable.
        let digits = try randomBytes(10).map { String(format: "%03d", Int($0)) }.joined()
        return stride(from: 0, to: 24, by: 4).map { i in
            String(digits[digits.index(digits.startIndex, offsetBy: i)..<digits.index(digits.startIndex, offsetBy: i + 4)])
        }.joined(separator: "-")
    }

    /// A remote application: needs a confirmed phone, an active Digital ID, a valid consent and the PIN.
    /// Generates and seals the two key pairs and their CSRs.
    ///
    /// - Parameters:
    ///   - iin: the applicant's IIN.
    ///   - pin: the applicant's Digital ID PIN.
    ///   - template: the template to file under.
    ///   - algorithm: the key algorithm.
    ///   - organization: the legal entity's name, for legal-entity templates.
    ///   - bin: the legal entity's BIN, for legal-entity templates.
    ///   - headIIN: the first head who must approve an employee's application.
    ///   - reissueOf: the number of the application this one reissues.
    /// - Returns: The new application (`signing`, or `identified` awaiting the first head).
    /// - Throws: ``IssuanceError`` naming the missing step:
    ///   `.invalidIdentity` for a bad IIN or BIN, `.code`, `.digitalID`, `.consent`, `.pin`, `.headApproval`,
    ///   `.activeApplication`; ``PKIError``, `CryptoFailure`, ``StorageError`` and ``DatabaseFailure`` for
    ///   failures on our side.
    public func applyRemote(iin: String, pin: String, template: Template = .individual, algorithm: KeyAlgorithm = .rsa2048,
                            organization: String? = nil, bin: String? = nil, headIIN: String? = nil, reissueOf: String? = nil) async throws -> ApplicationView {
        let holder = try await remoteHolder(iin: iin, pin: pin, template: template, organization: organization, bin: bin, headIIN: headIIN)
        return try await create(holder: holder, template: template, channel: .remote, algorithm: algorithm, headIIN: headIIN, reissueOf: reissueOf)
    }

    /// Every check of a remote application, the PIN last: who the certificates are for.
    func remoteHolder(iin: String, pin: String, template: Template, organization: String?, bin: String?, headIIN: String?) async throws -> Holder {
        let iin = try Self.checkIIN(iin)
        if template.isLegalEntity {
            guard let bin, let organization, !organization.isEmpty else { throw IssuanceError(.invalidIdentity, "a legal-entity template needs --bin and --organization") }
            do { _ = try BIN(bin) } catch { throw IssuanceError(.invalidIdentity, "invalid BIN \(bin): \(error)") }
            if template.needsHeadApproval {
                guard let headIIN else { throw IssuanceError(.headApproval, "an employee application names the first head (--head-iin)") }
                _ = try Self.checkIIN(headIIN)
            }
        }
        let at = now
        let verified = try await db.transaction { db in
            try db.one("SELECT verified_at FROM phone_verifications WHERE iin = ?", [.text(iin)])?.double(Columns.verifiedAt)
        }
        guard sms.confirmationIsFresh(verifiedAt: verified, now: at) else { throw IssuanceError(.code, "confirm the phone with an SMS code first") }
        guard let id = try await digitalIDs.record(iin), id.status == .active else {
            throw IssuanceError(.digitalID, "a remote application needs an active Digital ID")
        }
        guard try await digitalIDs.validConsent(iin: iin, scope: Consent.caIdentityScope) != nil else {
            throw IssuanceError(.consent, "grant the CA service consent to your identity data first")
        }
        switch try await digitalIDs.checkPIN(iin: iin, pin: pin) {
        case .accepted: break
        case .wrong(let left): throw IssuanceError(.pin, "wrong PIN; \(left) tries left")
        case .locked: throw IssuanceError(.pin, "the Digital ID PIN is locked")
        case .notSet: throw IssuanceError(.pin, "set a Digital ID PIN first")
        }
        return Holder(iin: iin, surname: id.surname, givenName: id.givenName, organization: organization, bin: bin)
    }

    /// An application taken at a service centre; an operator confirms it within 30 days or it expires.
    ///
    /// - Parameters:
    ///   - iin: the applicant's IIN.
    ///   - surname: the family name, as checked at the desk; upper-cased.
    ///   - givenName: the given name, as checked at the desk; upper-cased.
    ///   - operatorID: the operator who takes it; audited.
    ///   - template: the template to file under.
    ///   - algorithm: the key algorithm.
    /// - Returns: The new application, `new`.
    /// - Throws: ``IssuanceError`` `.invalidIdentity` for a bad IIN, `.activeApplication` if another is still
    ///   active; ``PKIError``, `CryptoFailure`, ``StorageError`` and ``DatabaseFailure`` for failures on our side.
    public func applyInPerson(iin: String, surname: String, givenName: String, operator operatorID: String,
                              template: Template = .individual, algorithm: KeyAlgorithm = .rsa2048) async throws -> ApplicationView {
        let iin = try Self.checkIIN(iin)
        return try await create(holder: Holder(iin: iin, surname: surname.uppercased(), givenName: givenName.uppercased()), template: template,
                                channel: .inPerson, algorithm: algorithm, headIIN: nil, reissueOf: nil, actor: "operator:\(operatorID)")
    }

    private func create(holder: Holder, template: Template, channel: Channel, algorithm: KeyAlgorithm, headIIN: String?,
                        reissueOf: String?, actor: String? = nil) async throws -> ApplicationView {
        let number = try Self.newNumber(), at = now, lifecycle = lifecycle
        var sealed: [KeyPurpose: Data] = [:], csrs: [KeyPurpose: String] = [:]
        for purpose in KeyPurpose.allCases {
            let key = try PKI.generateKey(algorithm)
            sealed[purpose] = try cipher.seal(Data(key.utf8))
            csrs[purpose] = try PKI.csr(keyPEM: key, subject: holder.subject)
        }
        let next = ApplicationLifecycle.initialStatus(channel: channel, template: template)
        let keyID = cipher.keyID
        let keys = (auth: sealed[.auth], sign: sealed[.sign]), requests = (auth: csrs[.auth], sign: csrs[.sign])
        try await db.transaction { db in
            try db.lock("application:" + holder.iin)
            var active: [SQLRow] = []
            for row in try db.query("SELECT * FROM applications WHERE iin = ?", [.text(holder.iin)]) {
                let facts = try Self.facts(row)
                if lifecycle.isOverdue(facts, now: at) {
                    // Past its 30 days: expired now, whether or not the expiry service has run.
                    try Self.expire(db, row, lifecycle: lifecycle, at: at)
                } else if facts.status.isActive {
                    active.append(row)
                }
            }
            if let existing = active.first?["number"].text {
                throw IssuanceError(.activeApplication, "application \(existing) is still active; a second one is refused")
            }
            try db.execute("""
                INSERT INTO applications (number, iin, template, channel, status, bin, organization, head_iin, algorithm, created_at, updated_at,
                  reissue_of, key_auth, key_sign, key_id, csr_auth, csr_sign)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, [.text(number), .text(holder.iin), .text(template.rawValue), .text(channel.rawValue), .text(next.rawValue),
                      SQLValue(holder.bin), SQLValue(holder.organization), SQLValue(headIIN), .text(algorithm.rawValue), .double(at), .double(at),
                      SQLValue(reissueOf), SQLValue(keys.auth), SQLValue(keys.sign), .text(keyID), SQLValue(requests.auth), SQLValue(requests.sign)])
            try AuditLog.append(db, at: at, actor: actor ?? "applicant:\(holder.iin)", action: "application.create", subject: number,
                                detail: "\(template.rawValue) \(channel.rawValue) \(next.rawValue)")
        }
        return try await status(number)
    }

    /// The application as stored (the expiry service marks overdue ones; see ``expireStale()``).
    ///
    /// - Parameter number: the application number.
    /// - Returns: The application.
    /// - Throws: ``IssuanceError`` `.notFound`; ``StorageError`` `.damagedRow`; ``DatabaseFailure`` from the database.
    public func status(_ number: String) async throws -> ApplicationView {
        try view(try await row(number))
    }

    func row(_ number: String) async throws -> SQLRow {
        let row = try await db.transaction { db in try db.one("SELECT * FROM applications WHERE number = ?", [.text(number)]) }
        guard let row else { throw IssuanceError(.notFound, "no application \(number)") }
        return row
    }

    func view(_ row: SQLRow) throws -> ApplicationView {
        var facts = try Self.facts(row)
        // Past its 30 days an application reads as expired before the expiry service marks it.
        if lifecycle.isOverdue(facts, now: now) { facts.status = .expired }
        return ApplicationView(number: try row.text(Columns.number), iin: try row.text(Columns.iin), template: facts.template, channel: facts.channel,
                               status: facts.status, statusTitle: facts.status.title, algorithm: try row.value(Columns.algorithm, as: KeyAlgorithm.self),
                               createdAt: facts.createdAt, needsHeadApproval: facts.template.needsHeadApproval,
                               headApproved: try row.optionalDouble(Columns.headApprovedAt) != nil,
                               serials: [try row.optionalText(Columns.serialAuth), try row.optionalText(Columns.serialSign)].compactMap { $0 })
    }

    /// Loads the application, asks the pure lifecycle for `event`, saves the new status with
    /// `extra` columns and an audit row, in one transaction.
    private func transition(_ number: String, _ event: ApplicationEvent, actor: String, set extra: [(String, SQLValue)] = [],
                            check: @escaping @Sendable (SQLRow) throws -> Void = { _ in }) async throws -> ApplicationView {
        let at = now, lifecycle = lifecycle
        try await db.transaction { db in
            try db.lock("number:" + number)
            guard let row = try db.one("SELECT * FROM applications WHERE number = ?", [.text(number)]) else {
                throw IssuanceError(.notFound, "no application \(number)")
            }
            let next = try lifecycle.transition(from: try Self.facts(row), event: event, now: at)
            try check(row)
            try Self.save(db, number: number, status: next, at: at, extra: extra, actor: actor)
        }
        return try await status(number)
    }

    static func save(_ db: any SQLSession, number: String, status: ApplicationStatus, at: Double, extra: [(String, SQLValue)], actor: String) throws {
        let sets = [("status", SQLValue.text(status.rawValue)), ("updated_at", .double(at))] + extra
        try db.execute("UPDATE applications SET \(sets.map { "\($0.0) = ?" }.joined(separator: ", ")) WHERE number = ?", sets.map(\.1) + [.text(number)])
        try AuditLog.append(db, at: at, actor: actor, action: "application.\(status.rawValue)", subject: number, detail: "")
    }

    /// The first head approves an employee's application.
    ///
    /// - Parameters:
    ///   - number: the application number.
    ///   - headIIN: the first head's IIN; must be the one the application names.
    ///   - pin: the first head's Digital ID PIN.
    /// - Returns: The application, now `signing`.
    /// - Throws: ``IssuanceError`` `.pin` if the PIN is not accepted, `.headApproval` for the wrong person or a
    ///   template that needs no approval, `.state` or `.notFound`; ``DigitalIDError`` `.notFound` if the head has no
    ///   Digital ID; ``StorageError``; ``DatabaseFailure``.
    public func approveByHead(_ number: String, headIIN: String, pin: String) async throws -> ApplicationView {
        switch try await digitalIDs.checkPIN(iin: headIIN, pin: pin) {
        case .accepted: break
        default: throw IssuanceError(.pin, "the first head's PIN was not accepted")
        }
        return try await transition(number, .approveByHead, actor: "head:\(headIIN)", set: [("head_approved_at", .double(now))]) { row in
            guard try row.optionalText(Columns.headIIN) == headIIN else { throw IssuanceError(.headApproval, "only the named first head may approve it") }
        }
    }

    /// An operator confirms an in-person application (identity checked at the desk); refused
    /// once it is past its 30 days, whether or not the expiry service has run.
    ///
    /// - Parameters:
    ///   - number: the application number.
    ///   - operatorID: the operator who confirms it; audited.
    /// - Returns: The application, now `signing`.
    /// - Throws: ``IssuanceError`` `.state` for a remote, overdue or not-`new` application, `.notFound`;
    ///   ``StorageError``; ``DatabaseFailure``.
    public func confirmInPerson(_ number: String, operator operatorID: String) async throws -> ApplicationView {
        try await transition(number, .confirmInPerson, actor: "operator:\(operatorID)")
    }

    /// Marks every overdue in-person application expired and forgets its keys (the expiry
    /// service runs this); returns how many.
    ///
    /// - Returns: How many applications expired.
    /// - Throws: ``StorageError`` `.damagedRow`; ``DatabaseFailure`` from the database.
    @discardableResult
    public func expireStale() async throws -> Int {
        let at = now, lifecycle = lifecycle
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
                    try Self.expire(db, row, lifecycle: lifecycle, at: at)
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

    /// Marks one overdue application expired and forgets its keys, inside the caller's transaction.
    static func expire(_ db: any SQLSession, _ row: SQLRow, lifecycle: ApplicationLifecycle, at: Double) throws {
        let next = try lifecycle.transition(from: try facts(row), event: .expire, now: at)
        try save(db, number: try row.text(Columns.number), status: next, at: at, extra: [("key_auth", .null), ("key_sign", .null)], actor: "policy")
    }

    /// The CA signs both CSRs.
    ///
    /// - Parameter number: the application number.
    /// - Returns: The application, now `issued`, with both serials.
    /// - Throws: ``IssuanceError`` `.ca` without a CA, `.notFound`, `.state` or `.headApproval` if the lifecycle
    ///   refuses; ``PKIError`` if signing fails; ``StorageError``; ``DatabaseFailure``.
    public func issue(_ number: String) async throws -> ApplicationView {
        let row = try await row(number)
        guard let ca else { throw IssuanceError(.ca, "no CA: run tulga ca init") }
        let facts = try Self.facts(row)
        _ = try lifecycle.transition(from: facts, event: .issue, now: now)   // refuse before signing anything
        let remote = facts.channel == .remote, date = clock.date
        var certs: [KeyPurpose: String] = [:]
        for purpose in KeyPurpose.allCases {
            guard let csr = try row.optionalText(purpose == .auth ? Columns.csrAuth : Columns.csrSign) else { throw IssuanceError(.state, "the application has no CSR") }
            certs[purpose] = try ca.issue(csrPEM: csr, extensions: purpose.extensions(template: facts.template, remote: remote, crlURL: ca.config.crlURL),
                                          now: date)
        }
        let auth = certs[.auth] ?? "", sign = certs[.sign] ?? ""
        return try await transition(number, .issue, actor: "ca",
                                    set: [("cert_auth", .text(auth)), ("cert_sign", .text(sign)),
                                          ("serial_auth", .text(try PKI.serialHex(certPEM: auth))),
                                          ("serial_sign", .text(try PKI.serialHex(certPEM: sign)))])
    }

    /// Seals both keys with their certificates into PKCS#12 containers under `password`, hands
    /// them to `deliver` (the CLI writes the files, the server encodes the response), and only
    /// once that succeeded marks the application installed and forgets the private keys. A
    /// delivery that fails leaves the application issued, keys intact, to install again.
    ///
    /// ```swift
    /// let paths = try await issuance.install(number, password: password) { try write($0, to: folder) }
    /// ```
    ///
    /// - Parameters:
    ///   - number: the application number.
    ///   - password: the container password; must pass ``ContainerPassword``.
    ///   - deliver: takes the authentication and signing containers; its result is returned.
    /// - Returns: What `deliver` returned.
    /// - Throws: ``IssuanceError`` `.password`, `.ca` without a CA, `.notFound`, `.state` (e.g. already installed);
    ///   `CryptoFailure` if a sealed key does not open; ``PKIError``; ``StorageError``; ``DatabaseFailure``;
    ///   whatever `deliver` throws (nothing is changed then).
    public func install<T: Sendable>(_ number: String, password: String, deliver: ([InstalledContainer]) throws -> T) async throws -> T {
        let row = try await row(number)
        try ContainerPassword.check(password)
        guard let ca else { throw IssuanceError(.ca, "no CA: run tulga ca init") }
        _ = try lifecycle.transition(from: try Self.facts(row), event: .install, now: now)
        let keyID = try row.optionalText(Columns.keyID) ?? "", iin = try row.text(Columns.iin)
        var containers: [InstalledContainer] = []
        for purpose in KeyPurpose.allCases {
            let columns = purpose == .auth ? (Columns.keyAuth, Columns.certAuth, Columns.serialAuth) : (Columns.keySign, Columns.certSign, Columns.serialSign)
            guard let sealed = try row.optionalBlob(columns.0), let cert = try row.optionalText(columns.1), let serial = try row.optionalText(columns.2) else {
                throw IssuanceError(.state, "the application has no \(purpose.rawValue) key or certificate")
            }
            let key = String(decoding: try cipher.open(sealed, keyID: keyID), as: UTF8.self)
            let p12 = try PKI.pkcs12(keyPEM: key, certPEM: cert, chainPEM: ca.chainPEM, password: password, name: "\(purpose.rawValue) \(iin)")
            containers.append(InstalledContainer(purpose: purpose, fileName: purpose.fileName(serialHex: serial), pkcs12: p12))
        }
        let delivered = try deliver(containers)
        _ = try await transition(number, .install, actor: "applicant:\(iin)",
                                 set: [("installed_at", .double(now)), ("key_auth", .null), ("key_sign", .null)])
        return delivered
    }

    /// Renewal of remotely issued keys is refused with the portal's words; a reissue is offered.
    ///
    /// - Parameter number: the application number.
    /// - Returns: Never: it always throws.
    /// - Throws: ``IssuanceError`` `.renewal` (with the portal's words for remote keys), or `.notFound`.
    public func renew(_ number: String) async throws -> Never {
        let view = try await status(number)
        if view.channel == .remote {
            throw IssuanceError(.renewal, "«\(renewalRefusal)». Вы можете подать заявку на перевыпуск: tulga issuance reissue \(number)",
                                message: Message(.refusalRenewal))
        }
        throw IssuanceError(.renewal, "renew in-person keys at a service centre")
    }

    /// Revokes the old certificates (superseded) and files a new remote application.
    ///
    /// - Parameters:
    ///   - number: the application to reissue; must be issued, installed or revoked.
    ///   - pin: the applicant's Digital ID PIN.
    /// - Returns: The new application.
    /// - Throws: ``IssuanceError`` `.state` for an application never issued, and whatever
    ///   ``revoke(serial:reason:)`` and ``applyRemote(iin:pin:template:algorithm:organization:bin:headIIN:reissueOf:)`` throw.
    public func reissue(_ number: String, pin: String) async throws -> ApplicationView {
        let old = try await status(number)
        guard [.installed, .issued, .revoked].contains(old.status) else { throw IssuanceError(.state, "only issued or installed keys are reissued") }
        let revoked = Set(try await db.transaction { db in
            try db.query("SELECT serial FROM revocations WHERE number = ?", [.text(number)]).map { try $0.text(Columns.serial) }
        })
        // Every check (phone, Digital ID, consent, PIN) before anything is revoked: a wrong PIN revokes nothing.
        let holder = try await remoteHolder(iin: old.iin, pin: pin, template: old.template, organization: nil, bin: nil, headIIN: nil)
        for serial in old.serials where !revoked.contains(serial.uppercased()) { try await revoke(serial: serial, reason: .superseded) }
        return try await create(holder: holder, template: old.template, channel: .remote, algorithm: old.algorithm, headIIN: nil, reissueOf: number)
    }

    // MARK: Revocation

    /// Revokes one certificate; when both of an application's are revoked, so is the application.
    ///
    /// - Parameters:
    ///   - serial: the certificate's serial in hex, any case.
    ///   - reason: the RFC 5280 reason recorded in the CRL.
    /// - Throws: ``IssuanceError`` `.notFound` for an unknown serial, `.state` if it is already revoked;
    ///   ``StorageError``; ``DatabaseFailure``.
    public func revoke(serial: String, reason: RevocationReason) async throws {
        let serial = serial.uppercased(), at = now, lifecycle = lifecycle
        try await db.transaction { db in
            try db.lock("revocation")
            guard let app = try db.one("SELECT * FROM applications WHERE serial_auth = ? OR serial_sign = ?", [.text(serial), .text(serial)]) else {
                throw IssuanceError(.notFound, "no certificate with serial \(serial)")
            }
            let number = try app.text(Columns.number)
            guard try db.one("SELECT serial FROM revocations WHERE serial = ?", [.text(serial)]) == nil else {
                throw IssuanceError(.state, "certificate \(serial) is already revoked")
            }
            try db.execute("INSERT INTO revocations (serial, number, revoked_at, reason) VALUES (?, ?, ?, ?)",
                           [.text(serial), .text(number), .double(at), .text(reason.rawValue)])
            let revokedSerials = Set(try db.query("SELECT serial FROM revocations WHERE number = ?", [.text(number)]).map { try $0.text(Columns.serial) })
            let serials = [try app.optionalText(Columns.serialAuth), try app.optionalText(Columns.serialSign)].compactMap { $0 }
            if serials.allSatisfy(revokedSerials.contains) {
                let next = try lifecycle.transition(from: try Self.facts(app), event: .revoke, now: at)
                try Self.save(db, number: number, status: next, at: at, extra: [("key_auth", .null), ("key_sign", .null)], actor: "ca")
            }
            try AuditLog.append(db, at: at, actor: "ca", action: "certificate.revoke", subject: serial, detail: reason.rawValue)
        }
    }

    /// Writes the issuing CA's CRL with every revoked serial; returns its path.
    ///
    /// - Returns: The path of `crl.pem`.
    /// - Throws: ``IssuanceError`` `.ca` without a CA or its key; ``PKIError``; ``StorageError``; ``DatabaseFailure``;
    ///   the file system's error if the file cannot be written.
    public func publishCRL() async throws -> String {
        guard let ca else { throw IssuanceError(.ca, "no CA: run tulga ca init") }
        let rows = try await db.transaction { db in try db.query("SELECT serial, revoked_at, reason FROM revocations ORDER BY revoked_at", []) }
        let revoked = try rows.map {
            PKI.Revoked(serialHex: try $0.text(Columns.serial), revokedAt: Date(timeIntervalSince1970: try $0.double(Columns.revokedAt)),
                        reason: try $0.value(Columns.reason, as: RevocationReason.self))
        }
        return try ca.writeCRL(revoked, number: Int64(now), now: clock.date)
    }
}
