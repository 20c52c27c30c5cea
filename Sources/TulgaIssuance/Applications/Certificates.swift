import Foundation
public import TulgaCore
import TulgaCrypto
import TulgaPKI
import TulgaStorage

/// Issuing from the applicant's requests, and handing the certificates to the key store.
extension IssuanceService {
    /// Issues at once when the application is `signing` and a CA is set up; otherwise returns it
    /// as it stands. A CA failure leaves it `signing` (audited) for an admin's ``issue(_:admin:)``.
    func issueIfReady(_ number: String, caller: Caller) async throws -> ApplicationView {
        let current = try await status(number, caller: caller)
        guard current.status == .signing, ca != nil else { return current }
        do {
            return try await issue(number, caller: caller)
        } catch let error as IssuanceError where error.code == .state {
            return try await status(number, caller: caller)   // issued meanwhile by another call
        } catch {
            let at = now
            try await db.transaction { db in
                try AuditLog.append(db, at: at, actor: "ca", action: "application.issue_failed", subject: number, detail: String(describing: error))
            }
            return try await status(number, caller: caller)
        }
    }

    /// An admin retries issuance of an application left `signing` (the CA was down).
    ///
    /// - Parameters:
    ///   - number: the application number.
    ///   - admin: who asks; audited.
    /// - Returns: The application, now `issued`.
    /// - Throws: ``IssuanceError`` `.ca` without a CA, `.notFound`, `.state` or `.headApproval` if the lifecycle
    ///   refuses; ``PKIError`` if signing fails; ``StorageError``; ``DatabaseFailure``.
    public func issue(_ number: String, admin: String) async throws -> ApplicationView {
        try await issue(number, caller: .staff("admin:" + admin))
    }

    /// The CA signs both requests with the subject it builds itself (registry names, IIN, the
    /// register's organisation); the requests' own subjects are ignored. A renewal's old
    /// certificates are then revoked as superseded.
    func issue(_ number: String, caller: Caller) async throws -> ApplicationView {
        guard let ca else { throw IssuanceError(.ca, "no CA: run tulga ca init") }
        let row = try await db.transaction { db in try Self.owned(db, number, by: caller) }
        let facts = try Self.facts(row)
        _ = try lifecycle.transition(from: facts, event: .issue, now: now)   // refuse before signing anything
        let holder = Holder(iin: try row.text(Columns.iin), surname: try row.optionalText(Columns.surname) ?? "", givenName: try row.optionalText(Columns.givenName) ?? "",
                            organization: try row.optionalText(Columns.organization), bin: try row.optionalText(Columns.bin))
        guard !holder.surname.isEmpty || !holder.givenName.isEmpty else { throw IssuanceError(.state, "the application has no holder's names") }
        // In-person applications, and renewals of them, carry no remote-identification policy.
        let remote = facts.channel == .remote, date = clock.date, urls = RevocationURLs(base: ca.config.baseURL)
        var issued: [KeyPurpose: IssuedCertificate] = [:]
        for purpose in KeyPurpose.allCases {
            guard let csr = try row.optionalText(purpose == .auth ? Columns.csrAuth : Columns.csrSign) else { throw IssuanceError(.state, "the application has no request") }
            let pem = try ca.issue(csrPEM: csr, subject: holder.subject, extensions: purpose.extensions(template: facts.template, remote: remote, urls: urls), now: date)
            issued[purpose] = try IssuedCertificate(pem: pem)
        }
        guard let auth = issued[.auth], let sign = issued[.sign] else { throw IssuanceError(.state, "the application has no request") }
        // A renewal's or reissue's old certificates are revoked in the same transaction that
        // records the new ones: a crash leaves either the old pair valid or the new one, never both.
        let replaced = try row.optionalText(Columns.renewalOf) ?? row.optionalText(Columns.reissueOf), at = now, lifecycle = lifecycle
        let outbox = outboxKey
        let isRenewal = try row.optionalText(Columns.renewalOf) != nil
        let view = try await transition(number, .issue, caller: caller, actor: "ca",
                                        set: [("cert_auth", .text(auth.pem)), ("cert_sign", .text(sign.pem)), ("serial_auth", .text(auth.serialHex)),
                                              ("serial_sign", .text(sign.serialHex)),
                                              ("valid_until", .double(min(auth.notValidAfter, sign.notValidAfter).timeIntervalSince1970))]) { db, _ in
            guard let replaced else { return }
            // A renewal waits days for approvals: the keys it renews may have been revoked (as
            // compromised, say) meanwhile. Then it is never issued.
            try db.lock("revocation")
            if isRenewal, try db.one("SELECT serial FROM revocations WHERE number = ?", [.text(replaced)]) != nil {
                throw IssuanceError(.renewal, "a certificate of application \(replaced) was revoked since this renewal was filed: it is not issued")
            }
            try Self.revokeApplication(db, replaced, reason: .superseded, at: at, actor: "ca", lifecycle: lifecycle, outbox: outbox)
        }
        if replaced != nil { try? await refreshCRL() }
        return view
    }

    /// The two certificates, without changing the status.
    ///
    /// - Parameters:
    ///   - number: the application number.
    ///   - caller: who asks; must own the application.
    /// - Returns: Both certificates and the chain.
    /// - Throws: ``IssuanceError`` `.notFound` (also for another system's), `.state` before issuance, `.ca` without a CA;
    ///   ``StorageError``; ``DatabaseFailure``.
    public func certificates(_ number: String, caller: Caller) async throws -> IssuedCertificates {
        let row = try await db.transaction { db in try Self.owned(db, number, by: caller) }
        return try certificates(row)
    }

    func certificates(_ row: SQLRow) throws -> IssuedCertificates {
        guard let ca else { throw IssuanceError(.ca, "no CA: run tulga ca init") }
        let status = try row.value(Columns.status, as: ApplicationStatus.self)
        guard [.issued, .installed].contains(status), let auth = try row.optionalText(Columns.certAuth), let sign = try row.optionalText(Columns.certSign) else {
            throw IssuanceError(.state, "the application is «\(status.title)»: no certificates to take")
        }
        return IssuedCertificates(number: try row.text(Columns.number), auth: auth, sign: sign, chain: ca.chainPEM, status: status)
    }

    /// The applicant's key store takes the certificates: the application becomes installed.
    /// Taking them again later is allowed; the service has no key to lose.
    ///
    /// - Parameters:
    ///   - number: the application number.
    ///   - caller: who asks; must own the application.
    /// - Returns: Both certificates and the chain.
    /// - Throws: ``IssuanceError`` `.notFound`, `.state` before issuance or after revocation, `.ca`; ``StorageError``; ``DatabaseFailure``.
    public func install(_ number: String, caller: Caller) async throws -> IssuedCertificates {
        let at = now, lifecycle = lifecycle, outboxKey = outboxKey
        let row = try await db.transaction { db in
            try db.lock("number:" + number)
            let row = try Self.owned(db, number, by: caller)
            let facts = try Self.facts(row)
            let next = try lifecycle.transition(from: facts, event: .install, now: at)
            if facts.status != .installed {
                try Self.save(db, number: number, status: next, at: at, extra: [("installed_at", .double(at))], actor: caller.actor, outbox: outboxKey)
            }
            return try Self.owned(db, number, by: caller)
        }
        return try certificates(row)
    }
}
