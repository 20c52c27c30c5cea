import Foundation
import Testing
import TulgaAttempts
import TulgaRegistry
import TulgaStorage
import TulgaFlow
import TulgaCore
import TulgaDigitalID
import TulgaIssuance
import TulgaKeyStore
import TulgaLegalEntities
import TulgaPKI
import TulgaTestSupport

@Suite("The legal-entity register: CSV import, first heads, roles, HR then head approval, O and OU from the register")
struct LegalEntityTests {
    static let bin = "040540000014"

    @Test("CSV rows are checked one by one, each bad one with its line and reason")
    func csv() throws {
        let head = World.iin(10)
        let text = """
            bin,name,head_iin,status
            \(Self.bin),"ТОО ""Тулга"", филиал",\(head),active
            040540000011,Bad BIN,\(head),active
            040540000024,,\(head),active
            040540000024,Name,123,active
            040540000024,Name,\(head),sleeping
            \(Self.bin),Twice,\(head),active
            040540000024,Short row
            """
        let parsed = try RegisterCSV.organizations(text)
        #expect(parsed.organizations.map(\.name) == ["ТОО \"Тулга\", филиал"])
        #expect(parsed.problems.map(\.line) == [3, 4, 5, 6, 7, 8])
        #expect(parsed.problems[0].reason.contains("BIN") && parsed.problems[4].reason.contains("twice") && parsed.problems[5].reason.contains("4 fields"))
        #expect(throws: RegisterError(.header, "")) { _ = try RegisterCSV.organizations("iin,name\n") }
        #expect(throws: RegisterError(.header, "")) { _ = try RegisterCSV.roles("") }
        let roles = try RegisterCSV.roles("bin,iin,role\n\(Self.bin),\(head),hr\n\(Self.bin),\(head),boss\n\(Self.bin),1,hr\n")
        #expect(roles.roles.count == 1 && roles.problems.map(\.line) == [3, 4])
    }

