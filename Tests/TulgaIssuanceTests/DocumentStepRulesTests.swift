import Foundation
import Testing
import TulgaCore
import TulgaDigitalID
import TulgaDocument
import TulgaFlow
import TulgaIssuance
import TulgaLegalEntities
import TulgaMRZ
import TulgaPolicy
import TulgaRegistry
import TulgaStorage
import TulgaTestSupport

/// The identity-document step's pure rules (the comparison with the registry, the portrait, the
/// order) and the gate it puts on applications.
@Suite("The document step: comparison, order and the application gate")
struct DocumentStepRulesTests {
    static let lin = "850314300013"
    /// Lin's ID card as scripts/render-document writes it (number 041234567, born 1985-03-14, expires 2032-10-12).
    static func card() throws -> MRZ {
        try MRZ.parse(["IDKAZ0412345670850314300013<<<", "8503149M3210123KAZ<<<<<<<<<<<8", "MIRANDA<<LIN<MANUEL<<<<<<<<<<<"], currentYear: 2027).validated()
    }
    static let person = RegistryPerson(surname: "МИРАНДА", givenName: "ЛИН", documentNumber: "041234567",
                                       latin: LatinNames(surname: "Miranda", givenNames: "Lin Manuel"), passportNumber: "N12345678")

    static func failed(_ checks: [DocumentCheck]) -> [String] { checks.filter { !$0.passed }.map(\.name) }

    @Test("the card of the registry's person matches field by field; each difference is named")
    func comparison() throws {
        let today = 2027_01_15, card = try Self.card()
        let all = DocumentComparison.compare(card, kind: .idCard, iin: Self.lin, person: Self.person, today: today)
        #expect(all.map(\.name) == ["document_number", "birth_date", "surname", "given_names", "iin", "not_expired"])
        #expect(Self.failed(all).isEmpty, "\(all)")
        var other = Self.person
        other.documentNumber = "041234568"
        #expect(Self.failed(DocumentComparison.compare(card, kind: .idCard, iin: Self.lin, person: other, today: today)) == ["document_number"])
        other = Self.person
        other.latin = LatinNames(surname: "MIRANDA", givenNames: "LIN")
        #expect(Self.failed(DocumentComparison.compare(card, kind: .idCard, iin: Self.lin, person: other, today: today)) == ["given_names"])
        other.latin = nil
        #expect(Self.failed(DocumentComparison.compare(card, kind: .idCard, iin: Self.lin, person: other, today: today)) == ["surname", "given_names"])
        // Another IIN: born on another day, and not the IIN the card carries.
        let born1986 = "860314300012"
        #expect(Self.failed(DocumentComparison.compare(card, kind: .idCard, iin: born1986, person: Self.person, today: today)) == ["birth_date", "iin"])
        // After its expiry (the injected clock's today).
        #expect(Self.failed(DocumentComparison.compare(card, kind: .idCard, iin: Self.lin, person: Self.person, today: 2032_10_13)) == ["not_expired"])
        // As a passport: compared with the passport's number, which this one is not; without one in the registry, named too.
        #expect(Self.failed(DocumentComparison.compare(card, kind: .passport, iin: Self.lin, person: Self.person, today: today)) == ["document_number"])
        other = Self.person
        other.passportNumber = nil
        let noPassport = DocumentComparison.compare(card, kind: .passport, iin: Self.lin, person: other, today: today)
        #expect(noPassport.first?.passed == false && noPassport.first?.detail.contains("no passport number") == true)
    }

    @Test("the portrait passes at the accept threshold; the review band and below go to a moderator", arguments: [
        (0.52, true), (0.363, true), (0.34, false), (0.1, false),
    ])
    func portrait(score: Double, passed: Bool) {
        #expect(DocumentComparison.portrait(score: score, bands: DecisionBands(accept: 0.363, review: 0.31)).passed == passed)
    }

