internal import Foundation
public import TulgaStorage
internal import TulgaCrypto
internal import TulgaDigitalID
internal import TulgaIdentity

/// SMS-code rules: 6 digits, 120 s, single use, 3 wrong entries, resend after 60 s, 5 per hour.
public struct SMSCodePolicy: Sendable, Codable {
    public var validitySeconds = 120.0
    public var resendAfterSeconds = 60.0
    public var maxPerHour = 5
    public var maxWrong = 3
    /// How long a confirmed phone counts for an application.
    public var confirmationValidSeconds = 900.0
    public init() {}
}

/// An application as the status page shows it.
public struct ApplicationView: Sendable, Codable, Hashable {
    public var number: String
    public var iin: String
    public var template: Template
    public var channel: Channel
    public var status: ApplicationStatus
    public var statusTitle: String
    public var algorithm: KeyAlgorithm
    public var createdAt: Double
    public var needsHeadApproval: Bool
    public var headApproved: Bool
    public var serials: [String]
}

/// The portal-plus-CA side: phone codes, applications, keys, certificates, installation.
public final class IssuanceService: Sendable {
    public let store: Store
    public let ca: LocalCA?
    public let sms: SMSCodePolicy
    /// In-person applications not confirmed within this many seconds expire.
    public let inPersonExpirySeconds: Double

    public init(store: Store, ca: LocalCA?, sms: SMSCodePolicy = SMSCodePolicy(), inPersonExpirySeconds: Double = 30 * 86400) {
        self.store = store
        self.ca = ca
        self.sms = sms
        self.inPersonExpirySeconds = inPersonExpirySeconds
    }

    var db: any SQLDatabase { store.database }
    var now: Double { store.clock.now() }

    static func checkIIN(_ iin: String) throws -> String {
        do { return try IIN(iin).value } catch { throw IssuanceError(.invalidIdentity, "invalid IIN \(iin): \(error)") }
    }

    // MARK: Phones and codes

    public func registerPhone(iin: String, phone: String) async throws {
        let iin = try Self.checkIIN(iin)
        guard phone.hasPrefix("+7"), phone.count == 12, phone.dropFirst().allSatisfy(\.isNumber) else {
            throw IssuanceError(.invalidIdentity, "the phone must look like +7XXXXXXXXXX")
        }
        let at = now
        try await db.transaction { db in
            try db.execute("DELETE FROM mobile_citizens WHERE iin = ?", [.text(iin)])
            try db.execute("INSERT INTO mobile_citizens (iin, phone) VALUES (?, ?)", [.text(iin), .text(phone)])
            try Store.appendAudit(db, at: at, actor: "registry", action: "phone.register", subject: iin, detail: "")
        }
    }

    /// Sends a new code to the phone in the mobile-citizens registry.
    public func requestCode(iin: String, language: String = "ru") async throws {
        let iin = try Self.checkIIN(iin)
        var generator = SystemRandomNumberGenerator()
        let code = String(format: "%06d", Int.random(in: 0..<1_000_000, using: &generator))
        let hash = try SecretHash.make(code, n: 1 << 14), at = now, policy = sms, id = "code-" + hex(try randomBytes(8))
        try await db.transaction { db in
            try db.lock("sms:" + iin)
            guard let phone = try db.one("SELECT phone FROM mobile_citizens WHERE iin = ?", [.text(iin)])?["phone"].text else {
                throw IssuanceError(.phoneNotRegistered,
                                    "Ваш номер не зарегистрирован в базе мобильных граждан. Зарегистрируйте номер телефона в базе мобильных граждан (ЦОН или портал eGov) и повторите попытку")
            }
            let recent = try db.query("SELECT created_at FROM sms_codes WHERE iin = ? AND created_at > ? ORDER BY created_at DESC",
                                      [.text(iin), .double(at - 3600)])
            if let last = recent.first?["created_at"].double, at - last < policy.resendAfterSeconds {
                throw IssuanceError(.code, "a new code can be requested \(Int(policy.resendAfterSeconds - (at - last)) + 1) s from now")
            }
            guard recent.count < policy.maxPerHour else {
                throw IssuanceError(.code, "at most \(policy.maxPerHour) codes an hour; try again later")
            }
            try db.execute("UPDATE sms_codes SET used_at = ? WHERE iin = ? AND used_at IS NULL", [.double(at), .text(iin)])
            try db.execute("INSERT INTO sms_codes (id, iin, code_hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
                           [.text(id), .text(iin), .text(hash), .double(at), .double(at + policy.validitySeconds)])
            let body = language == "kk" ? "ЭЦҚ шығаруға арналған растау коды: \(code). Ешкімге айтпаңыз."
                : "Код подтверждения для выпуска ЭЦП: \(code). Никому не сообщайте."
            try Store.enqueueSMS(db, iin: iin, phone: phone, language: language, body: body, at: at)
            try Store.appendAudit(db, at: at, actor: "applicant:\(iin)", action: "sms.code", subject: iin, detail: "")
        }
    }

