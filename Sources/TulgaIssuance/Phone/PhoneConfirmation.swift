import Foundation
public import TulgaCore
import TulgaCrypto
import TulgaStorage

/// Phones and one-time SMS codes: the mobile-citizens registry, codes under ``SMSCodePolicy``.
extension IssuanceService {
    /// Puts a phone in the mobile-citizens registry.
    ///
    /// Replaces any phone the IIN had. A change voids every unused code and confirmation of the old
    /// phone, and the old phone is told by SMS: a swapped number is noticed, not silently used.
    ///
    /// - Parameters:
    ///   - iin: the person's IIN.
    ///   - phone: `+7` and ten digits.
    /// - Throws: ``IssuanceError`` `.invalidIdentity` for a bad IIN or phone; ``DatabaseFailure`` from the database.
    ///   - actor: who registers it, for the audit row (`registry` for imports, `operator:<id>` at a desk).
    public func registerPhone(iin: String, phone: String, actor: String = "registry") async throws {
        let iin = try Self.checkIIN(iin)
        guard phone.hasPrefix("+7"), phone.count == 12, phone.dropFirst().allSatisfy(\.isNumber) else {
            throw IssuanceError(.invalidIdentity, "the phone must look like +7XXXXXXXXXX")
        }
        let at = now, outboxKey = outboxKey
        try await db.transaction { db in
            let old = try db.one("SELECT phone FROM mobile_citizens WHERE iin = ?", [.text(iin)])?.text(Columns.phone)
            try db.execute("DELETE FROM mobile_citizens WHERE iin = ?", [.text(iin)])
            try db.execute("INSERT INTO mobile_citizens (iin, phone) VALUES (?, ?)", [.text(iin), .text(phone)])
            if let old, old != phone {
                try db.execute("UPDATE sms_codes SET used_at = ? WHERE iin = ? AND used_at IS NULL", [.double(at), .text(iin)])
                try db.execute("DELETE FROM phone_verifications WHERE iin = ?", [.text(iin)])
                try Outbox.enqueue(db, key: outboxKey, iin: iin, phone: old, language: .ru, message: Message(.smsPhoneChanged), at: at)
            }
            try AuditLog.append(db, at: at, actor: actor, action: "phone.register", subject: iin, detail: "")
        }
    }

    /// Sends a new code to the phone in the mobile-citizens registry.
    ///
    /// Codes belong to the calling system that asked for them: its earlier unused code is marked
    /// replaced, the limits count its own codes, and only it can confirm the new one (another system
    /// can neither use nor burn it). The code goes to the outbox, rendered in `language`.
    ///
    /// - Parameters:
    ///   - iin: the applicant's IIN.
    ///   - language: the SMS language.
    ///   - caller: the calling system (or staff) the applicant will type the code into.
    /// - Throws: ``IssuanceError`` `.phoneNotRegistered` (the portal's advice) or `.code` (too soon, too many);
    ///   `.invalidIdentity` for a bad IIN; `CryptoFailure`; ``StorageError``; ``DatabaseFailure``.
    public func requestCode(iin: String, language: Language = .ru, caller: Caller = .staff("cli")) async throws {
        let iin = try Self.checkIIN(iin), code = try OneTimeCode(), at = now, policy = sms, outboxKey = outboxKey
        try await db.transaction { db in
            try Self.sendCode(db, code, iin: iin, caller: caller, purpose: .phone, language: language, at: at, policy: policy, outboxKey: outboxKey)
        }
    }

    /// What a code confirms: the phone (before an application) or a sign-in. Each purpose's codes
    /// replace only that purpose's; the sending limits count them all.
    enum CodePurpose: String { case phone, signin }

    /// A new 6-digit code and its slow hash, made outside any transaction.
    struct OneTimeCode {
        let digits: String, hash: String, id: String
        init() throws {
            var generator = SystemRandomNumberGenerator()
            digits = String(format: "%06d", Int.random(in: 0..<1_000_000, using: &generator))
            (hash, id) = (try SecretHash.make(digits, n: 1 << 14), try newRecordID("code"))
        }
    }

    /// Sends `code` to the registered phone inside the caller's transaction, under ``SMSCodePolicy``'s sending
    /// limits; the caller's earlier unused code of the same purpose is marked replaced.
    /// Whose codes the limits count is the purpose's (``Caller/smsLimitScope(for:)``).
    static func sendCode(_ db: any SQLSession, _ code: OneTimeCode, iin: String, caller: Caller, purpose: CodePurpose, language: Language,
                         at: Double, policy: SMSCodePolicy, outboxKey: SealingKey) throws {
        let owner = caller.ownerTag, scope = caller.smsLimitScope(for: purpose)
        try db.lock("sms:" + iin)
        guard let phone = try db.one("SELECT phone FROM mobile_citizens WHERE iin = ?", [.text(iin)])?.text(Columns.phone) else {
            throw IssuanceError(.phoneNotRegistered, Message(.refusalPhoneNotRegistered))
        }
        let recent = try db.query("SELECT created_at FROM sms_codes WHERE iin = ? AND \(scope.condition) AND created_at > ? ORDER BY created_at DESC",
                                  [.text(iin), .text(scope.value), .double(at - 3600)]).map { try $0.double(Columns.createdAt) }
        try policy.checkRequest(now: at, sentInLastHour: recent)
        try db.execute("UPDATE sms_codes SET used_at = ? WHERE iin = ? AND owner = ? AND used_at IS NULL AND COALESCE(purpose, 'phone') = ?",
                       [.double(at), .text(iin), .text(owner), .text(purpose.rawValue)])
        try db.execute("INSERT INTO sms_codes (id, iin, code_hash, created_at, expires_at, owner, purpose) VALUES (?, ?, ?, ?, ?, ?, ?)",
                       [.text(code.id), .text(iin), .text(code.hash), .double(at), .double(at + policy.validitySeconds), .text(owner),
                        .text(purpose.rawValue)])
        let text = Message(purpose == .phone ? .smsCode : .smsSignInCode, ["code": code.digits])
        try Outbox.enqueue(db, key: outboxKey, iin: iin, phone: phone, language: language, message: text, at: at)
        try AuditLog.append(db, at: at, actor: "applicant:\(iin)", action: purpose == .phone ? "sms.code" : "sms.signin_code", subject: iin, detail: "")
    }