    @Test("the order: required, a Digital ID, active, a PIN, still pending")
    func order() {
        func record(_ status: DigitalIDRecord.Status = .active, pin: Bool = true, _ state: DocumentStepState = .pending) -> DigitalIDRecord {
            DigitalIDRecord(iin: Self.lin, surname: "A", givenName: "B", documentNumber: "N", status: status, createdAt: 0, verifiedAt: 0,
                            verifiedBy: "automatic", hasPIN: pin, pinFailures: 0, pinLocked: false, documentState: state)
        }
        let cases: [(DigitalIDRecord?, Bool, DocumentStepErrorCode?)] = [
            (record(), true, nil), (record(), false, .notRequired), (nil, true, .beforeVerification), (record(.suspended), true, .digitalIDInactive),
            (record(pin: false), true, .beforePIN), (record(.active, .done), true, .done), (record(.active, .review), true, .inReview),
            (record(.active, .rejected), true, .rejected),
        ]
        for (record, required, code) in cases {
            if let code {
                #expect(throws: DocumentStepError(code, "")) { try DocumentStep.checkOpen(record: record, required: required) }
            } else {
                #expect(throws: Never.self) { try DocumentStep.checkOpen(record: record, required: required) }
            }
        }
    }

    @Test("with the step required, a remote application waits for it; done (or approved), it goes through", arguments: Backend.allCases)
    func gate(backend: Backend) async throws {
        let w = try await World.make(backend, documentStep: true)
        let iin = World.iin(7)
        try await w.person(iin)
        let keys = try w.keyStore("gate")
        await #expect(throws: IssuanceError(.documentStep, "")) {
            _ = try await w.service.applyRemote(iin: iin, pin: "402719", agreement: UserAgreement.version, requests: try w.requests(keys, iin: iin), caller: systemA)
        }
        try await w.store.database.transaction { db in
            try DigitalIDRecords.moveDocumentStep(db, iin: iin, event: .sentToReview, actor: "policy", detail: "case-x", at: 1)
        }
        await #expect(throws: IssuanceError(.documentStep, "")) {
            _ = try await w.service.applyRemote(iin: iin, pin: "402719", agreement: UserAgreement.version, requests: try w.requests(keys, iin: iin), caller: systemA)
        }
        try await w.store.database.transaction { db in
            try DigitalIDRecords.moveDocumentStep(db, iin: iin, event: .approved, actor: "moderator:m", detail: "case-x", at: 2)
        }
        let app = try await w.service.applyRemote(iin: iin, pin: "402719", agreement: UserAgreement.version, requests: try w.requests(keys, iin: iin),
                                                  caller: systemA)
        #expect(app.status == .issued)
        let trail = try await w.store.auditEntries(subject: iin).map(\.action)
        #expect(trail.contains("digital_id.document_review") && trail.contains("digital_id.document_done"))
        #expect(try await w.store.verifyAudit().intact)
        await w.close()
    }

    @Test("an approver's Digital ID without its document step approves nothing, refused before the PIN is tried")
    func approverGate() async throws {
        let w = try await World.make(documentStep: true)
        let head = World.iin(20), employee = World.iin(21), hr = World.iin(22), s = w.service
        for (iin, pin) in [(head, "402719"), (employee, "503816"), (hr, "614927")] { try await w.person(iin, pin: pin) }
        _ = try await w.store.legalEntities.importOrganizations(try RegisterCSV.organizations("bin,name,head_iin,status\n\(LegalEntityTests.bin),Tulga,\(head),active\n"))
        _ = try await w.store.legalEntities.importRoles(try RegisterCSV.roles(
            "bin,iin,role\n\(LegalEntityTests.bin),\(employee),signer\n\(LegalEntityTests.bin),\(hr),hr\n"))
        let done = { (iin: String) in
            try await w.store.database.transaction { db in try DigitalIDRecords.moveDocumentStep(db, iin: iin, event: .matched, actor: "policy", detail: "", at: 1) }
        }
        try await done(employee)
        let app = try await s.applyRemote(iin: employee, pin: "503816", agreement: UserAgreement.version, template: .signer,
                                          requests: try w.requests(w.keyStore("employee"), iin: employee), bin: LegalEntityTests.bin, caller: systemA)
        // A wrong PIN is not even tried: the step comes first, and no try is counted.
        await #expect(throws: IssuanceError(.documentStep, "")) { _ = try await s.approveByHR(app.number, hrIIN: hr, pin: "000001", caller: systemA) }
        #expect(try await w.store.digitalIDs.record(hr)?.pinFailures == 0)
        try await done(hr)
        _ = try await s.approveByHR(app.number, hrIIN: hr, pin: "614927", caller: systemA)
        await #expect(throws: IssuanceError(.documentStep, "")) { _ = try await s.approveByHead(app.number, headIIN: head, pin: "402719", caller: systemA) }
        try await done(head)
        #expect(try await s.approveByHead(app.number, headIIN: head, pin: "402719", caller: systemA).status == .issued)
        await w.close()
    }
}
