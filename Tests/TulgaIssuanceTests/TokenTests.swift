import Foundation
import Testing
import TulgaAttempts
import TulgaRegistry
import TulgaStorage
import TulgaLegalEntities
import TulgaFlow
import TulgaCore
import TulgaIssuance
@testable import TulgaKeyStore
import CTulgaPKI
import TulgaPKI
import TulgaTestSupport

/// A SoftHSM2 token the test initialises itself, in a scratch folder.
struct SoftToken {
    static let module = "/usr/lib/softhsm/libsofthsm2.so"
    let dir: String, label: String, pin: String

    /// SoftHSM reads its configuration once per process, so every token test shares one folder.
    static let shared: String = {
        let dir = Temp.dir("tulga-softhsm")
        try? FileManager.default.createDirectory(atPath: dir + "/tokens", withIntermediateDirectories: true)
        try? Data("directories.tokendir = \(dir)/tokens\nobjectstore.backend = file\n".utf8).write(to: URL(fileURLWithPath: dir + "/softhsm2.conf"))
        setenv("SOFTHSM2_CONF", dir + "/softhsm2.conf", 1)
        return dir
    }()

    static func make(_ label: String, pin: String = "123456") throws -> SoftToken {
        let dir = shared
        let init_ = try run("/usr/bin/softhsm2-util", ["--init-token", "--free", "--label", label, "--pin", pin, "--so-pin", "12345678"])
        #expect(init_.status == 0, "\(init_.out)")
        return SoftToken(dir: dir, label: label, pin: pin)
    }

    var store: TokenKeyStore { TokenKeyStore(module: Self.module, label: label, pin: pin) }

    func tool(_ args: [String]) throws -> (status: Int32, out: String) {
        try run("/usr/bin/pkcs11-tool", ["--module", Self.module, "--token-label", label, "--login", "--pin", pin] + args)
    }
}

func run(_ tool: String, _ args: [String]) throws -> (status: Int32, out: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: tool)
    p.arguments = args
    p.environment = ProcessInfo.processInfo.environment.merging(["SOFTHSM2_CONF": SoftToken.shared + "/softhsm2.conf"]) { $1 }
    let out = Pipe()
    p.standardOutput = out
    p.standardError = out
    try p.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: data, as: UTF8.self))
}