    /// Confirms the phone with the latest code.
    public func confirmCode(iin: String, code: String) async throws {
        let iin = try Self.checkIIN(iin)
        let at = now, policy = sms
        let row = try await db.transaction { db in
            try db.one("SELECT id, code_hash, expires_at, used_at FROM sms_codes WHERE iin = ? ORDER BY created_at DESC", [.text(iin)])
        }
        guard let row, let id = row["id"].text, let stored = row["code_hash"].text else {
            throw IssuanceError(.code, "no code was sent to this IIN; request one")
        }
        let matches = code.count == 6 && code.allSatisfy(\.isNumber) && SecretHash.verify(code, against: stored)
        // A wrong entry must be recorded even though the call fails: commit first, throw after.
        let triesLeft: Int? = try await db.transaction { db in
            try db.lock("sms:" + iin)
            let failures = try db.one("SELECT COUNT(*) AS n FROM sms_failures WHERE iin = ? AND at > ?", [.text(iin), .double(at - 3600)])?["n"].int ?? 0
            guard failures < policy.maxWrong else {
                throw IssuanceError(.code, "\(policy.maxWrong) wrong codes were entered; a new code does not reset this, try again in an hour")
            }
            let current = try db.one("SELECT used_at, expires_at FROM sms_codes WHERE id = ?", [.text(id)])
            guard current?["used_at"].isNull ?? false else { throw IssuanceError(.code, "this code was already used or replaced; request a new one") }
            guard (current?["expires_at"].double ?? 0) > at else { throw IssuanceError(.code, "the code has expired (valid \(Int(policy.validitySeconds)) s); request a new one") }
            guard matches else {
                try db.execute("INSERT INTO sms_failures (id, iin, at) VALUES (?, ?, ?)", [.text("f-" + hex((try? randomBytes(8)) ?? [])), .text(iin), .double(at)])
                try Store.appendAudit(db, at: at, actor: "applicant:\(iin)", action: "sms.wrong", subject: iin, detail: "")
                return policy.maxWrong - failures - 1
            }
            try db.execute("UPDATE sms_codes SET used_at = ? WHERE id = ?", [.double(at), .text(id)])
            try db.execute("DELETE FROM phone_verifications WHERE iin = ?", [.text(iin)])
            try db.execute("INSERT INTO phone_verifications (iin, verified_at) VALUES (?, ?)", [.text(iin), .double(at)])
            try Store.appendAudit(db, at: at, actor: "applicant:\(iin)", action: "sms.confirmed", subject: iin, detail: "")
            return nil
        }
        if let triesLeft { throw IssuanceError(.code, "wrong code; \(triesLeft) tries left") }
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
    public func applyRemote(iin: String, pin: String, template: Template = .individual, algorithm: KeyAlgorithm = .rsa2048,
                            organization: String? = nil, bin: String? = nil, headIIN: String? = nil, reissueOf: String? = nil) async throws -> ApplicationView {
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
        let verified = try await db.transaction { db in try db.one("SELECT verified_at FROM phone_verifications WHERE iin = ?", [.text(iin)])?["verified_at"].double }
        guard let verified, at - verified <= sms.confirmationValidSeconds else {
            throw IssuanceError(.code, "confirm the phone with an SMS code first")
        }
        guard let id = try await store.digitalID(iin), id.status == .active else {
            throw IssuanceError(.digitalID, "a remote application needs an active Digital ID")
        }
        guard try await store.validConsent(iin: iin, scope: Consent.caIdentityScope) != nil else {
            throw IssuanceError(.consent, "grant the CA service consent to your identity data first")
        }
        switch try await store.checkPIN(iin: iin, pin: pin) {
        case .accepted: break
        case .wrong(let left): throw IssuanceError(.pin, "wrong PIN; \(left) tries left")
        case .locked: throw IssuanceError(.pin, "the Digital ID PIN is locked")
        case .notSet: throw IssuanceError(.pin, "set a Digital ID PIN first")
        }
        let holder = Holder(iin: iin, surname: id.surname, givenName: id.givenName, organization: organization, bin: bin)
        return try await create(holder: holder, template: template, channel: .remote, algorithm: algorithm, headIIN: headIIN,
                                reissueOf: reissueOf, status: .identified)
    }

    /// An application taken at a service centre; an operator confirms it within 30 days or it expires.
    public func applyInPerson(iin: String, surname: String, givenName: String, operator operatorID: String,
                              template: Template = .individual, algorithm: KeyAlgorithm = .rsa2048) async throws -> ApplicationView {
        let iin = try Self.checkIIN(iin)
        return try await create(holder: Holder(iin: iin, surname: surname.uppercased(), givenName: givenName.uppercased()), template: template,
                                channel: .inPerson, algorithm: algorithm, headIIN: nil, reissueOf: nil, status: .new, actor: "operator:\(operatorID)")
    }

    private func create(holder: Holder, template: Template, channel: Channel, algorithm: KeyAlgorithm, headIIN: String?,
                        reissueOf: String?, status initial: ApplicationStatus, actor: String? = nil) async throws -> ApplicationView {
        let number = try Self.newNumber(), at = now
        var sealed: [KeyPurpose: Data] = [:], csrs: [KeyPurpose: String] = [:]
        for purpose in KeyPurpose.allCases {
            let key = try PKI.generateKey(algorithm)
            sealed[purpose] = try store.cipher.seal(Data(key.utf8))
            csrs[purpose] = try PKI.csr(keyPEM: key, subject: holder.subject)
        }
        let next: ApplicationStatus = initial == .identified && !template.needsHeadApproval ? .signing : initial
        let keyID = store.cipher.keyID
        let keys = (auth: sealed[.auth], sign: sealed[.sign]), requests = (auth: csrs[.auth], sign: csrs[.sign])
        try await db.transaction { db in
            try db.lock("application:" + holder.iin)
            let active = try db.query("SELECT number, status FROM applications WHERE iin = ?", [.text(holder.iin)])
                .filter { ApplicationStatus(rawValue: $0["status"].text ?? "")?.isActive ?? false }
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
            try Store.appendAudit(db, at: at, actor: actor ?? "applicant:\(holder.iin)", action: "application.create", subject: number,
                                  detail: "\(template.rawValue) \(channel.rawValue) \(next.rawValue)")
        }
        return try await status(number)
    }

    public func status(_ number: String) async throws -> ApplicationView {
        try await expireStale()
        let row = try await db.transaction { db in try db.one("SELECT * FROM applications WHERE number = ?", [.text(number)]) }
        guard let row else { throw IssuanceError(.notFound, "no application \(number)") }
        return view(row)
    }

    func view(_ row: SQLRow) -> ApplicationView {
        let status = ApplicationStatus(rawValue: row["status"].text ?? "") ?? .rejected
        let template = Template(rawValue: row["template"].text ?? "") ?? .individual
        return ApplicationView(number: row["number"].text ?? "", iin: row["iin"].text ?? "", template: template,
                               channel: Channel(rawValue: row["channel"].text ?? "") ?? .remote, status: status, statusTitle: status.title,
                               algorithm: KeyAlgorithm(rawValue: row["algorithm"].text ?? "") ?? .rsa2048, createdAt: row["created_at"].double ?? 0,
                               needsHeadApproval: template.needsHeadApproval, headApproved: !row["head_approved_at"].isNull,
                               serials: [row["serial_auth"].text, row["serial_sign"].text].compactMap { $0 })
    }

    /// Moves an application from `from` to `to` in one audited transaction, after `check`.
    private func transition(_ number: String, from: Set<ApplicationStatus>, to: ApplicationStatus, actor: String,
                            set extra: [(String, SQLValue)] = [], check: @escaping @Sendable (SQLRow) throws -> Void = { _ in }) async throws -> ApplicationView {
        let at = now
        try await db.transaction { db in
            try db.lock("number:" + number)
            guard let row = try db.one("SELECT * FROM applications WHERE number = ?", [.text(number)]) else {
                throw IssuanceError(.notFound, "no application \(number)")
            }
            let status = ApplicationStatus(rawValue: row["status"].text ?? "") ?? .rejected
            guard from.contains(status) else { throw IssuanceError(.state, "the application is «\(status.title)»") }
            try check(row)
            let sets = ([("status", SQLValue.text(to.rawValue)), ("updated_at", .double(at))] + extra)
            try db.execute("UPDATE applications SET \(sets.map { "\($0.0) = ?" }.joined(separator: ", ")) WHERE number = ?",
                           sets.map(\.1) + [.text(number)])
            try Store.appendAudit(db, at: at, actor: actor, action: "application.\(to.rawValue)", subject: number, detail: "")
        }
        return try await status(number)
    }

    /// The first head approves an employee's application.
    public func approveByHead(_ number: String, headIIN: String, pin: String) async throws -> ApplicationView {
        switch try await store.checkPIN(iin: headIIN, pin: pin) {
        case .accepted: break
        default: throw IssuanceError(.pin, "the first head's PIN was not accepted")
        }
        return try await transition(number, from: [.identified], to: .signing, actor: "head:\(headIIN)",
                                    set: [("head_approved_at", .double(now))]) { row in
            guard Template(rawValue: row["template"].text ?? "")?.needsHeadApproval == true else {
                throw IssuanceError(.headApproval, "this application does not need the first head's approval")
            }
            guard row["head_iin"].text == headIIN else { throw IssuanceError(.headApproval, "only the named first head may approve it") }
        }
    }

    /// An operator confirms an in-person application (identity checked at the desk).
    public func confirmInPerson(_ number: String, operator operatorID: String) async throws -> ApplicationView {
        try await transition(number, from: [.new], to: .signing, actor: "operator:\(operatorID)") { row in
            guard row["channel"].text == Channel.inPerson.rawValue else { throw IssuanceError(.state, "only in-person applications are confirmed at a desk") }
        }
    }

    /// In-person applications left unconfirmed for 30 days expire.
    public func expireStale() async throws {
        let at = now, limit = inPersonExpirySeconds
        try await db.transaction { db in
            let stale = try db.query("SELECT number FROM applications WHERE channel = 'in_person' AND status = 'new' AND created_at < ?",
                                     [.double(at - limit)])
            for row in stale {
                try db.execute("UPDATE applications SET status = 'expired', updated_at = ?, key_auth = NULL, key_sign = NULL WHERE number = ?",
                               [.double(at), row["number"]])
                try Store.appendAudit(db, at: at, actor: "policy", action: "application.expired", subject: row["number"].text ?? "", detail: "")
            }
        }
    }

    /// The CA signs both CSRs.
    public func issue(_ number: String) async throws -> ApplicationView {
        let row = try await db.transaction { db in try db.one("SELECT * FROM applications WHERE number = ?", [.text(number)]) }
        guard let row else { throw IssuanceError(.notFound, "no application \(number)") }
        guard let ca else { throw IssuanceError(.ca, "no CA: run tulga ca init") }
        guard row["status"].text == ApplicationStatus.signing.rawValue else {
            let status = ApplicationStatus(rawValue: row["status"].text ?? "") ?? .rejected
            if status == .identified, Template(rawValue: row["template"].text ?? "")?.needsHeadApproval == true {
                throw IssuanceError(.headApproval, "the first head has not approved the application yet")
            }
            throw IssuanceError(.state, "the application is «\(status.title)»")
        }
        let template = Template(rawValue: row["template"].text ?? "") ?? .individual
        let remote = row["channel"].text == Channel.remote.rawValue
        var certs: [KeyPurpose: String] = [:]
        for purpose in KeyPurpose.allCases {
            guard let csr = row[purpose == .auth ? "csr_auth" : "csr_sign"].text else { throw IssuanceError(.state, "the application has no CSR") }
            certs[purpose] = try ca.issue(csrPEM: csr, extensions: purpose.extensions(template: template, remote: remote, crlURL: ca.config.crlURL))
        }
        let auth = certs[.auth] ?? "", sign = certs[.sign] ?? ""
        return try await transition(number, from: [.signing], to: .issued, actor: "ca",
                                    set: [("cert_auth", .text(auth)), ("cert_sign", .text(sign)),
                                          ("serial_auth", .text(try PKI.serialHex(certPEM: auth))),
                                          ("serial_sign", .text(try PKI.serialHex(certPEM: sign)))])
    }

    /// Writes both PKCS#12 containers into `folder` (0700; files 0600) under `password`, then
    /// forgets the private keys. Returns the two paths.
    public func install(_ number: String, folder: String, password: String) async throws -> [String] {
        let row = try await db.transaction { db in try db.one("SELECT * FROM applications WHERE number = ?", [.text(number)]) }
        guard let row else { throw IssuanceError(.notFound, "no application \(number)") }
        try ContainerPassword.check(password)
        guard let ca else { throw IssuanceError(.ca, "no CA: run tulga ca init") }
        let status = ApplicationStatus(rawValue: row["status"].text ?? "") ?? .rejected
        guard status == .issued else {
            throw IssuanceError(.state, status == .installed ? "the certificates are already installed; a lost password means revoke, then reissue"
                                                             : "the application is «\(status.title)»")
        }
        let fm = FileManager.default
        var isDir: ObjCBool = false
        if fm.fileExists(atPath: folder, isDirectory: &isDir), !isDir.boolValue { throw IssuanceError(.state, "\(folder) is not a folder") }
        try fm.createDirectory(atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        try fm.setAttributes([.posixPermissions: 0o700], ofItemAtPath: folder)
        var written: [String] = []
        let keyID = row["key_id"].text ?? ""
        for purpose in KeyPurpose.allCases {
            let p = purpose == .auth ? "auth" : "sign"
            guard let sealed = row["key_\(p)"].blob, let cert = row["cert_\(p)"].text, let serial = row["serial_\(p)"].text else {
                throw IssuanceError(.state, "the application has no \(purpose.rawValue) key or certificate")
            }
            let key = String(decoding: try store.cipher.open(sealed, keyID: keyID), as: UTF8.self)
            let p12 = try PKI.pkcs12(keyPEM: key, certPEM: cert, chainPEM: ca.chainPEM, password: password, name: "\(purpose.rawValue) \(row["iin"].text ?? "")")
            let path = (folder as NSString).appendingPathComponent(purpose.fileName(serialHex: serial))
            guard fm.createFile(atPath: path, contents: p12, attributes: [.posixPermissions: 0o600]) else {
                throw IssuanceError(.state, "cannot write \(path)")
            }
            written.append(path)
        }
        _ = try await transition(number, from: [.issued], to: .installed, actor: "applicant:\(row["iin"].text ?? "")",
                                 set: [("installed_at", .double(now)), ("key_auth", .null), ("key_sign", .null)])
        return written
    }

    /// Renewal of remotely issued keys is refused with the portal's words; a reissue is offered.
    public func renew(_ number: String) async throws -> Never {
        let view = try await status(number)
        if view.channel == .remote {
            throw IssuanceError(.renewal, "«\(renewalRefusal)». Вы можете подать заявку на перевыпуск: tulga issuance reissue \(number)")
        }
        throw IssuanceError(.renewal, "renew in-person keys at a service centre")
    }

    /// Revokes the old certificates (superseded) and files a new remote application.
    public func reissue(_ number: String, pin: String) async throws -> ApplicationView {
        let old = try await status(number)
        guard [.installed, .issued, .revoked].contains(old.status) else { throw IssuanceError(.state, "only issued or installed keys are reissued") }
        let revoked = Set(try await db.transaction { db in
            try db.query("SELECT serial FROM revocations WHERE number = ?", [.text(number)]).compactMap { $0["serial"].text }
        })
        for serial in old.serials where !revoked.contains(serial.uppercased()) { try await revoke(serial: serial, reason: .superseded) }
        return try await applyRemote(iin: old.iin, pin: pin, template: old.template, algorithm: old.algorithm, reissueOf: number)
    }

    // MARK: Revocation

    public func revoke(serial: String, reason: RevocationReason) async throws {
        let serial = serial.uppercased(), at = now
        try await db.transaction { db in
            try db.lock("revocation")
            let app = try db.one("SELECT number FROM applications WHERE serial_auth = ? OR serial_sign = ?", [.text(serial), .text(serial)])
            guard let number = app?["number"].text else { throw IssuanceError(.notFound, "no certificate with serial \(serial)") }
            guard try db.one("SELECT serial FROM revocations WHERE serial = ?", [.text(serial)]) == nil else {
                throw IssuanceError(.state, "certificate \(serial) is already revoked")
            }
            try db.execute("INSERT INTO revocations (serial, number, revoked_at, reason) VALUES (?, ?, ?, ?)",
                           [.text(serial), .text(number), .double(at), .text(reason.rawValue)])
            let revokedSerials = Set(try db.query("SELECT serial FROM revocations WHERE number = ?", [.text(number)]).compactMap { $0["serial"].text })
            let row = try db.one("SELECT serial_auth, serial_sign FROM applications WHERE number = ?", [.text(number)])
            if [row?["serial_auth"].text, row?["serial_sign"].text].compactMap({ $0 }).allSatisfy(revokedSerials.contains) {
                try db.execute("UPDATE applications SET status = 'revoked', updated_at = ?, key_auth = NULL, key_sign = NULL WHERE number = ?",
                               [.double(at), .text(number)])
            }
            try Store.appendAudit(db, at: at, actor: "ca", action: "certificate.revoke", subject: serial, detail: reason.rawValue)
        }
    }

    /// Writes the issuing CA's CRL with every revoked serial; returns its path.
    public func publishCRL() async throws -> String {
        guard let ca else { throw IssuanceError(.ca, "no CA: run tulga ca init") }
        let rows = try await db.transaction { db in try db.query("SELECT serial, revoked_at, reason FROM revocations ORDER BY revoked_at", []) }
        let revoked = rows.map {
            PKI.Revoked(serialHex: $0["serial"].text ?? "", revokedAt: Date(timeIntervalSince1970: $0["revoked_at"].double ?? 0),
                        reason: RevocationReason(rawValue: $0["reason"].text ?? "") ?? .unspecified)
        }
        return try ca.writeCRL(revoked, number: Int64(now))
    }
}