    @Test("an employee: the register's role, HR's approval, then the registered head's; O and OU=BIN from the register")
    func employee() async throws {
        let w = try await World.make()
        let head = World.iin(10), employee = World.iin(11), hr = World.iin(12), stranger = World.iin(13), s = w.service
        try await w.person(head, pin: "402719", surname: "HEAD", givenName: "FIRST")
        try await w.person(employee, pin: "503816")
        try await w.person(hr, pin: "614927", surname: "KADR", givenName: "HR")
        try await w.person(stranger, pin: "725038")
        let orgs = try await w.store.legalEntities.importOrganizations(try RegisterCSV.organizations(
            "bin,name,head_iin,status\n\(Self.bin),\"ТОО \"\"Тулга\"\"\",\(head),active\n040540000024,Closed,\(stranger),liquidated\n"))
        #expect(orgs.imported == 2 && orgs.problems.isEmpty)
        let roles = try await w.store.legalEntities.importRoles(try RegisterCSV.roles(
            "bin,iin,role\n\(Self.bin),\(employee),signer\n\(Self.bin),\(hr),hr\n\(Self.bin),\(stranger),treasury_client\n050540000016,\(hr),hr\n"))
        #expect(roles.imported == 3 && roles.problems.count == 1)

        let requests = try w.requests(w.keyStore("employee"), iin: employee)
        // The register decides: not a role it lists, not the head, not an active organisation, not a BIN it knows.
        await #expect(throws: IssuanceError(.register, "")) {
            _ = try await s.applyRemote(iin: employee, pin: "503816", agreement: UserAgreement.version, template: .financialSigner, requests: requests, bin: Self.bin, caller: systemA)
        }
        await #expect(throws: IssuanceError(.register, "")) {
            _ = try await s.applyRemote(iin: employee, pin: "503816", agreement: UserAgreement.version, template: .firstHead, requests: requests, bin: Self.bin, caller: systemA)
        }
        await #expect(throws: IssuanceError(.register, "")) {
            _ = try await s.applyRemote(iin: stranger, pin: "725038", agreement: UserAgreement.version, template: .firstHead, requests: requests, bin: "040540000024", caller: systemA)
        }
        await #expect(throws: IssuanceError(.register, "")) {
            _ = try await s.applyRemote(iin: employee, pin: "503816", agreement: UserAgreement.version, template: .signer, requests: requests, bin: "050540000016", caller: systemA)
        }
        await #expect(throws: IssuanceError(.invalidIdentity, "")) {
            _ = try await s.applyRemote(iin: employee, pin: "503816", agreement: UserAgreement.version, template: .signer, requests: requests, bin: "040540000011", caller: systemA)
        }
        // Treasury-Client keys only on a token.
        await #expect(throws: IssuanceError(.tokenRequired, "")) {
            _ = try await s.applyRemote(iin: stranger, pin: "725038", agreement: UserAgreement.version, template: .treasuryClient, requests: requests, bin: Self.bin, caller: systemA)
        }

        let app = try await s.applyRemote(iin: employee, pin: "503816", agreement: UserAgreement.version, template: .signer, requests: requests, bin: Self.bin, caller: systemA)
        #expect(app.status == .identified && app.needsHeadApproval && app.organization == "ТОО \"Тулга\"")
        await #expect(throws: IssuanceError(.hrApproval, "")) { _ = try await s.approveByHead(app.number, headIIN: head, pin: "402719", caller: systemA) }
        await #expect(throws: IssuanceError(.hrApproval, "")) { _ = try await s.approveByHR(app.number, hrIIN: stranger, pin: "725038", caller: systemA) }
        await #expect(throws: IssuanceError(.hrApproval, "")) { _ = try await s.approveByHR(app.number, hrIIN: employee, pin: "503816", caller: systemA) }
        await #expect(throws: IssuanceError(.notFound, "")) { _ = try await s.approveByHR(app.number, hrIIN: hr, pin: "614927", caller: systemB) }
        await #expect(throws: IssuanceError(.pin, "")) { _ = try await s.approveByHR(app.number, hrIIN: hr, pin: "000001", caller: systemA) }
        // Someone the register does not list is refused before their PIN is tried: nobody's PIN is
        // guessed, or locked, through an application.
        for _ in 0..<6 {
            await #expect(throws: IssuanceError(.hrApproval, "")) { _ = try await s.approveByHR(app.number, hrIIN: stranger, pin: "000000", caller: systemA) }
            await #expect(throws: IssuanceError(.hrApproval, "")) { _ = try await s.approveByHead(app.number, headIIN: stranger, pin: "000000", caller: systemA) }
        }
        #expect(try await w.store.digitalIDs.checkPIN(iin: stranger, pin: "725038") == .accepted)
        let afterHR = try await s.approveByHR(app.number, hrIIN: hr, pin: "614927", caller: systemA)
        #expect(afterHR.status == .identified && afterHR.hrApproved && !afterHR.headApproved)
        await #expect(throws: IssuanceError(.headApproval, "")) { _ = try await s.approveByHead(app.number, headIIN: stranger, pin: "725038", caller: systemA) }
        let approved = try await s.approveByHead(app.number, headIIN: head, pin: "402719", caller: systemA)
        #expect(approved.status == .issued && approved.headApproved)

        let certs = try await s.install(app.number, caller: systemA)
        let pem = try writeFile(w.dir, "emp.pem", certs.sign)
        let text = try openssl(["x509", "-in", pem, "-noout", "-subject", "-ext", "certificatePolicies", "-nameopt", "RFC2253,-esc_msb"]).out
        #expect(text.contains("O=ТОО \"Тулга\"") || text.contains("O=ТОО \\\"Тулга\\\""), "\(text)")
        #expect(text.contains("OU=BIN\(Self.bin)") && text.contains("1.2.398.3.3.4.1.2.2"))

        // The first head: only the registered one, for an active organisation.
        let headApp = try await s.applyRemote(iin: head, pin: "402719", agreement: UserAgreement.version, template: .firstHead, requests: try w.requests(w.keyStore("head"), iin: head),
                                              bin: Self.bin, caller: systemA)
        #expect(headApp.status == .issued)
        await w.close()
    }

    @Test("in person, an employee's application still waits for HR and the first head; names no certificate can hold are refused at filing")
    func inPersonEmployee() async throws {
        let w = try await World.make()
        let head = World.iin(14), employee = World.iin(15), hr = World.iin(16), s = w.service
        try await w.person(head, pin: "402719", surname: "HEAD", givenName: "FIRST")
        try await w.person(hr, pin: "614927", surname: "KADR", givenName: "HR")
        let long = String(repeating: "L", count: 70)
        let orgs = try await w.store.legalEntities.importOrganizations(try RegisterCSV.organizations(
            "bin,name,head_iin,status\n\(Self.bin),Tulga,\(head),active\n040540000024,\(long),\(head),active\n"))
        #expect(orgs.imported == 1 && orgs.problems.first?.reason.contains("64") == true)
        _ = try await w.store.legalEntities.importRoles(try RegisterCSV.roles(
            "bin,iin,role\n\(Self.bin),\(employee),financial_signer\n\(Self.bin),\(hr),hr\n\(Self.bin),\(head),hr\n"))
        try await w.fail(employee, times: 5)
        let desk = Caller.staff("operator:op7")
        // A surname too long for a certificate is refused when filed, not left «на подписи».
        await #expect(throws: IssuanceError(.invalidIdentity, "")) {
            _ = try await s.applyInPerson(iin: employee, surname: long, givenName: "Aidos", operator: "op7", template: .financialSigner,
                                          requests: try w.requests(w.keyStore("long"), iin: employee), bin: Self.bin)
        }
        // A bidi override is refused; a name in decomposed form counts as the certificate will carry it (NFC).
        await #expect(throws: IssuanceError(.invalidIdentity, "")) {
            _ = try await s.applyInPerson(iin: employee, surname: "Seitkali\u{202E}", givenName: "Aidos", operator: "op7", template: .financialSigner,
                                          requests: try w.requests(w.keyStore("bidi"), iin: employee), bin: Self.bin)
        }
        // The first head is also listed as HR: they may give one approval, not both.
        let both = try await s.applyInPerson(iin: employee, surname: String(repeating: "e\u{0301}", count: 30), givenName: "Aidos", operator: "op7",
                                             template: .financialSigner, requests: try w.requests(w.keyStore("both"), iin: employee), bin: Self.bin)
        _ = try await s.confirmInPerson(both.number, operator: "op7")
        _ = try await s.approveByHR(both.number, hrIIN: head, pin: "402719", caller: desk)
        await #expect(throws: IssuanceError(.headApproval, "")) { _ = try await s.approveByHead(both.number, headIIN: head, pin: "402719", caller: desk) }
        _ = try await s.refuse(both.number, admin: "root", reason: "one person gave both approvals")
        let app = try await s.applyInPerson(iin: employee, surname: "Seitkali", givenName: "Aidos", operator: "op7", template: .financialSigner,
                                            requests: try w.requests(w.keyStore("employee"), iin: employee), bin: Self.bin)
        // The desk confirms who the person is; the organisation has not said they may sign for it.
        let confirmed = try await s.confirmInPerson(app.number, operator: "op7")
        #expect(confirmed.status == .identified && !confirmed.hrApproved && !confirmed.headApproved)
        await #expect(throws: IssuanceError(.headApproval, "")) { _ = try await s.issue(app.number, admin: "root") }
        _ = try await s.approveByHR(app.number, hrIIN: hr, pin: "614927", caller: desk)
        await #expect(throws: IssuanceError(.headApproval, "")) { _ = try await s.issue(app.number, admin: "root") }
        let issued = try await s.approveByHead(app.number, headIIN: head, pin: "402719", caller: desk)
        #expect(issued.status == .issued && issued.hrApproved && issued.headApproved)
        // The holder renews; the renewal waits for approvals again. The old SIGN key is then
        // revoked as compromised: the pending renewal is refused, not issued later.
        let keys = try w.keyStore("employee")
        let certs = try await s.install(app.number, caller: desk)
        _ = try keys.install(certs.byPurpose, chainPEM: certs.chain, at: w.clock.date)
        let fresh = try w.requests(keys, iin: employee)
        let challenge = try await s.renewalChallenge(app.number, caller: desk).challenge
        let renewal = try await s.renew(app.number, requests: fresh, challenge: challenge, caller: desk, signedBy: keys, auth: certs.auth)
        #expect(renewal.status == .identified && !renewal.hrApproved)
        try await s.revoke(serial: try IssuedCertificate(pem: certs.sign).serialHex, reason: .keyCompromise, actor: "admin:root")
        #expect(try await s.status(renewal.number, caller: desk).status == .rejected)
        await #expect(throws: IssuanceError(.state, "")) { _ = try await s.approveByHR(renewal.number, hrIIN: hr, pin: "614927", caller: desk) }
        await w.close()
    }
}