@Suite("PKCS#11 token (SoftHSM2): keys generated on it, never extractable; certificates stored next to them", .serialized)
struct TokenTests {
    @Test("end to end on a token, RSA and P-256", arguments: [KeyAlgorithm.rsa2048, .p256])
    func token(algorithm: KeyAlgorithm) async throws {
        let token = try SoftToken.make("tulga-\(algorithm.rawValue)")
        let w = try await World.make()
        let iin = World.iin(algorithm == .p256 ? 60 : 61), s = w.service
        try await w.person(iin)
        let made = try token.store.generate(iin: iin, algorithm: algorithm)
        for request in made {
            #expect(try openssl(["req", "-verify", "-noout"], stdin: request.pem).out.contains("verify OK"))
        }
        let app = try await s.applyRemote(iin: iin, pin: "402719", agreement: UserAgreement.version, requests: try KeyRequests(auth: made[0].pem, sign: made[1].pem, storage: .token),
                                          caller: systemA)
        #expect(app.status == .issued && app.storage == .token && app.algorithm == algorithm)
        let certs = try await s.install(app.number, caller: systemA)
        let stored = try token.store.install(certs.byPurpose, chainPEM: certs.chain, at: w.clock.date)
        #expect(stored.count == 2)
        // Storing again makes no second copy.
        _ = try token.store.install(certs.byPurpose, chainPEM: certs.chain, at: w.clock.date)
        // The holder's proof for a renewal is signed on the token, by the AUTH key.
        let message = HolderProof.message(application: app.number, challenge: String(repeating: "c", count: 64), auth: String(repeating: "a", count: 40),
                                          sign: String(repeating: "b", count: 40))
        #expect(HolderProof.verify(try token.store.sign(message, certificatePEM: certs.auth), message: message, certificatePEM: certs.auth))
        #expect(!HolderProof.verify(try token.store.sign(message, certificatePEM: certs.sign), message: message, certificatePEM: certs.auth))
        // Only the one signing mechanism: raw RSA or ECDSA over caller-chosen bytes (a way to decrypt, for RSA) is refused.
        try Data(repeating: 1, count: algorithm == .p256 ? 32 : 256).write(to: URL(fileURLWithPath: w.dir + "/raw.bin"))
        let raw = try token.tool(["--sign", "-m", algorithm == .p256 ? "ECDSA-SHA1" : "RSA-X-509", "--id", made[0].keyID, "--input-file", w.dir + "/raw.bin",
                                  "--output-file", w.dir + "/raw.sig"])
        #expect(raw.status != 0, "\(raw.out)")

        let objects = try token.tool(["--list-objects"]).out
        for request in made {
            // Each certificate sits next to its key, under the same ID.
            #expect(objects.components(separatedBy: request.keyID).count - 1 == 3, "key, public key and certificate under \(request.keyID):\n\(objects)")
            // pkcs11-tool hands out nothing; asked directly, the token answers CKR_ATTRIBUTE_SENSITIVE (0x11).
            let read = try token.tool(["--read-object", "--type", "privkey", "--id", request.keyID, "--output-file", w.dir + "/stolen.bin"])
            #expect(((try? Data(contentsOf: URL(fileURLWithPath: w.dir + "/stolen.bin")))?.count ?? 0) == 0, "\(read.out)")
            let probe = try token.store.secretReadable(keyID: request.keyID)
            #expect(!probe.readable && probe.answer == 0x11, "\(probe)")
        }
        #expect(objects.components(separatedBy: "sensitive, always sensitive, never extractable").count - 1 == 2, "\(objects)")
        #expect(objects.components(separatedBy: "Certificate Object").count - 1 == 2)
        // The keys sign and verify and do nothing else; the public halves are readable without a login.
        let usages = objects.split(separator: "\n").filter { $0.contains("Usage:") }
        #expect(usages.count == 4 && usages.allSatisfy { !$0.contains("decrypt") && !$0.contains("encrypt") && !$0.contains("wrap") && !$0.contains("derive") },
                "\(usages)")
        let anonymous = try run("/usr/bin/pkcs11-tool", ["--module", SoftToken.module, "--token-label", token.label, "--list-objects", "--type", "pubkey"]).out
        #expect(anonymous.components(separatedBy: "Public Key Object").count - 1 == 2, "\(anonymous)")
        await w.close()
    }

    /// A person with P-256 keys made on `token`, applied for remotely through system A and issued.
    static func issued(on token: SoftToken, iin: String) async throws -> (World, [GeneratedRequest], IssuedCertificates) {
        let w = try await World.make()
        try await w.person(iin)
        let made = try token.store.generate(iin: iin, algorithm: .p256)
        let app = try await w.service.applyRemote(iin: iin, pin: "402719", agreement: UserAgreement.version,
                                                  requests: try KeyRequests(auth: made[0].pem, sign: made[1].pem, storage: .token), caller: systemA)
        return (w, made, try await w.service.install(app.number, caller: systemA))
    }

    @Test("two sessions on one token: closing one leaves the other logged in; a certificate issued again replaces the old one")
    func sharedModule() async throws {
        let token = try SoftToken.make("tulga-shared")
        let (w, made, certs) = try await Self.issued(on: token, iin: World.iin(64))
        var id = [UInt8](repeating: 0, count: 20)
        var error = tp_error()
        #expect(tp_public_key_id(made[0].pem, &id, &error) == 1)
        try token.store.session { outer in
            // A second open while the token is logged in must still bring the right PIN.
            #expect(throws: KeyError(.password, "")) {
                _ = try TokenKeyStore(module: SoftToken.module, label: token.label, pin: "999999").sign(Data([1]), certificatePEM: certs.auth)
            }
            // A second open and close of the same module while the first session is in use.
            _ = try token.store.install(certs.byPurpose, chainPEM: certs.chain, at: w.clock.date)
            var answer: UInt64 = 0
            // Still logged in: the private key is found (and, being sensitive, refuses its secret).
            #expect(tp_token_probe_secret(outer, id, &answer, &error) == 0 && answer == 0x11, "\(message(error))")
        }

        // The same key certified again by the CA (a new serial): the token keeps only the new certificate.
        let dir = w.dir
        let again = try w.ca.issue(csrPEM: made[0].pem, subject: [("CN", "ABAYEV ARMAN"), ("2.5.4.5", "IIN" + World.iin(64)), ("C", "KZ")],
                                   extensions: KeyPurpose.auth.extensions(template: .individual, remote: true, urls: RevocationURLs(base: w.ca.config.baseURL)),
                                   now: w.clock.date)
        var replaced = certs.byPurpose
        replaced[.auth] = again
        _ = try token.store.install(replaced, chainPEM: certs.chain, at: w.clock.date)
        let objects = try token.tool(["--list-objects", "--type", "cert"]).out
        #expect(objects.components(separatedBy: "Certificate Object").count - 1 == 2, "\(objects)")
        let read = try token.tool(["--read-object", "--type", "cert", "--id", made[0].keyID, "--output-file", dir + "/onToken.der"])
        let serial = try IssuedCertificate(pem: again).serialHex
        #expect(serial != (try IssuedCertificate(pem: certs.auth).serialHex))
        #expect(try openssl(["x509", "-inform", "der", "-in", dir + "/onToken.der", "-noout", "-serial"]).out.contains("serial=\(serial)"), "\(read.out)")
        await w.close()
    }

    @Test("a Treasury-Client participant's keys on a token are accepted; refusals from the token are named")
    func refusals() async throws {
        let token = try SoftToken.make("tulga-refusals")
        #expect(throws: KeyError(.password, "")) { _ = try TokenKeyStore(module: SoftToken.module, label: token.label, pin: "654321").generate(iin: World.iin(62), algorithm: .p256) }
        #expect(throws: KeyError(.token, "")) { _ = try TokenKeyStore(module: SoftToken.module, label: "no-such-token", pin: "123456").generate(iin: World.iin(62), algorithm: .p256) }
        #expect(throws: KeyError(.token, "")) { _ = try TokenKeyStore(module: "/nonexistent/module.so", label: "x", pin: "123456").generate(iin: World.iin(62), algorithm: .p256) }
        // A certificate for a key not on this token is refused.
        let w = try await World.make()
        let iin = World.iin(63)
        try await w.person(iin)
        let app = try await w.service.applyRemote(iin: iin, pin: "402719", agreement: UserAgreement.version, requests: try w.requests(w.keyStore("folder"), iin: iin), caller: systemA)
        let certs = try await w.service.install(app.number, caller: systemA)
        #expect(throws: KeyError(.noKey, "")) { _ = try token.store.install(certs.byPurpose, chainPEM: certs.chain, at: w.clock.date) }
        await w.close()
    }

    @Test("the AUTH key on a token signs in (P-256); a sign-in code confirms no phone; the session is the signer's own")
    func signIn() async throws {
        let token = try SoftToken.make("tulga-signin")
        let iin = World.iin(65)
        let (w, _, certs) = try await Self.issued(on: token, iin: iin)
        let s = w.service
        _ = try token.store.install(certs.byPurpose, chainPEM: certs.chain, at: w.clock.date)
        w.clock.advance(61)
        let c = try await s.signInChallenge(caller: systemA)
        let signature = try token.store.signSignIn(challenge: c.challenge, audience: c.audience, certificatePEM: certs.auth)
        let pending = try await s.signIn(challenge: c.challenge, certificatePEM: certs.auth, signature: signature, caller: systemA)
        #expect(pending.iin == iin)
        let code = try await w.lastCode(iin)
        // The sign-in code is not a phone code: the phone step does not take it (and leaves it alone).
        await #expect(throws: IssuanceError(.code, "")) { try await s.confirmCode(iin: iin, code: code, caller: systemA) }
        let session = try await s.confirmSignIn(login: pending.login, code: code, caller: systemA)
        let token64 = try #require(session.token)
        #expect(try await s.session(token: token64, caller: systemA).iin == iin)
        await #expect(throws: SignInError(.session, "")) { _ = try await s.session(token: token64, caller: systemB) }
        try await s.signOut(token: token64, caller: systemA)
        await #expect(throws: SignInError(.session, "")) { _ = try await s.session(token: token64, caller: systemA) }
        await w.close()
    }
}