    /// Confirms the phone with the latest code. A wrong entry is recorded even though the call fails.
    ///
    /// - Parameters:
    ///   - iin: the applicant's IIN.
    ///   - code: the 6 digits the applicant typed.
    /// - Throws: ``IssuanceError`` `.code` for a wrong, used, replaced or expired code, when none was sent, or when
    ///   wrong entries block confirmation; `.invalidIdentity` for a bad IIN; `CryptoFailure`; ``StorageError``;
    ///   ``DatabaseFailure``.
    ///   - caller: the calling system the code was typed into: the confirmation is good for it alone (staff for any).
    public func confirmCode(iin: String, code: String, caller: Caller) async throws {
        let iin = try Self.checkIIN(iin), owner = caller.ownerTag
        let at = now, policy = sms
        // The latest code this caller asked for (staff: the latest of any).
        let row = try await db.transaction { db in
            try db.query("SELECT id, code_hash, owner FROM sms_codes WHERE iin = ? AND COALESCE(purpose, 'phone') = 'phone' ORDER BY created_at DESC",
                         [.text(iin)])
                .first { caller.owns(try? $0.optionalText(Columns.owner)) }
        }
        guard let row else { throw IssuanceError(.code, "no code was sent to this IIN through this system; request one") }
        let id = try row.text(Columns.id)
        let stored = try row.text(Columns.codeHash)
        let matches = code.count == 6 && code.allSatisfy(\.isNumber) && SecretHash.verify(code, against: stored)
        // Commit the wrong entry first, throw after.
        let triesLeft: Int? = try await db.transaction { db in
            try db.lock("sms:" + iin)
            // Wrong entries count per calling system (another system's guesses cannot block this one), every portal session's together.
            let scope = caller.smsWrongEntryScope
            let wrong = try (db.one("SELECT COUNT(*) AS n FROM sms_failures WHERE iin = ? AND \(scope.condition) AND at > ?",
                                    [.text(iin), .text(scope.value), .double(at - 3600)])?.int(Columns.n)) ?? 0
            guard let current = try db.one("SELECT used_at, expires_at FROM sms_codes WHERE id = ?", [.text(id)]) else {
                throw IssuanceError(.code, "this code was already used or replaced; request a new one")
            }
            try policy.checkConfirmation(now: at, expiresAt: try current.double(Columns.expiresAt), usedAt: try current.optionalDouble(Columns.usedAt),
                                         wrongInLastHour: wrong)
            guard matches else {
                try db.execute("INSERT INTO sms_failures (id, iin, at, owner) VALUES (?, ?, ?, ?)",
                               [.text(try newRecordID("f")), .text(iin), .double(at), .text(owner)])
                try AuditLog.append(db, at: at, actor: "applicant:\(iin)", action: "sms.wrong", subject: iin, detail: "")
                return policy.maxWrong - wrong - 1
            }
            try db.execute("UPDATE sms_codes SET used_at = ? WHERE id = ?", [.double(at), .text(id)])
            try db.execute("DELETE FROM phone_verifications WHERE iin = ? AND owner = ?", [.text(iin), .text(owner)])
            try db.execute("INSERT INTO phone_verifications (iin, verified_at, owner) VALUES (?, ?, ?)", [.text(iin), .double(at), .text(owner)])
            try AuditLog.append(db, at: at, actor: "applicant:\(iin)", action: "sms.confirmed", subject: iin, detail: "")
            return nil
        }
        if let triesLeft { throw IssuanceError(.code, "wrong code; \(triesLeft) tries left") }
    }

    /// Whether `caller` holds a fresh phone confirmation for `iin`: one confirmed through it (a
    /// calling system; each system's is its own), or any (staff), within ``SMSCodePolicy/confirmationValidSeconds``.
    func phoneConfirmed(_ db: any SQLSession, iin: String, caller: Caller, at: Double) throws -> Bool {
        try db.query("SELECT verified_at, owner FROM phone_verifications WHERE iin = ?", [.text(iin)]).contains { row in
            try caller.owns(row.optionalText(Columns.owner)) && sms.confirmationIsFresh(verifiedAt: row.double(Columns.verifiedAt), now: at)
        }
    }

    /// Refuses unless ``phoneConfirmed(_:iin:caller:at:)``.
    func requirePhoneConfirmed(iin: String, caller: Caller) async throws {
        let at = now
        guard try await db.transaction({ db in try self.phoneConfirmed(db, iin: iin, caller: caller, at: at) }) else {
            throw IssuanceError(.code, "confirm the phone with an SMS code first")
        }
    }
}
