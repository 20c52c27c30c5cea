import Foundation
public import TulgaCore
import TulgaDigitalID
import TulgaLegalEntities
import TulgaStorage

/// Approvals (HR, then the first head), the desk's confirmation, an admin's refusal.
extension IssuanceService {
    /// A registered HR employee of the organisation approves an employee's application, with
    /// their own PIN (seed 004: «поступает в департамент HR согласование»).
    ///
    /// - Parameters:
    ///   - number: the application number.
    ///   - hrIIN: the approver's IIN; the register must list them as `hr` of the application's BIN.
    ///   - pin: the approver's own Digital ID PIN.
    ///   - caller: who asks; must own the application.
    /// - Returns: The application, still `identified`, now awaiting the first head.
    /// - Throws: ``IssuanceError`` `.notFound` (also for another system's application), `.documentStep` (the approver's
    ///   Digital ID without its document step, while required), `.pin`, `.hrApproval` for someone the register does not
    ///   list or the applicant themself, `.state`; ``StorageError``; ``DatabaseFailure``.
    public func approveByHR(_ number: String, hrIIN: String, pin: String, caller: Caller) async throws -> ApplicationView {
        // Ownership, the status and the register before anyone's PIN is tried: a PIN is never
        // guessed (or locked) through an application its owner cannot approve.
        try await precheck(number, .approveByHR, caller: caller, check: Self.hrMayApprove(hrIIN))
        try checkDocumentStep(try await digitalIDs.record(hrIIN), whose: "the HR approver's")
        try await checkPIN(iin: hrIIN, pin: pin, whose: "the HR approver's")
        return try await transition(number, .approveByHR, caller: caller, actor: "hr:\(hrIIN)",
                                    set: [("hr_iin", .text(hrIIN)), ("hr_approved_at", .double(now))], check: Self.hrMayApprove(hrIIN))
    }

    static func hrMayApprove(_ hrIIN: String) -> @Sendable (any SQLSession, SQLRow) throws -> Void {
        { db, row in
            let bin = try row.optionalText(Columns.bin) ?? ""
            guard try row.text(Columns.iin) != hrIIN else { throw IssuanceError(.hrApproval, "an applicant does not approve their own application") }
            guard try LegalEntityRecords.hasRole(db, bin: bin, iin: hrIIN, role: .hr) else {
                throw IssuanceError(.hrApproval, "the register does not list \(hrIIN) as HR of \(bin)")
            }
        }
    }

    static func headMayApprove(_ headIIN: String) -> @Sendable (any SQLSession, SQLRow) throws -> Void {
        { db, row in
            let bin = try row.optionalText(Columns.bin) ?? ""
            guard try row.text(Columns.iin) != headIIN else { throw IssuanceError(.headApproval, "an applicant does not approve their own application") }
            guard try row.optionalText(Columns.hrIIN) != headIIN else {
                throw IssuanceError(.headApproval, "HR's approval and the first head's come from two people")
            }
            guard let organization = try LegalEntityRecords.organization(db, bin: bin), organization.status == .active,
                  organization.headIIN == headIIN else {
                throw IssuanceError(.headApproval, "only the registered first head of an active \(bin) approves it")
            }
        }
    }

    /// The lifecycle's and the register's answer to `event`, without changing anything.
    func precheck(_ number: String, _ event: ApplicationEvent, caller: Caller,
                  check: @escaping @Sendable (any SQLSession, SQLRow) throws -> Void) async throws {
        let at = now, lifecycle = lifecycle
        try await db.transaction { db in
            let row = try Self.owned(db, number, by: caller)
            _ = try lifecycle.transition(from: try Self.facts(row), event: event, now: at)
            try check(db, row)
        }
    }

    /// The organisation's registered first head approves an employee's application after HR, with
    /// their own PIN; the certificates are then issued at once when the CA is up.
    ///
    /// - Parameters:
    ///   - number: the application number.
    ///   - headIIN: the approver's IIN; must be the register's first head of the application's BIN.
    ///   - pin: the first head's own Digital ID PIN.
    ///   - caller: who asks; must own the application.
    /// - Returns: The application, now `issued` (or `signing` while the CA is down).
    /// - Throws: ``IssuanceError`` `.notFound`, `.documentStep` (the head's Digital ID without its document step, while
    ///   required), `.pin`, `.hrApproval` before HR, `.headApproval` for anyone but the registered head, `.state`;
    ///   ``StorageError``; ``DatabaseFailure``.
    public func approveByHead(_ number: String, headIIN: String, pin: String, caller: Caller) async throws -> ApplicationView {
        try await precheck(number, .approveByHead, caller: caller, check: Self.headMayApprove(headIIN))
        try checkDocumentStep(try await digitalIDs.record(headIIN), whose: "the first head's")
        try await checkPIN(iin: headIIN, pin: pin, whose: "the first head's")
        _ = try await transition(number, .approveByHead, caller: caller, actor: "head:\(headIIN)",
                                 set: [("head_iin", .text(headIIN)), ("head_approved_at", .double(now))], check: Self.headMayApprove(headIIN))
        return try await issueIfReady(number, caller: caller)
    }

    /// An operator confirms an in-person application (identity checked at the desk); refused
    /// once it is past its 30 days. The certificates are then issued at once when the CA is up.
    ///
    /// - Parameters:
    ///   - number: the application number.
    ///   - operatorID: the operator who confirms it; audited.
    /// - Returns: The application, now `issued` (or `signing`).
    /// - Throws: ``IssuanceError`` `.state` for a remote, overdue or not-`new` application, `.notFound`;
    ///   ``StorageError``; ``DatabaseFailure``.
    public func confirmInPerson(_ number: String, operator operatorID: String) async throws -> ApplicationView {
        let caller = Caller.staff("operator:" + operatorID)
        _ = try await transition(number, .confirmInPerson, caller: caller)
        return try await issueIfReady(number, caller: caller)
    }

    /// An admin refuses an application that is not issued yet.
    ///
    /// - Parameters:
    ///   - number: the application number.
    ///   - admin: who refuses it; audited.
    ///   - reason: why, for the audit.
    /// - Returns: The application, now `rejected`.
    /// - Throws: ``IssuanceError`` `.notFound`, `.state`; ``StorageError``; ``DatabaseFailure``.
    public func refuse(_ number: String, admin: String, reason: String) async throws -> ApplicationView {
        try await transition(number, .reject, caller: .staff("admin:" + admin), set: [("refusal", .text(String(reason.prefix(500))))])
    }
}
