import Foundation
import Testing
import TulgaAttempts
import TulgaRegistry
import TulgaStorage
import TulgaLegalEntities
import TulgaFlow
import TulgaCore
import TulgaIssuance
import TulgaKeyStore
import TulgaPKI
import TulgaTestSupport

@Suite("Revocation you can query: the CRL and the OCSP responder, checked by openssl")
struct RevocationTests {
    /// An issued application with its certificates written out, on a clock that starts today
    /// (openssl judges OCSP answers by today's date).
    static func issued(offlineRoot: Bool = false) async throws -> (World, ApplicationView, auth: String, sign: String) {
        let w = try await World.make(clockStart: SystemClock().now(), offlineRoot: offlineRoot)
        let iin = World.iin(50)
        try await w.person(iin)
        let app = try await w.service.applyRemote(iin: iin, pin: "402719", agreement: UserAgreement.version, requests: try w.requests(w.keyStore("ocsp"), iin: iin), caller: systemA)
        let certs = try await w.service.install(app.number, caller: systemA)
        return (w, app, try writeFile(w.dir, "auth.pem", certs.auth), try writeFile(w.dir, "sign.pem", certs.sign))
    }

    /// Asks the service the way a relying party would: openssl makes the request and checks the answer.
    static func ask(_ w: World, _ certs: [String], extra: [String] = []) async throws -> String {
        let request = w.dir + "/req-\(UUID().uuidString).der", response = request + ".resp"
        let ids = certs.flatMap { $0.hasPrefix("0x") ? ["-serial", $0] : ["-cert", $0] }
        let made = try openssl(["ocsp"] + extra + ["-issuer", w.dir + "/ca/issuing.crt"] + ids + ["-reqout", request])
        #expect(made.status == 0, "\(made.out)")
        let answer = await w.service.ocspResponse(try Data(contentsOf: URL(fileURLWithPath: request)))
        try answer.write(to: URL(fileURLWithPath: response))
        let chain = try writeFile(w.dir, "chain.pem", w.ca.chainPEM)
        // The nonce: the one the request carried comes back in the response.
        if !extra.contains("-no_nonce") {
            let nonce = try openssl(["ocsp", "-reqin", request, "-req_text"]).out.components(separatedBy: "OCSP Nonce:").last?
                .split(whereSeparator: \.isNewline).dropFirst().first?.trimmingCharacters(in: .whitespaces) ?? "none"
            #expect(try openssl(["ocsp", "-respin", response, "-resp_text", "-noverify"]).out.contains(nonce), "nonce \(nonce) not echoed")
        }
        // openssl builds its own request from -cert to name the answers; without a nonce of its own.
        return try openssl(["ocsp", "-respin", response, "-no_nonce", "-issuer", w.dir + "/ca/issuing.crt", "-CAfile", chain] + extra.filter { $0 != "-no_nonce" } + ids).out
    }

