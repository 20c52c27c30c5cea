import TulgaCrypto
import TulgaAttempts
import TulgaCore
import TulgaDigitalID
public import TulgaModeration
import TulgaPolicy
import TulgaRegistry
import TulgaStorage

/// A moderator's decision and everything it causes, in one transaction: the case is approved
/// or rejected (``CaseLease/transition(from:event:now:)``); for a face case an approval creates the
/// Digital ID (verified by `moderator:<id>`) and a rejection is a recorded failed attempt; for a
/// document case the Digital ID's document step is done or rejected. Either way the applicant gets
/// the result SMS in their language, saying what they can do next.
///
/// ```swift
/// let desk = ModerationDesk(records: records)
/// let summary = try await desk.decide(caseID, approve: true, reason: "same person", as: moderator)
/// ```
public struct ModerationDesk: Sendable {
    /// Every module's records.
    public let records: Records
    /// Creates a desk.
    ///
    /// - Parameter records: every module's records.
    public init(records: Records) { self.records = records }

    /// Approves or rejects a claimed case, and sends its effects in the same transaction.
    ///
    /// - Parameters:
    ///   - id: the case id.
    ///   - approve: `true` to approve (and create the Digital ID), `false` to reject.
    ///   - reason: why, in words; must not be blank.
    ///   - moderator: the caller; must hold the claim.
    /// - Returns: The decided case.
    /// - Throws: ``ModerationError`` naming the rule that refuses the decision.
    ///   `.invalidRow` if an approved case's IIN is not in the registry; ``StorageError``; ``DatabaseFailure``;
    ///   `CryptoFailure`.
    public func decide(_ id: String, approve: Bool, reason: String, as moderator: Moderator) async throws -> CaseSummary {
        let now = records.clock.now(), policy = records.settings.attempts, outboxKey = records.keys.outbox
        let row = try await records.database.transaction { db in
            let (iin, row) = try ModerationRecords.decide(db, id, approve: approve, reason: reason, as: moderator, at: now)
            let person = try RegistryRecords.person(db, iin: iin)
            // A document case completes (or not) the Digital ID's document step; the attempt had passed.
            if try ModerationRecords.kind(db, case: id) == .document {
                try DigitalIDRecords.moveDocumentStep(db, iin: iin, event: approve ? .approved : .rejected, actor: "moderator:\(moderator.id)",
                                                      detail: "case \(id)", at: now)
                try Outbox.enqueue(db, key: outboxKey, iin: iin, phone: person?.phone, language: try AttemptRecords.language(db, iin: iin),
                                   message: Message(approve ? .smsDocumentApproved : .smsDocumentRejected), at: now)
                return row
            }
            var left = 0
            if approve {
                guard let person else { throw ModerationError(.invalidRow, "IIN \(iin) of case \(id) is not in the registry") }
                try DigitalIDRecords.create(db, iin: iin, surname: person.surname, givenName: person.givenName, patronymic: person.patronymic,
                                            documentNumber: person.documentNumber,
                                            verifiedBy: "moderator:\(moderator.id)",
                                            pinSetter: try AttemptRecords.owner(db, attemptID: try ModerationRecords.attemptID(db, case: id)), at: now)
            } else {
                let counter = try AttemptRecords.rejectReviewed(db, attemptID: try ModerationRecords.attemptID(db, case: id), iin: iin, reason: reason, at: now)
                left = policy.attemptsLeft(failures: counter.failures, running: counter.running)
                try AuditLog.append(db, at: now, actor: "moderator:\(moderator.id)", action: "attempt.fail", subject: iin, detail: "case \(id) rejected")
            }
            try Outbox.enqueue(db, key: outboxKey, iin: iin, phone: person?.phone, language: try AttemptRecords.language(db, iin: iin),
                               message: moderationResultMessage(approved: approve, attemptsLeft: left), at: now)
            return row
        }
        return try records.moderation.summary(of: row)
    }
}
