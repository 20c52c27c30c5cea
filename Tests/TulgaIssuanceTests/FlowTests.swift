import Foundation
import Testing
import TulgaIssuance
import TulgaStorage
import TulgaCore
import TulgaFlow
import TulgaAttempts
import TulgaModeration
import TulgaRegistry
import TulgaDigitalID
import TulgaTestSupport
import TulgaCrypto
import TulgaPolicy
import TulgaFaceModel
import TulgaLiveness
import Logging

@Suite("Issuance: codes, applications, CA, certificates, PKCS#12, checked with openssl")
struct FlowTests {
    @Test("SMS codes: single use, 120 s, 3 wrong entries, resend after 60 s, 5 an hour", arguments: Backend.allCases)
    func smsCodes(backend: Backend) async throws {
        let w = try await World.make(backend)
        let iin = World.iin(1), s = w.service
        await #expect(throws: IssuanceError(.phoneNotRegistered, "")) { try await s.requestCode(iin: iin) }
        do { try await s.requestCode(iin: iin) } catch let e as IssuanceError { #expect(e.reason.contains("Зарегистрируйте номер телефона")) }
        try await s.registerPhone(iin: iin, phone: "+77011234567")
        try await s.requestCode(iin: iin)
        let sms = try #require(try await w.store.outbox(iin: iin).last)
        #expect(sms.phone == "+77011234567")
        let code = try await w.lastCode(iin)
        #expect(code.count == 6)
        await #expect(throws: IssuanceError(.code, "")) { try await s.requestCode(iin: iin) }   // resend too early
        let wrong = code == "000000" ? "000001" : "000000"
        await #expect(throws: IssuanceError(.code, "")) { try await s.confirmCode(iin: iin, code: wrong) }
        try await s.confirmCode(iin: iin, code: code)
        await #expect(throws: IssuanceError(.code, "")) { try await s.confirmCode(iin: iin, code: code) }  // reused

        w.clock.advance(61)
        try await s.requestCode(iin: iin)
        let second = try await w.lastCode(iin)
        w.clock.advance(121)
        do { try await s.confirmCode(iin: iin, code: second); Issue.record("expired code accepted") } catch let e as IssuanceError {
            #expect(e.reason.contains("expired"))
        }
        // Two more wrong entries make three with the first: a new code does not reset the count.
        try await s.requestCode(iin: iin)
        let third = try await w.lastCode(iin)
        let bad = third == "111111" ? "222222" : "111111"
        for _ in 0..<2 { await #expect(throws: IssuanceError(.code, "")) { try await s.confirmCode(iin: iin, code: bad) } }
        w.clock.advance(61)
        try await s.requestCode(iin: iin)
        do { try await s.confirmCode(iin: iin, code: try await w.lastCode(iin)); Issue.record("accepted after 3 wrong") } catch let e as IssuanceError {
            #expect(e.reason.contains("3 wrong codes"))
        }
        // Five codes an hour.
        for _ in 0..<1 { w.clock.advance(61); try await s.requestCode(iin: iin) }
        w.clock.advance(61)
        do { try await s.requestCode(iin: iin); Issue.record("6th code in an hour") } catch let e as IssuanceError { #expect(e.reason.contains("at most 5 codes")) }
        await w.close()
    }

    @Test("remote individual: apply, issue, install; openssl accepts it all", arguments: Backend.allCases)
    func remoteIndividual(backend: Backend) async throws {
        let w = try await World.make(backend)
        let iin = World.iin(2), s = w.service
        try await w.person(iin)
        let app = try await s.applyRemote(iin: iin, pin: "402719")
        #expect(app.status == .signing && app.statusTitle == "Заявка на подписи в ИС НУЦ")
        #expect(app.number.count == 29)
        await #expect(throws: IssuanceError(.activeApplication, "")) { _ = try await s.applyRemote(iin: iin, pin: "402719") }
        let raw = try await w.store.database.transaction { db in try db.one("SELECT key_auth FROM applications WHERE number = ?", [.text(app.number)]) }
        let sealed = try #require(raw?["key_auth"].blob)
        #expect(String(decoding: sealed, as: UTF8.self).contains("PRIVATE KEY") == false)

        let issued = try await s.issue(app.number)
        #expect(issued.statusTitle == "Выпущены регистрационные свидетельства по заявке" && issued.serials.count == 2)
        for bad in ["short", "no digits here", "пароль123"] {
            await #expect(throws: IssuanceError(.password, "")) { _ = try await w.install(app.number, folder: w.dir + "/keys", password: bad) }
        }
        let folder = w.dir + "/keys"
        let files = try await w.install(app.number, folder: folder, password: "Secret12@")
        #expect(try await s.status(app.number).statusTitle == "Сертификаты установлены")
        await #expect(throws: IssuanceError(.state, "")) { _ = try await w.install(app.number, folder: folder, password: "Secret12@") }
        #expect(files.map { ($0 as NSString).lastPathComponent }.sorted() ==
                ["AUTH_RSA256_\(issued.serials[0].lowercased()).p12", "RSA256_\(issued.serials[1].lowercased()).p12"].sorted())
        let folderMode = try FileManager.default.attributesOfItem(atPath: folder)[.posixPermissions] as? Int
        #expect(folderMode == 0o700)

        let root = w.dir + "/ca/root.crt", issuing = w.dir + "/ca/issuing.crt"
        for (purpose, file) in zip(["AUTH", "SIGN"], files.sorted()) {
            #expect((try FileManager.default.attributesOfItem(atPath: file)[.posixPermissions] as? Int) == 0o600)
            let info = try openssl(["pkcs12", "-in", file, "-passin", "pass:Secret12@", "-info", "-noout"])
            #expect(info.status == 0, "\(info.out)")
            #expect(info.out.contains("PBES2, PBKDF2, AES-256-CBC") && info.out.contains("MAC: sha256"))
            #expect(!info.out.contains("RC2") && !info.out.contains("3DES") && !info.out.contains("des-ede3"))
            #expect(try openssl(["pkcs12", "-in", file, "-passin", "pass:Wrong12@", "-noout"]).status != 0)
            let cert = w.dir + "/\(purpose).pem"
            #expect(try openssl(["pkcs12", "-in", file, "-passin", "pass:Secret12@", "-clcerts", "-nokeys", "-out", cert]).status == 0)
            let verify = try openssl(["verify", "-attime", "\(Int(w.clock.now()))", "-CAfile", root, "-untrusted", issuing, cert])
            #expect(verify.status == 0 && verify.out.contains("OK"), "\(verify.out)")
            let text = try openssl(["x509", "-in", cert, "-noout", "-text", "-nameopt", "RFC2253,-esc_msb"]).out
            #expect(text.contains("CN=ABAYEV ARMAN"))
            #expect(text.contains("serialNumber=IIN\(iin)") && text.contains("C=KZ"))
            #expect(text.contains("SN=ABAYEV") && text.contains("GN=ARMAN"))
            #expect(text.contains("Policy: 1.2.398.3.3.4.1.1") && text.contains("Policy: 1.2.398.3.3.4.3.2.1"))
            #expect(text.contains("CRL Distribution Points") && text.contains("URI:http://crl.tulga.invalid/issuing.crl"))
            let dates = try openssl(["x509", "-in", cert, "-noout", "-startdate", "-enddate"]).out
            #expect(dates.contains("notAfter="))
            if purpose == "AUTH" {
                #expect(text.contains("Digital Signature, Key Encipherment") && text.contains("TLS Web Client Authentication"))
            } else {
                #expect(text.contains("Digital Signature, Non Repudiation") && !text.contains("Client Authentication"))
            }
            let serialBytes = try openssl(["x509", "-in", cert, "-noout", "-serial"]).out.split(separator: "=").last?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            #expect(serialBytes.count == 32, "16-byte serial: \(serialBytes)")
        }

        // Renewal of remotely issued keys is refused with the portal's words; reissue is offered.
        do { try await s.renew(app.number) } catch let e as IssuanceError {
            #expect(e.reason.contains("«Подача заявки по данному шаблону недоступна через личный кабинет пользователя»"))
            #expect(e.reason.contains("перевыпуск"))
        }

        // Revoke one certificate and publish the CRL.
        try await s.revoke(serial: issued.serials[0], reason: .keyCompromise)
        await #expect(throws: IssuanceError(.state, "")) { try await s.revoke(serial: issued.serials[0], reason: .keyCompromise) }
        let crl = try await s.publishCRL()
        let crlText = try openssl(["crl", "-in", crl, "-noout", "-text"]).out
        #expect(crlText.contains("Serial Number: \(issued.serials[0].uppercased())") && crlText.contains("Key Compromise"))
        #expect(try openssl(["crl", "-in", crl, "-noout", "-CAfile", issuing]).out.contains("verify OK"))
        let revokedCheck = try openssl(["verify", "-attime", "\(Int(w.clock.now()))", "-crl_check", "-CAfile", root, "-untrusted", issuing, "-CRLfile", crl, w.dir + "/AUTH.pem"])
        #expect(revokedCheck.status != 0 && revokedCheck.out.contains("revoked"))

        // Reissue: the remaining certificate is superseded, a new application starts.
        w.clock.advance(61)
        try await w.confirmPhone(iin)
        // A wrong PIN revokes nothing: every check runs before the old certificates are touched.
        await #expect(throws: IssuanceError(.pin, "")) { _ = try await s.reissue(app.number, pin: "000001") }
        let stillValid = try await w.store.database.transaction { db in try db.one("SELECT COUNT(*) AS n FROM revocations", [])?["n"].int }
        #expect(stillValid == 1)
        let again = try await s.reissue(app.number, pin: "402719")
        #expect(again.status == .signing)
        #expect(try await s.status(app.number).status == .revoked)
        await w.close()
    }

    @Test("a delivery that fails leaves the application issued with its keys: nothing is lost, install again")
    func failedDelivery() async throws {
        let w = try await World.make()
        let iin = World.iin(30), s = w.service
        try await w.person(iin)
        let app = try await s.applyRemote(iin: iin, pin: "402719")
        _ = try await s.issue(app.number)
        struct DiskFull: Error {}
        await #expect(throws: DiskFull.self) { _ = try await s.install(app.number, password: "Secret12@") { _ in throw DiskFull() } }
        #expect(try await s.status(app.number).status == .issued)
        let keys = try await w.store.database.transaction { db in try db.one("SELECT key_auth, key_sign FROM applications WHERE number = ?", [.text(app.number)]) }
        #expect(keys?["key_auth"].isNull == false && keys?["key_sign"].isNull == false)
        #expect(try await w.install(app.number, folder: w.dir + "/retry", password: "Secret12@").count == 2)
        #expect(try await s.status(app.number).status == .installed)
        await w.close()
    }

    @Test("remote application needs a confirmed phone, an active Digital ID, a consent and the PIN")
    func preconditions() async throws {
        let w = try await World.make()
        let iin = World.iin(3), s = w.service
        try await w.store.registry.upsert(RegistryEntry(iin: iin, surname: "A", givenName: "B", documentNumber: "N", photo: Data([1])))
        try await s.registerPhone(iin: iin, phone: "+77010000003")
        await #expect(throws: IssuanceError(.code, "")) { _ = try await s.applyRemote(iin: iin, pin: "402719") }
        try await w.confirmPhone(iin)
        await #expect(throws: IssuanceError(.digitalID, "")) { _ = try await s.applyRemote(iin: iin, pin: "402719") }
        let t = try await w.store.attempts.begin(iin: iin)
        _ = try await w.store.runner.record(t, outcome: .pass, score: 0.9, livenessPassed: true, reason: "", evidence: Evidence(selfie: nil, reference: nil, livenessReport: nil))
        try await w.store.digitalIDs.setPIN(iin: iin, pin: "402719")
        await #expect(throws: IssuanceError(.consent, "")) { _ = try await s.applyRemote(iin: iin, pin: "402719") }
        let consent = try await w.store.digitalIDs.grantConsent(iin: iin, scope: "ca.identity", seconds: 3600)
        await #expect(throws: IssuanceError(.pin, "")) { _ = try await s.applyRemote(iin: iin, pin: "999998") }
        try await w.store.digitalIDs.revokeConsent(id: consent.id, iin: iin)
        await #expect(throws: IssuanceError(.consent, "")) { _ = try await s.applyRemote(iin: iin, pin: "402719") }
        _ = try await w.store.digitalIDs.grantConsent(iin: iin, scope: "ca.identity", seconds: 3600)
        await #expect(throws: IssuanceError(.invalidIdentity, "")) { _ = try await s.applyRemote(iin: "900702300010", pin: "402719") }
        let app = try await s.applyRemote(iin: iin, pin: "402719", algorithm: .p256)
        _ = try await s.issue(app.number)
        let files = try await w.install(app.number, folder: w.dir + "/ec", password: "abc123")
        let cert = try openssl(["pkcs12", "-in", files[0], "-passin", "pass:abc123", "-clcerts", "-nokeys"]).out
        let text = try openssl(["x509", "-noout", "-text"], stdin: cert)
        _ = text
        let info = try openssl(["pkcs12", "-in", files[0], "-passin", "pass:abc123", "-nocerts", "-nodes"]).out
        #expect(info.contains("BEGIN PRIVATE KEY"))
        await w.close()
    }

    @Test("a legal-entity employee needs the first head's approval; O and OU=BIN are in the subject")
    func legalEntity() async throws {
        let w = try await World.make()
        let head = World.iin(10), employee = World.iin(11), s = w.service
        try await w.person(head, pin: "402719", surname: "HEAD", givenName: "FIRST")
        try await w.person(employee, pin: "503816")
        let bin = "040540000014"
        await #expect(throws: IssuanceError(.headApproval, "")) {
            _ = try await s.applyRemote(iin: employee, pin: "503816", template: .signer, organization: "TOO Tulga", bin: bin)
        }
        await #expect(throws: IssuanceError(.invalidIdentity, "")) {
            _ = try await s.applyRemote(iin: employee, pin: "503816", template: .signer, organization: "TOO Tulga", bin: "040540000011", headIIN: head)
        }
        let app = try await s.applyRemote(iin: employee, pin: "503816", template: .signer, organization: "TOO Tulga", bin: bin, headIIN: head)
        #expect(app.status == .identified && app.needsHeadApproval)
        await #expect(throws: IssuanceError(.headApproval, "")) { _ = try await s.issue(app.number) }
        await #expect(throws: IssuanceError(.headApproval, "")) { _ = try await s.approveByHead(app.number, headIIN: employee, pin: "503816") }
        await #expect(throws: IssuanceError(.pin, "")) { _ = try await s.approveByHead(app.number, headIIN: head, pin: "000001") }
        let approved = try await s.approveByHead(app.number, headIIN: head, pin: "402719")
        #expect(approved.status == .signing && approved.headApproved)
        _ = try await s.issue(app.number)
        let files = try await w.install(app.number, folder: w.dir + "/emp", password: "Emp1oyee")
        _ = try openssl(["pkcs12", "-in", files[0], "-passin", "pass:Emp1oyee", "-clcerts", "-nokeys", "-out", w.dir + "/emp.pem"])
        let text = try openssl(["x509", "-in", w.dir + "/emp.pem", "-noout", "-subject", "-ext", "certificatePolicies", "-nameopt", "RFC2253"]).out
        #expect(text.contains("O=TOO Tulga") && text.contains("OU=BIN\(bin)"))
        #expect(text.contains("1.2.398.3.3.4.1.2.2"))
        await w.close()
    }

