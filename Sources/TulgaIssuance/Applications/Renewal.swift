public import Foundation
public import TulgaCore
public import TulgaPKI
import TulgaCrypto
import TulgaStorage

/// Renewal (in-person keys), reissue (remote keys), and revocation by the applicant.
extension IssuanceService {
    /// How long a renewal challenge may be answered, in seconds.
    static let challengeSeconds = 300.0

    /// The checks every renewal step makes: the caller's own in-person application, issued or
    /// installed, still valid, and none of its certificates revoked (keys revoked as compromised,
    /// or superseded, renew nothing).
    func renewable(_ number: String, caller: Caller) async throws -> (ApplicationView, SQLRow) {
        let (row, revoked) = try await db.transaction { db in
            (try Self.owned(db, number, by: caller), try db.one("SELECT serial FROM revocations WHERE number = ?", [.text(number)]) != nil)
        }
        let old = try view(row)
        if old.channel == .remote {
            throw IssuanceError(.renewal, "«\(renewalRefusal)». Вы можете подать заявку на перевыпуск: tulga issuance reissue \(number)",
                                message: Message(.refusalRenewal))
        }
        guard [.issued, .installed].contains(old.status) else { throw IssuanceError(.renewal, "only keys with valid certificates are renewed; these are «\(old.statusTitle)»") }
        guard !revoked else { throw IssuanceError(.renewal, "a certificate of application \(number) was revoked: its keys renew nothing; apply again") }
        guard let until = try row.optionalDouble(Columns.validUntil), until > now else {
            throw IssuanceError(.renewal, "the certificates have expired: apply again")
        }
        return (old, row)
    }

    /// A one-time challenge for renewing `number`, valid for five minutes; a new one replaces the last.
    ///
    /// - Parameters:
    ///   - number: the application whose keys are to be renewed.
    ///   - caller: who asks; must own the application.
    /// - Returns: The challenge (64 hex digits) and when it expires.
    /// - Throws: ``IssuanceError`` `.renewal`, `.notFound`; ``StorageError``; ``DatabaseFailure``; `CryptoFailure`.
    public func renewalChallenge(_ number: String, caller: Caller) async throws -> RenewalChallenge {
        _ = try await renewable(number, caller: caller)
        let challenge = try randomBytes(32).map { String(format: "%02x", $0) }.joined(), expires = now + Self.challengeSeconds
        try await db.transaction { db in
            try db.lock("number:" + number)
            try db.execute("DELETE FROM renewal_challenges WHERE number = ?", [.text(number)])
            try db.execute("INSERT INTO renewal_challenges (number, challenge, expires_at, owner) VALUES (?, ?, ?, ?)",
                           [.text(number), .text(challenge), .double(expires), .text(caller.ownerTag)])
        }
        return RenewalChallenge(number: number, challenge: challenge, expiresAt: expires)
    }

    /// Renews keys confirmed in person while their certificate is still valid (seed 002: «в этом
    /// случае вы с любой момент можете перевыпустить ваши ключи»): a new application from new
    /// requests, issued at once (an employee's waits for HR and the first head again); the old
    /// certificates are then revoked as superseded. Keys issued remotely are refused with the
    /// portal's words: reissue them.
    ///
    /// Nobody but the holder renews: `proof` is the ``HolderProof`` over the challenge from
    /// ``renewalChallenge(_:caller:)``, signed with the AUTH key of the certificates being renewed, so
    /// owning the application (an operator, an admin key) is not enough. The challenge is used once.
    ///
    /// - Parameters:
    ///   - number: the application whose keys are renewed.
    ///   - requests: the new requests from the applicant's key store.
    ///   - challenge: the challenge the proof answers.
    ///   - proof: the holder's signature over ``HolderProof/message(application:challenge:auth:sign:)``.
    ///   - caller: who asks; must own the application.
    /// - Returns: The new application.
    /// - Throws: ``IssuanceError`` `.renewal` for remote keys (the portal's words) or an expired or revoked
    ///   certificate, `.holderProof` (no such challenge, expired, used, or a signature by another key),
    ///   `.notFound`, `.tokenRequired`, `.activeApplication`, `.keyReused`; ``StorageError``; ``DatabaseFailure``.
    public func renew(_ number: String, requests: KeyRequests, challenge: String, proof: Data, caller: Caller) async throws -> ApplicationView {
        let (old, row) = try await renewable(number, caller: caller)
        let message = HolderProof.message(application: number, challenge: challenge, auth: requests.auth.keyID, sign: requests.sign.keyID)
        guard let current = try row.optionalText(Columns.certAuth), HolderProof.verify(proof, message: message, certificatePEM: current) else {
            throw IssuanceError(.holderProof, "the renewal must be signed with the AUTH key of application \(number): tulga keys renew \(number)")
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
        // The challenge is used up in the transaction that files the renewal: this one, unexpired,
        // given to this caller; a filing refused for another reason leaves it for a second try.
        let at = now, owner = caller.ownerTag
        return try await create(holder: holder, template: old.template, channel: .inPerson, requests: requests, caller: caller,
                                renewalOf: number, initial: old.template.needsHeadApproval ? .identified : .signing) { db in
            guard let stored = try db.one("SELECT challenge, expires_at, owner FROM renewal_challenges WHERE number = ?", [.text(number)]),
                  try stored.text(Columns.challenge) == challenge, try stored.double(Columns.expiresAt) > at,
                  try stored.text(Columns.owner) == owner else {
                throw IssuanceError(.holderProof, "the renewal challenge is unknown, used, expired or someone else's: ask for a new one")
            }
            try db.execute("DELETE FROM renewal_challenges WHERE number = ?", [.text(number)])
        }
    }

    /// Reissues remote keys: every check of a new remote application (phone, Digital ID, consent,
    /// register, PIN) and the absence of another active application come first; the old
    /// certificates are revoked as superseded only once the new ones are issued.
    ///
    /// - Parameters:
    ///   - number: the application to reissue; must be issued, installed or revoked.
    ///   - pin: the applicant's Digital ID PIN.
    ///   - agreement: the user agreement's version the applicant accepted.
    ///   - requests: the new requests.
    ///   - caller: who asks; must own the application.
    /// - Returns: The new application.
    /// - Throws: ``IssuanceError`` `.state` for an application never issued, `.notFound`, and whatever
    ///   ``applyRemote(iin:pin:agreement:template:requests:bin:caller:)`` throws.
    public func reissue(_ number: String, pin: String, agreement: String?, requests: KeyRequests, caller: Caller) async throws -> ApplicationView {
        let old = try await status(number, caller: caller)
        try UserAgreement.check(agreement)
        guard [.installed, .issued, .revoked].contains(old.status) else { throw IssuanceError(.state, "only issued or installed keys are reissued") }
        try await checkNoOtherActive(iin: old.iin, except: number)
        let holder = try await remoteHolder(iin: old.iin, pin: pin, template: old.template, storage: requests.storage, bin: old.bin, caller: caller)
        return try await create(holder: holder, template: old.template, channel: .remote, requests: requests, caller: caller,
                                reissueOf: old.status == .revoked ? nil : number, agreement: UserAgreement.version)
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
