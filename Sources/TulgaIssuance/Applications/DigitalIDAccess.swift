import Foundation
public import TulgaDigitalID
import TulgaCore

/// What the portal shows of a Digital ID: the record and its consents.
public struct DigitalIDView: Sendable, Codable, Hashable {
    public var record: DigitalIDRecord
    public var consents: [Consent]
}

/// The applicant's Digital ID through a calling system (the portal). Each step needs the phone
/// confirmed by SMS through that same system moments before (``SMSCodePolicy/confirmationValidSeconds``),
/// and every step but the first PIN also the PIN: a system that never saw the applicant's code
/// reaches nobody's Digital ID.
extension IssuanceService {
    /// The record and its consents: with the PIN once one is set; before that, only to the caller
    /// that may set it (the one that ran the passed verification).
    ///
    /// - Throws: ``IssuanceError`` `.code` without a fresh confirmation through `caller`, `.digitalID` without a record
    ///   or for a caller that may not see it yet, `.pin` for a missing or wrong PIN.
    public func digitalID(iin: String, pin: String?, caller: Caller) async throws -> DigitalIDView {
        let iin = try Self.checkIIN(iin)
        try await requirePhoneConfirmed(iin: iin, caller: caller)
        guard let record = try await digitalIDs.record(iin) else { throw IssuanceError(.digitalID, "no Digital ID for this IIN: pass the verification first") }
        if record.hasPIN {
            guard let pin else { throw IssuanceError(.pin, "enter the Digital ID's PIN") }
            try await checkPIN(iin: iin, pin: pin, whose: "your")
        } else if try await !digitalIDs.isPINSetter(iin: iin, { caller.owns($0) }) {
            throw IssuanceError(.digitalID, "the Digital ID has no PIN yet: it is shown to the system that ran the passed verification")
        }
        return DigitalIDView(record: record, consents: try await digitalIDs.consents(iin: iin))
    }

    /// Sets the first PIN (or a new one after a passed verification cleared a locked one): only
    /// the caller that ran that verification may, within a day of it, so a phone confirmation
    /// alone (a swapped SIM, say) never gives anyone a Digital ID.
    ///
    /// - Throws: ``IssuanceError`` `.code`; ``DigitalIDError`` for a PIN that breaks the rules, no record, a PIN
    ///   already set, or (`.invalidState`) a caller that did not run the verification or came too late.
    public func setPIN(iin: String, pin: String, caller: Caller) async throws {
        let iin = try Self.checkIIN(iin)
        try await requirePhoneConfirmed(iin: iin, caller: caller)
        try await digitalIDs.setPIN(iin: iin, pin: pin) { caller.owns($0) }
    }

    /// Replaces the PIN after checking the current one.
    ///
    /// - Throws: ``IssuanceError`` `.code` or `.pin`; ``DigitalIDError`` for a new PIN that breaks the rules.
    public func changePIN(iin: String, pin: String, newPIN: String, caller: Caller) async throws {
        let iin = try Self.checkIIN(iin)
        try PINPolicy.check(newPIN)
        try await requirePhoneConfirmed(iin: iin, caller: caller)
        try await checkPIN(iin: iin, pin: pin, whose: "your")
        try await digitalIDs.changePIN(iin: iin, to: newPIN)
    }

    /// Grants a consent (the CA's, by default) for `days` days, with the PIN.
    ///
    /// - Throws: ``IssuanceError`` `.code` or `.pin`; ``DigitalIDError`` for a period out of range or a Digital ID not active.
    public func grantConsent(iin: String, pin: String, scope: String, days: Double, caller: Caller) async throws -> Consent {
        let iin = try Self.checkIIN(iin)
        try ConsentRules.checkScope(scope)   // a wrong scope costs no PIN try
        try await requirePhoneConfirmed(iin: iin, caller: caller)
        try await checkPIN(iin: iin, pin: pin, whose: "your")
        return try await digitalIDs.grantConsent(iin: iin, scope: scope, seconds: days * 86400)
    }

    /// Revokes one of the applicant's consents, with the PIN.
    ///
    /// - Throws: ``IssuanceError`` `.code` or `.pin`; ``DigitalIDError`` `.notFound` for a consent that is not theirs.
    public func revokeConsent(iin: String, pin: String, consent: String, caller: Caller) async throws {
        let iin = try Self.checkIIN(iin)
        try await requirePhoneConfirmed(iin: iin, caller: caller)
        try await checkPIN(iin: iin, pin: pin, whose: "your")
        try await digitalIDs.revokeConsent(id: consent, iin: iin)
    }
}
