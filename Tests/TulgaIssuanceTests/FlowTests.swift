import Foundation
import Testing
import TulgaLegalEntities
import TulgaKeyStore
import TulgaPKI
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
        await #expect(throws: IssuanceError(.phoneNotRegistered, "")) { try await s.requestCode(iin: iin, caller: systemA) }
        do { try await s.requestCode(iin: iin, caller: systemA) } catch let e as IssuanceError { #expect(e.reason.contains("Зарегистрируйте номер телефона")) }
        try await s.registerPhone(iin: iin, phone: "+77011234567")
        try await s.requestCode(iin: iin, caller: systemA)
        let sms = try #require(try await w.store.outbox(iin: iin).last)
        #expect(sms.phone == "+77011234567")
        let code = try await w.lastCode(iin)
        #expect(code.count == 6)
        await #expect(throws: IssuanceError(.code, "")) { try await s.requestCode(iin: iin, caller: systemA) }   // resend too early
        let wrong = code == "000000" ? "000001" : "000000"
        await #expect(throws: IssuanceError(.code, "")) { try await s.confirmCode(iin: iin, code: wrong, caller: systemA) }
        try await s.confirmCode(iin: iin, code: code, caller: systemA)
        await #expect(throws: IssuanceError(.code, "")) { try await s.confirmCode(iin: iin, code: code, caller: systemA) }  // reused

        w.clock.advance(61)
        try await s.requestCode(iin: iin, caller: systemA)
        let second = try await w.lastCode(iin)
        w.clock.advance(121)
        do { try await s.confirmCode(iin: iin, code: second, caller: systemA); Issue.record("expired code accepted") } catch let e as IssuanceError {
            #expect(e.reason.contains("expired"))
        }
        // Two more wrong entries make three with the first: a new code does not reset the count.
        try await s.requestCode(iin: iin, caller: systemA)
        let third = try await w.lastCode(iin)
        let bad = third == "111111" ? "222222" : "111111"
        for _ in 0..<2 { await #expect(throws: IssuanceError(.code, "")) { try await s.confirmCode(iin: iin, code: bad, caller: systemA) } }
        w.clock.advance(61)
        try await s.requestCode(iin: iin, caller: systemA)
        do { try await s.confirmCode(iin: iin, code: try await w.lastCode(iin), caller: systemA); Issue.record("accepted after 3 wrong") } catch let e as IssuanceError {
            #expect(e.reason.contains("3 wrong codes"))
        }
        // Five codes an hour.
        for _ in 0..<1 { w.clock.advance(61); try await s.requestCode(iin: iin, caller: systemA) }
        w.clock.advance(61)
        do { try await s.requestCode(iin: iin, caller: systemA); Issue.record("6th code in an hour") } catch let e as IssuanceError { #expect(e.reason.contains("at most 5 codes")) }
        await w.close()
    }

    @Test("remote individual: keys born in the applicant's folder, requests only, issued at once; openssl accepts it all", arguments: Backend.allCases)
    func remoteIndividual(backend: Backend) async throws {
        let w = try await World.make(backend)
        let iin = World.iin(2), s = w.service
        try await w.person(iin)
        let keys = try w.keyStore("arman")
        let made = try keys.generate(iin: iin, algorithm: .rsa2048)
        // The requests verify, and the folder holds only encrypted keys, 0600 in a 0700 folder.
        for request in made {
            let csr = try writeFile(w.dir, "\(request.purpose.rawValue).csr", request.pem)
            let verify = try openssl(["req", "-in", csr, "-verify", "-noout"])
            #expect(verify.status == 0 && verify.out.contains("verify OK"), "\(verify.out)")
            let key = keys.directory + "/pending/\(request.keyID).key"
            #expect((try FileManager.default.attributesOfItem(atPath: key)[.posixPermissions] as? Int) == 0o600)
            let pem = try String(contentsOfFile: key, encoding: .utf8)
            #expect(pem.contains("BEGIN ENCRYPTED PRIVATE KEY") && !pem.contains("BEGIN PRIVATE KEY"))
            #expect(try openssl(["pkey", "-in", key, "-passin", "pass:Wrong12@", "-noout"]).status != 0)
            // PBKDF2-HMAC-SHA256 at 600,000 rounds (0x0927C0), not OpenSSL's default 2048: the password may be short.
            let asn1 = try openssl(["asn1parse", "-in", key]).out
            #expect(asn1.contains(":0927C0") && asn1.contains("hmacWithSHA256") && asn1.contains("aes-256-cbc"), "\(asn1)")
        }
        // The CA's own secrets were created 0600, never wider; its password apart, in a 0700 folder.
        for file in ["ca/root.key", "ca/issuing.key", "ca/ocsp.pem", "keys/ca-password"] {
            #expect((try FileManager.default.attributesOfItem(atPath: w.dir + "/" + file)[.posixPermissions] as? Int) == 0o600, "\(file)")
        }
        #expect((try FileManager.default.attributesOfItem(atPath: w.dir + "/keys")[.posixPermissions] as? Int) == 0o700)
        #expect((try FileManager.default.attributesOfItem(atPath: keys.directory)[.posixPermissions] as? Int) == 0o700)
        // A folder others may write to is refused (they could swap or delete the files), and left as it was.
        let shared = w.dir + "/shared-folder"
        try FileManager.default.createDirectory(atPath: shared, withIntermediateDirectories: true)
        chmod(shared, 0o777)
        #expect(throws: KeyError(.keyStore, "")) { _ = try FolderKeyStore(directory: shared, password: "Secret12@") }
        #expect((try FileManager.default.attributesOfItem(atPath: shared)[.posixPermissions] as? Int) == 0o777)
        let requests = try KeyRequests(auth: made[0].pem, sign: made[1].pem, storage: .folder)
        let app = try await s.applyRemote(iin: iin, pin: "402719", agreement: UserAgreement.version, requests: requests, caller: systemA)
        // Issued without any admin call.
        #expect(app.status == .issued && app.statusTitle == "Выпущены регистрационные свидетельства по заявке" && app.serials.count == 2)
        #expect(app.agreementVersion == UserAgreement.version && app.agreementAcceptedAt == w.clock.now())
        // The status history, each change with its time, from the audit log.
        let history = try await s.history(app.number, caller: systemA)
        #expect(history.map(\.status) == [.signing, .issued])
        #expect(history.last?.status == .issued && history.allSatisfy { $0.at == w.clock.now() && !$0.title.isEmpty })
        await #expect(throws: IssuanceError(.notFound, "")) { _ = try await s.history(app.number, caller: systemB) }
        #expect(app.number.count == 34 && app.number.split(separator: "-").count == 7 && app.number.allSatisfy { $0.isNumber || $0 == "-" })
        await #expect(throws: IssuanceError(.activeApplication, "")) {
            _ = try await s.applyRemote(iin: iin, pin: "402719", agreement: UserAgreement.version, requests: try w.requests(w.keyStore("second"), iin: iin), caller: systemA)
        }
        // A phone confirmation belongs to the calling system it was typed into: another one must get its own.
        await #expect(throws: IssuanceError(.code, "")) {
            _ = try await s.applyRemote(iin: iin, pin: "402719", agreement: UserAgreement.version, requests: requests, caller: systemB)
        }
        w.clock.advance(61)   // a new code is sent a minute after the last
        try await w.confirmPhone(iin, caller: systemB)
        // No agreement, or an older one, is refused before anything else.
        for agreement in [nil, "2020-01"] {
            await #expect(throws: IssuanceError(.agreement, "")) {
                _ = try await s.applyRemote(iin: iin, pin: "402719", agreement: agreement, requests: requests, caller: systemB)
            }
        }
        // The same keys again (here in another person's name) are refused whoever offers them.
        await #expect(throws: IssuanceError(.keyReused, "")) { _ = try await s.applyRemote(iin: iin, pin: "402719", agreement: UserAgreement.version, requests: requests, caller: systemB) }

        // Another calling system: the number does not exist for it.
        await #expect(throws: IssuanceError(.notFound, "")) { _ = try await s.status(app.number, caller: systemB) }
        await #expect(throws: IssuanceError(.notFound, "")) { _ = try await s.certificates(app.number, caller: systemB) }
        await #expect(throws: IssuanceError(.notFound, "")) { _ = try await s.install(app.number, caller: systemB) }
        await #expect(throws: IssuanceError(.notFound, "")) {
            _ = try await s.reissue(app.number, pin: "402719", agreement: UserAgreement.version, requests: try w.requests(w.keyStore("thief"), iin: iin), caller: systemB)
        }
        await #expect(throws: IssuanceError(.notFound, "")) { _ = try await s.revokeByApplicant(app.number, pin: "402719", reason: .keyCompromise, caller: systemB) }
        #expect(try await s.status(app.number, caller: systemA).status == .issued)

        let certificates = try await s.install(app.number, caller: systemA)
        #expect(try await s.status(app.number, caller: systemA).statusTitle == "Сертификаты установлены")
        let files = try keys.install(certificates.byPurpose, chainPEM: certificates.chain, at: w.clock.date)
        #expect(files.map { ($0 as NSString).lastPathComponent }.sorted() ==
                ["AUTH_RSA256_\(app.serials[0].lowercased()).p12", "RSA256_\(app.serials[1].lowercased()).p12"].sorted())
        // The pending keys are gone once the containers hold them.
        #expect(try FileManager.default.contentsOfDirectory(atPath: keys.directory + "/pending").isEmpty)

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
            // The certificate's public key is the request's.
            let request = try writeFile(w.dir, "\(purpose)-req.pem", purpose == "AUTH" ? made[0].pem : made[1].pem)
            #expect(try openssl(["x509", "-in", cert, "-noout", "-pubkey"]).out == (try openssl(["req", "-in", request, "-noout", "-pubkey"]).out))
            let text = try openssl(["x509", "-in", cert, "-noout", "-text", "-nameopt", "RFC2253,-esc_msb"]).out
            #expect(text.contains("CN=ABAYEV ARMAN"))
            #expect(text.contains("serialNumber=IIN\(iin)") && text.contains("C=KZ"))
            #expect(text.contains("SN=ABAYEV") && text.contains("GN=ARMAN"))
            #expect(text.contains("Policy: 1.2.398.3.3.4.1.1") && text.contains("Policy: 1.2.398.3.3.4.3.2.1"))
            #expect(text.contains("URI:http://127.0.0.1:18080/pki/issuing.crl"))
            #expect(text.contains("OCSP - URI:http://127.0.0.1:18080/pki/ocsp"))
            if purpose == "AUTH" {
                #expect(text.contains("Digital Signature, Key Encipherment") && text.contains("TLS Web Client Authentication"))
            } else {
                #expect(text.contains("Digital Signature, Non Repudiation") && !text.contains("Client Authentication"))
            }
            let serialBytes = try openssl(["x509", "-in", cert, "-noout", "-serial"]).out.split(separator: "=").last?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            #expect(serialBytes.count == 32, "16-byte serial: \(serialBytes)")
        }
        // Taking the certificates again is allowed; the service holds no key to lose.
        #expect(try await s.install(app.number, caller: systemA).auth == certificates.auth)

        // Renewal of remotely issued keys is refused with the portal's words; reissue is offered.
        do { _ = try await s.renew(app.number, requests: try w.requests(w.keyStore("renew"), iin: iin), challenge: "", proof: Data(), caller: systemA); Issue.record("renewed") }
        catch let e as IssuanceError {
            #expect(e.code == .renewal && e.reason.contains("«Подача заявки по данному шаблону недоступна через личный кабинет пользователя»"))
        }

        // Reissue: every check first. A wrong PIN revokes nothing, nor does another active application.
        w.clock.advance(61)
        try await w.confirmPhone(iin)
        let next = try w.requests(w.keyStore("next"), iin: iin)
        await #expect(throws: IssuanceError(.pin, "")) { _ = try await s.reissue(app.number, pin: "000001", agreement: UserAgreement.version, requests: next, caller: systemA) }
        #expect(try await w.store.database.transaction { db in try db.one("SELECT COUNT(*) AS n FROM revocations", [])?["n"].int } == 0)
        let again = try await s.reissue(app.number, pin: "402719", agreement: UserAgreement.version, requests: next, caller: systemA)
        #expect(again.status == .issued && again.replaces == app.number)
        #expect(try await s.status(app.number, caller: systemA).status == .revoked)
        let reasons = try await w.store.database.transaction { db in try db.query("SELECT reason FROM revocations", []).map { $0["reason"].text } }
        #expect(reasons == ["superseded", "superseded"])
        await w.close()
    }

    @Test("after a full remote flow no private key of the applicant exists in the service's database or files")
    func noPrivateKeyOnTheServer() async throws {
        let w = try await World.make()
        let iin = World.iin(31), s = w.service
        try await w.person(iin)
        let keys = try w.keyStore("search")
        let app = try await s.applyRemote(iin: iin, pin: "402719", agreement: UserAgreement.version, requests: try w.requests(keys, iin: iin), caller: systemA)
        let certificates = try await s.install(app.number, caller: systemA)
        let files = try keys.install(certificates.byPurpose, chainPEM: certificates.chain, at: w.clock.date)
        await w.close()
        // Everything the service wrote: the database (with its journal) and the CA folder.
        var haystack = Data()
        for root in [w.dir + "/ca", w.dir + "/var"] {
            for name in FileManager.default.subpaths(atPath: root) ?? [] {
                if let data = FileManager.default.contents(atPath: root + "/" + name) { haystack.append(data) }
            }
        }
        #expect(haystack.count > 10_000)
        for container in files {
            let plain = try openssl(["pkcs12", "-in", container, "-passin", "pass:Secret12@", "-nocerts", "-nodes"]).out
            let der = try PKI.der(pem: String(plain[try #require(plain.range(of: "-----BEGIN PRIVATE KEY-----"))!.lowerBound...]))
            let primeText = try openssl(["pkey", "-noout", "-text"], stdin: plain).out
            #expect(primeText.contains("prime1"))
            // The whole key, its base64 body, and 32 bytes from inside it (the primes): none is there.
            #expect(haystack.range(of: der) == nil)
            #expect(haystack.range(of: Data(der.base64EncodedString().prefix(64).utf8)) == nil)
            #expect(haystack.range(of: der.subdata(in: 200..<232)) == nil)
        }
    }

    @Test("an install killed half way (containers written, pending keys not all wiped) completes when run again")
    func interruptedInstall() async throws {
        let w = try await World.make()
        let iin = World.iin(32)
        try await w.person(iin)
        let keys = try w.keyStore("killed")
        let app = try await w.service.applyRemote(iin: iin, pin: "402719", agreement: UserAgreement.version, requests: try w.requests(keys, iin: iin), caller: systemA)
        let certs = try await w.service.install(app.number, caller: systemA)
        let pending = keys.directory + "/pending", saved = w.dir + "/saved-pending"
        try FileManager.default.copyItem(atPath: pending, toPath: saved)
        let first = try keys.install(certs.byPurpose, chainPEM: certs.chain, at: w.clock.date)
        // As if killed before any pending key was wiped: both come back; the containers are replaced.
        try FileManager.default.removeItem(atPath: pending)
        try FileManager.default.copyItem(atPath: saved, toPath: pending)
        #expect(try keys.install(certs.byPurpose, chainPEM: certs.chain, at: w.clock.date) == first)
        // As if killed after the AUTH key was wiped: only the SIGN key is back.
        try FileManager.default.removeItem(atPath: pending)
        try FileManager.default.copyItem(atPath: saved, toPath: pending)
        let authID = try IssuedCertificate(pem: certs.auth).keyID
        try FileManager.default.removeItem(atPath: pending + "/\(authID).key")
        #expect(try keys.install(certs.byPurpose, chainPEM: certs.chain, at: w.clock.date) == first)
        #expect(try FileManager.default.contentsOfDirectory(atPath: pending).filter { $0.hasSuffix(".key") }.isEmpty)
        // As if killed while wiping: a zeroed key under its own name (an older build), or one set
        // aside as .wiping. The containers are whole, so the install is done; no password error.
        let signID = try IssuedCertificate(pem: certs.sign).keyID
        try Data(count: 1874).write(to: URL(fileURLWithPath: pending + "/\(signID).key"))
        try Data(count: 1874).write(to: URL(fileURLWithPath: pending + "/\(authID).key.wiping"))
        #expect(try keys.install(certs.byPurpose, chainPEM: certs.chain, at: w.clock.date) == first)
        #expect(try FileManager.default.contentsOfDirectory(atPath: pending).filter { $0.hasSuffix(".key") || $0.hasSuffix(".wiping") }.isEmpty)
        // A damaged pending key with no container is named as damaged, not as a wrong password.
        let other = try w.keyStore("damaged")
        let made = try other.generate(iin: World.iin(33), algorithm: .p256)
        try Data(count: 300).write(to: URL(fileURLWithPath: other.directory + "/pending/\(made[0].keyID).key"))
        try await w.person(World.iin(33))
        let damagedApp = try await w.service.applyRemote(iin: World.iin(33), pin: "402719", agreement: UserAgreement.version, requests: try KeyRequests(auth: made[0].pem, sign: made[1].pem, storage: .folder),
                                                         caller: systemA)
        let damagedCerts = try await w.service.install(damagedApp.number, caller: systemA)
        do { _ = try other.install(damagedCerts.byPurpose, chainPEM: damagedCerts.chain, at: w.clock.date); Issue.record("a damaged key was installed") }
        catch let e as KeyError { #expect(e.code == .keyStore && e.reason.contains("damaged")) }
        for file in first { #expect(try openssl(["pkcs12", "-in", file, "-passin", "pass:Secret12@", "-noout"]).status == 0) }
        await w.close()
    }

    @Test("requests: a bad signature, RSA-1024, a curve other than P-256, garbage and one key twice are refused by name")
    func badRequests() async throws {
        let w = try await World.make()
        let good = try w.keyStore("good").generate(iin: World.iin(40), algorithm: .rsa2048)
        // A request whose signature does not verify: one bit of the signature flipped.
        var der = try PKI.der(pem: good[0].pem)
        der[der.count - 5] ^= 0x01
        let tampered = PKI.pem(der: der, label: "CERTIFICATE REQUEST")
        #expect(try openssl(["req", "-verify", "-noout"], stdin: tampered).out.contains("verify failure"))
        #expect(throws: KeyError(.invalidRequest, "")) { _ = try CertificateRequest(pem: tampered) }
        // RSA-1024 and secp384r1, made by openssl itself.
        let weak = try openssl(["req", "-new", "-newkey", "rsa:1024", "-nodes", "-keyout", w.dir + "/weak.key", "-subj", "/CN=weak"]).out
        do { _ = try CertificateRequest(pem: weak); Issue.record("RSA-1024 accepted") } catch { #expect(error.code == .weakKey && error.reason.contains("RSA-1024")) }
        let p384 = try openssl(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:secp384r1", "-nodes", "-keyout", w.dir + "/p384.key", "-subj", "/CN=x"]).out
        #expect(throws: KeyError(.weakKey, "")) { _ = try CertificateRequest(pem: p384) }
        for garbage in ["", "hello", "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n", String(repeating: "A", count: 20_000)] {
            #expect(throws: KeyError(.invalidRequest, "")) { _ = try CertificateRequest(pem: garbage) }
        }
        #expect(throws: KeyError(.invalidRequest, "")) { _ = try KeyRequests(auth: good[0].pem, sign: good[0].pem, storage: .folder) }
        let ec = try w.keyStore("ec").generate(iin: World.iin(40), algorithm: .p256)
        #expect(throws: KeyError(.invalidRequest, "")) { _ = try KeyRequests(auth: good[0].pem, sign: ec[1].pem, storage: .folder) }
        #expect(try KeyRequests(auth: ec[0].pem, sign: ec[1].pem, storage: .folder).algorithm == .p256)
        // The key store's own refusals: passwords by the rule, a folder that is a file.
        for bad in ["short", "no digits here", "пароль123", "abc 123"] {
            #expect(throws: KeyError(.password, "")) { _ = try FolderKeyStore(directory: w.dir + "/p", password: bad) }
        }
        #expect(throws: KeyError(.password, "")) { try ContainerPassword.check("Secret12@", repeated: "Secret12#") }
        FileManager.default.createFile(atPath: w.dir + "/plain-file", contents: Data())
        #expect(throws: KeyError(.keyStore, "")) { _ = try FolderKeyStore(directory: w.dir + "/plain-file", password: "Secret12@") }
        // A certificate for a key this store does not hold.
        let other = try w.keyStore("other")
        await w.close()
        let iin = World.iin(41)
        let v = try await World.make()
        try await v.person(iin)
        let app = try await v.service.applyRemote(iin: iin, pin: "402719", agreement: UserAgreement.version, requests: try v.requests(v.keyStore("mine"), iin: iin), caller: systemA)
        let certs = try await v.service.install(app.number, caller: systemA)
        #expect(throws: KeyError(.noKey, "")) { _ = try other.install(certs.byPurpose, chainPEM: certs.chain, at: v.clock.date) }
        // A wrong key password opens nothing and writes nothing.
        let mine = try FolderKeyStore(directory: v.dir + "/applicant/mine", password: "Wrong12@x")
        #expect(throws: KeyError(.password, "")) { _ = try mine.install(certs.byPurpose, chainPEM: certs.chain, at: v.clock.date) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: v.dir + "/applicant/mine").filter { $0.hasSuffix(".p12") }.isEmpty)
        await v.close()
    }

    @Test("remote application needs a confirmed phone, an active Digital ID, a consent and the PIN")
    func preconditions() async throws {
        let w = try await World.make()
        let iin = World.iin(3), s = w.service
        let requests = try w.requests(w.keyStore("pre"), iin: iin, algorithm: .p256)
        func apply(_ pin: String = "402719", iin: String = World.iin(3)) async throws { _ = try await s.applyRemote(iin: iin, pin: pin, agreement: UserAgreement.version, requests: requests, caller: systemA) }
        try await w.store.registry.upsert(RegistryEntry(iin: iin, surname: "A", givenName: "B", documentNumber: "N", photo: Data([1])))
        try await s.registerPhone(iin: iin, phone: "+77010000003")
        await #expect(throws: IssuanceError(.code, "")) { try await apply() }
        try await w.confirmPhone(iin)
        await #expect(throws: IssuanceError(.digitalID, "")) { try await apply() }
        let t = try await w.store.attempts.begin(iin: iin)
        _ = try await w.store.runner.record(t, outcome: .pass, score: 0.9, livenessPassed: true, reason: "", evidence: Evidence(selfie: nil, reference: nil, livenessReport: nil))
        try await w.store.digitalIDs.setPIN(iin: iin, pin: "402719")
        await #expect(throws: IssuanceError(.consent, "")) { try await apply() }
        let consent = try await w.store.digitalIDs.grantConsent(iin: iin, scope: "ca.identity", seconds: 3600)
        await #expect(throws: IssuanceError(.pin, "")) { try await apply("999998") }
        try await w.store.digitalIDs.revokeConsent(id: consent.id, iin: iin)
        await #expect(throws: IssuanceError(.consent, "")) { try await apply() }
        _ = try await w.store.digitalIDs.grantConsent(iin: iin, scope: "ca.identity", seconds: 3600)
        await #expect(throws: IssuanceError(.invalidIdentity, "")) { try await apply(iin: "900702300010") }
        let app = try await s.applyRemote(iin: iin, pin: "402719", agreement: UserAgreement.version, requests: requests, caller: systemA)
        #expect(app.algorithm == .p256 && app.status == .issued)
        // A P-256 container is named after its real algorithm.
        let certs = try await s.install(app.number, caller: systemA)
        let files = try FolderKeyStore(directory: w.dir + "/applicant/pre", password: "Secret12@").install(certs.byPurpose, chainPEM: certs.chain, at: w.clock.date)
        #expect(files.map { ($0 as NSString).lastPathComponent }.allSatisfy { $0.contains("ECDSA256_") && !$0.contains("RSA256") })
        let info = try openssl(["pkcs12", "-in", files[0], "-passin", "pass:Secret12@", "-nocerts", "-nodes"]).out
        #expect(info.contains("BEGIN PRIVATE KEY"))
        await w.close()
    }
}
