public import Foundation
public import TulgaCore
public import TulgaPKI
import TulgaStorage

/// Renewal (in-person keys), reissue (remote keys), and revocation by the applicant.
extension IssuanceService {
    /// Renews keys confirmed in person while their certificate is still valid (seed 002: «в этом
    /// случае вы с любой момент можете перевыпустить ваши ключи»): a new application from new
    /// requests, issued at once (an employee's waits for HR and the first head again); the old
    /// certificates are then revoked as superseded. Keys issued remotely are refused with the
    /// portal's words: reissue them.
    ///
    /// Nobody but the holder renews: `proof` is the ``HolderProof`` signed with the SIGN key of the
    /// certificate being renewed, so owning the application (an operator, an admin key) is not enough.
    ///
    /// - Parameters:
    ///   - number: the application whose keys are renewed.
    ///   - requests: the new requests from the applicant's key store.
    ///   - proof: the holder's signature over ``HolderProof/message(application:auth:sign:)``.
    ///   - caller: who asks; must own the application.
    /// - Returns: The new application.
    /// - Throws: ``IssuanceError`` `.renewal` for remote keys (the portal's words) or an expired or revoked
    ///   certificate, `.holderProof`, `.notFound`, `.tokenRequired`, `.activeApplication`, `.keyReused`;
    ///   ``StorageError``; ``DatabaseFailure``.
    public func renew(_ number: String, requests: KeyRequests, proof: Data, caller: Caller) async throws -> ApplicationView {
        let old = try await status(number, caller: caller)
        if old.channel == .remote {
            throw IssuanceError(.renewal, "«\(renewalRefusal)». Вы можете подать заявку на перевыпуск: tulga issuance reissue \(number)",
                                message: Message(.refusalRenewal))
        }
        let row = try await db.transaction { db in try Self.owned(db, number, by: caller) }
        guard [.issued, .installed].contains(old.status) else { throw IssuanceError(.renewal, "only keys with valid certificates are renewed; these are «\(old.statusTitle)»") }
        guard let until = try row.optionalDouble(Columns.validUntil), until > now else {
            throw IssuanceError(.renewal, "the certificates have expired: apply again")
        }
        let message = HolderProof.message(application: number, auth: requests.auth.keyID, sign: requests.sign.keyID)
        guard let current = try row.optionalText(Columns.certSign), HolderProof.verify(proof, message: message, certificatePEM: current) else {
            throw IssuanceError(.holderProof, "the renewal must be signed with the SIGN key of application \(number): tulga keys renew \(number)")
        }
        if old.template == .treasuryClient, requests.storage != .token {
            throw IssuanceError(.tokenRequired, "a Treasury-Client participant's keys must be generated on a token (storage \"token\")")
        }
        let holder = Holder(iin: old.iin, surname: try row.optionalText(Columns.surname) ?? "", givenName: try row.optionalText(Columns.givenName) ?? "",
                            organization: old.organization, bin: old.bin)
        if let bin = old.bin {
            // The register must still back the template.
            _ = try await db.transaction { db in try Self.legalEntity(db, iin: old.iin, template: old.template, bin: bin) }
        }
        // The organisation approves an employee's new keys again: the person may have left it.
        return try await create(holder: holder, template: old.template, channel: .inPerson, requests: requests, caller: caller,
                                renewalOf: number, initial: old.template.needsHeadApproval ? .identified : .signing)
    }

    /// Reissues remote keys: every check of a new remote application (phone, Digital ID, consent,
    /// register, PIN) and the absence of another active application come first; the old
    /// certificates are revoked as superseded only once the new ones are issued.
    ///
    /// - Parameters:
    ///   - number: the application to reissue; must be issued, installed or revoked.
    ///   - pin: the applicant's Digital ID PIN.
    ///   - requests: the new requests.
    ///   - caller: who asks; must own the application.
    /// - Returns: The new application.
    /// - Throws: ``IssuanceError`` `.state` for an application never issued, `.notFound`, and whatever
    ///   ``applyRemote(iin:pin:template:requests:bin:caller:)`` throws.
    public func reissue(_ number: String, pin: String, requests: KeyRequests, caller: Caller) async throws -> ApplicationView {
        let old = try await status(number, caller: caller)
        guard [.installed, .issued, .revoked].contains(old.status) else { throw IssuanceError(.state, "only issued or installed keys are reissued") }
        try await checkNoOtherActive(iin: old.iin, except: number)
        let holder = try await remoteHolder(iin: old.iin, pin: pin, template: old.template, storage: requests.storage, bin: old.bin)
        return try await create(holder: holder, template: old.template, channel: .remote, requests: requests, caller: caller,
                                reissueOf: old.status == .revoked ? nil : number)
    }

    func checkNoOtherActive(iin: String, except number: String) async throws {
        let at = now, lifecycle = lifecycle
        let other = try await db.transaction { db in
            try db.query("SELECT * FROM applications WHERE iin = ? AND number <> ?", [.text(iin), .text(number)]).first { row in
                let facts = try Self.facts(row)
                return facts.status.isActive && !lifecycle.isOverdue(facts, now: at)
            }?.text(Columns.number)
        }
        if let other { throw IssuanceError(.activeApplication, "application \(other) is still active; a second one is refused") }
    }

    /// The applicant revokes their own certificates, with their PIN.
    ///
    /// - Parameters:
    ///   - number: the application.
    ///   - pin: the applicant's Digital ID PIN.
    ///   - reason: the RFC 5280 reason recorded.
    ///   - caller: who asks; must own the application.
    /// - Returns: The application, now `revoked`.
    /// - Throws: ``IssuanceError`` `.notFound`, `.pin`, `.state` when nothing is left to revoke; ``StorageError``; ``DatabaseFailure``.
    public func revokeByApplicant(_ number: String, pin: String, reason: RevocationReason, caller: Caller) async throws -> ApplicationView {
        let view = try await status(number, caller: caller)
        guard [.issued, .installed].contains(view.status) else { throw IssuanceError(.state, "the application is «\(view.statusTitle)»: nothing to revoke") }
        try await checkPIN(iin: view.iin, pin: pin, whose: "your")
        try await revokeApplication(number, reason: reason, actor: caller.actor)
        return try await status(number, caller: caller)
    }
}