    @Test("OCSP: good, revoked with its reason, unknown; signed by the delegated responder; nonce echoed")
    func ocsp() async throws {
        let (w, app, auth, sign) = try await Self.issued()
        let good = try await Self.ask(w, [auth, sign, "0x0BADC0FFEE"])
        #expect(good.contains("Response verify OK"), "\(good)")
        #expect(good.contains("\(auth): good") && good.contains("\(sign): good") && good.contains("0x0BADC0FFEE: unknown"), "\(good)")
        // A certificate of another CA: unknown.
        let foreign = w.dir + "/foreign.pem"
        _ = try openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", w.dir + "/foreign.key", "-subj", "/CN=foreign", "-out", foreign])
        let other = w.dir + "/other-req.der"
        #expect(try openssl(["ocsp", "-issuer", foreign, "-cert", foreign, "-reqout", other]).status == 0)
        let otherAnswer = await w.service.ocspResponse(try Data(contentsOf: URL(fileURLWithPath: other)))
        try otherAnswer.write(to: URL(fileURLWithPath: other + ".resp"))
        #expect(try openssl(["ocsp", "-respin", other + ".resp", "-resp_text", "-noverify"]).out.contains("Cert Status: unknown"))

        try await w.service.revoke(serial: app.serials[1], reason: .keyCompromise, actor: "test")
        let revoked = try await Self.ask(w, [auth, sign])
        #expect(revoked.contains("Response verify OK") && revoked.contains("\(auth): good") && revoked.contains("\(sign): revoked"), "\(revoked)")
        #expect(revoked.contains("Reason: keyCompromise"), "\(revoked)")
        // Without a nonce, and with SHA-256 CertIDs.
        #expect(try await Self.ask(w, [sign], extra: ["-no_nonce", "-sha256"]).contains("\(sign): revoked"))

        // Bad requests get an unsigned malformedRequest; nothing crashes.
        for bad in [Data(), Data("hello".utf8), Data(repeating: 0x30, count: 3), Data((0..<20_000).map { UInt8(truncatingIfNeeded: $0) })] {
            let answer = await w.service.ocspResponse(bad)
            try answer.write(to: URL(fileURLWithPath: w.dir + "/bad.resp"))
            #expect(try openssl(["ocsp", "-respin", w.dir + "/bad.resp", "-resp_text"]).out.contains("malformedrequest") ||
                    (try openssl(["ocsp", "-respin", w.dir + "/bad.resp", "-resp_text"]).out.contains("malformedRequest")))
        }
        await w.close()
    }

    @Test("the CRL: signed, lists every revocation with its reason, re-signed on revocation and at half its validity")
    func crl() async throws {
        let (w, app, _, _) = try await Self.issued()
        let s = w.service
        func crl() async throws -> String {
            let path = w.dir + "/crl-\(UUID().uuidString).der"
            try await s.currentCRL().write(to: URL(fileURLWithPath: path))
            return path
        }
        let first = try await crl()
        let firstText = try openssl(["crl", "-inform", "DER", "-in", first, "-noout", "-text"]).out
        #expect(firstText.contains("No Revoked Certificates") && firstText.contains("X509v3 CRL Number"))
        #expect(try openssl(["crl", "-inform", "DER", "-in", first, "-noout", "-CAfile", w.dir + "/ca/issuing.crt"]).out.contains("verify OK"))
        // Asked again: the same CRL.
        #expect(try Data(contentsOf: URL(fileURLWithPath: first)) == (try await s.currentCRL()))

        try await s.revoke(serial: app.serials[0], reason: .keyCompromise, actor: "test")
        let second = try await crl()
        let text = try openssl(["crl", "-inform", "DER", "-in", second, "-noout", "-text"]).out
        #expect(text.contains("Serial Number: \(app.serials[0])") && text.contains("Key Compromise"))
        let number = { (t: String) in t.components(separatedBy: "X509v3 CRL Number:").last?.split(whereSeparator: \.isNewline).dropFirst().first?
            .trimmingCharacters(in: .whitespaces) ?? "" }
        #expect(number(text) != number(firstText))
        // openssl refuses the revoked certificate against this CRL.
        let pem = try writeFile(w.dir, "crl.pem", PKI.pem(der: try Data(contentsOf: URL(fileURLWithPath: second)), label: "X509 CRL"))
        let check = try openssl(["verify", "-crl_check", "-CAfile", w.dir + "/ca/root.crt", "-untrusted", w.dir + "/ca/issuing.crt", "-CRLfile", pem,
                                 w.dir + "/auth.pem"])
        #expect(check.status != 0 && check.out.contains("revoked"))
        // Past half its validity a new one is signed, before nextUpdate.
        w.clock.advance(w.ca.config.crlValidityDays * 86400 / 2 + 1)
        let third = try openssl(["crl", "-inform", "DER", "-in", try await crl(), "-noout", "-text"]).out
        #expect(number(third) != number(text) && third.contains("Serial Number: \(app.serials[0])"))
        #expect(FileManager.default.fileExists(atPath: try await s.publishCRL()))
        await w.close()
    }
}