    @Test("an in-person application not confirmed in 30 days expires: refused at once, marked by the background service")
    func inPersonExpiry() async throws {
        let w = try await World.make()
        let iin = World.iin(20), s = w.service
        let app = try await s.applyInPerson(iin: iin, surname: "Beisenova", givenName: "Aigerim", operator: "op7")
        #expect(app.status == .new && app.statusTitle == "Новая заявка")
        w.clock.advance(29 * 86400)
        #expect(try await s.status(app.number).status == .new)
        w.clock.advance(2 * 86400)
        // Past its 30 days: confirmation is refused and it reads as expired, although nothing has marked it yet.
        await #expect(throws: IssuanceError(.state, "")) { _ = try await s.confirmInPerson(app.number, operator: "op7") }
        #expect(try await s.status(app.number).status == .expired)
        let stored = try await w.store.database.transaction { db in try db.one("SELECT status FROM applications WHERE number = ?", [.text(app.number)]) }
        #expect(stored?["status"].text == "new")
        // The background service marks it without anyone reading it; the test waits on its pass, not on time.
        let (passes, continuation) = AsyncStream<Int>.makeStream()
        let service = BackgroundWork.applicationExpiry(w.store, every: .seconds(3600), logger: Logger(label: "test")) { continuation.yield($0) }
        let task = Task { try await service.run() }
        var pass = passes.makeAsyncIterator()
        #expect(await pass.next() == 1)
        task.cancel()
        let raw = try await w.store.database.transaction { db in
            try db.one("SELECT status, key_auth FROM applications WHERE number = ?", [.text(app.number)])
        }
        #expect(raw?["status"].text == "expired" && raw?["key_auth"].isNull == true)
        #expect(try await s.status(app.number).status == .expired)
        await #expect(throws: IssuanceError(.state, "")) { _ = try await s.confirmInPerson(app.number, operator: "op7") }
        #expect(try await w.store.auditEntries(subject: app.number).last?.action == "application.expired")
        let second = try await s.applyInPerson(iin: iin, surname: "Beisenova", givenName: "Aigerim", operator: "op7")
        #expect(try await s.confirmInPerson(second.number, operator: "op7").status == .signing)

        // Without the service (the CLI alone), a new application expires the overdue one in its own transaction.
        let other = World.iin(21)
        let old = try await s.applyInPerson(iin: other, surname: "Nurlanov", givenName: "Daulet", operator: "op7")
        w.clock.advance(31 * 86400)
        let fresh = try await s.applyInPerson(iin: other, surname: "Nurlanov", givenName: "Daulet", operator: "op7")
        #expect(fresh.status == .new && fresh.number != old.number)
        let oldRow = try await w.store.database.transaction { db in
            try db.one("SELECT status, key_auth FROM applications WHERE number = ?", [.text(old.number)])
        }
        #expect(oldRow?["status"].text == "expired" && oldRow?["key_auth"].isNull == true)
        await #expect(throws: IssuanceError(.notFound, "")) { _ = try await s.status("0000-0000-0000-0000-0000-0000") }
        await w.close()
    }
}
