import Foundation
import Testing
import TulgaCore
import TulgaPKI
import TulgaTestSupport

/// A small PKI made by the real `openssl`: a root, an issuing CA, a certificate that is no CA, a root of the
/// same name with another key, and leaves under the issuing CA and under the non-CA.
struct OpenSSLChain {
    let dir = Temp.dir("tulga-chain")
    var root = "", issuing = "", notCA = "", otherRoot = "", leaf = "", leafOfNotCA = ""

    init() throws {
        root = try selfSigned("root", cn: "Test Root")
        otherRoot = try selfSigned("other-root", cn: "Test Root")
        issuing = try signed("issuing", by: "root", ca: true)
        notCA = try signed("not-ca", by: "root", ca: false)
        leaf = try signed("leaf", by: "issuing", ca: false)
        leafOfNotCA = try signed("leaf-of-not-ca", by: "not-ca", ca: false)
    }

    func run(_ args: [String]) throws {
        let done = try openssl(args)
        #expect(done.status == 0, "\(args): \(done.out)")
    }

    func selfSigned(_ name: String, cn: String) throws -> String {
        try run(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj", "/CN=\(cn)", "-days", "10",
                 "-keyout", "\(dir)/\(name).key", "-out", "\(dir)/\(name).pem",
                 "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
        return try String(contentsOfFile: "\(dir)/\(name).pem", encoding: .utf8)
    }

    func signed(_ name: String, by issuer: String, ca: Bool) throws -> String {
        let extensions = ca ? "basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n"
                            : "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n"
        try (extensions + "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid:always\n").write(toFile: "\(dir)/\(name).ext", atomically: true, encoding: .utf8)
        try run(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj", "/CN=\(name)/serialNumber=IIN850314300013",
                 "-keyout", "\(dir)/\(name).key", "-out", "\(dir)/\(name).csr"])
        try run(["x509", "-req", "-in", "\(dir)/\(name).csr", "-CA", "\(dir)/\(issuer).pem", "-CAkey", "\(dir)/\(issuer).key", "-CAcreateserial",
                 "-days", ca ? "5" : "2", "-extfile", "\(dir)/\(name).ext", "-out", "\(dir)/\(name).pem"])
        return try String(contentsOfFile: "\(dir)/\(name).pem", encoding: .utf8)
    }
}

@Suite("A certificate is checked against the chain given, with OpenSSL's verifier, on the caller's clock")
struct ChainCheckTests {
    /// The reason a check gives, or `nil` when it passes.
    static func refusal(_ pem: String, _ chain: String, at date: Date) throws -> String? {
        do { try IssuedCertificate(pem: pem).verify(chainPEM: chain, at: date) } catch {
            #expect(error.code == .untrusted)
            return error.reason
        }
        return nil
    }

    @Test("a leaf under the issuing CA and the root passes within its dates; it names the IIN of its subject")
    func passes() throws {
        let pki = try OpenSSLChain()
        let leaf = try IssuedCertificate(pem: pki.leaf)
        #expect(try Self.refusal(pki.leaf, pki.issuing + pki.root, at: leaf.notValidBefore + 60) == nil)
        #expect(try Self.refusal(pki.leaf, pki.root + pki.issuing, at: leaf.notValidBefore + 60) == nil)
        #expect(leaf.iin == "850314300013")
    }

    /// The certificate with the last byte of its signature flipped.
    static func tampered(_ pem: String) throws -> String {
        var der = try PKI.der(pem: pem)
        der[der.count - 1] ^= 1
        return PKI.pem(der: der, label: "CERTIFICATE")
    }

    @Test("refused: expired or not yet valid on the clock given, no root, no issuing CA, a root of the same name with another key, a forged signature on the issuing CA or on the root itself, an issuer that is no CA")
    func refused() throws {
        let pki = try OpenSSLChain()
        let leaf = try IssuedCertificate(pem: pki.leaf), chain = pki.issuing + pki.root, at = leaf.notValidBefore + 60
        let cases: [(String, String, Date, String)] = [
            (pki.leaf, chain, leaf.notValidAfter + 60, "certificate has expired (the certificate itself)"),
            (pki.leaf, chain, leaf.notValidBefore - 3600, "certificate is not yet valid"),
            (pki.leaf, pki.issuing, at, "holds no root CA"),
            (pki.leaf, "", at, "holds no root CA"),
            (pki.leaf, pki.root, at, "unable to get local issuer certificate (the certificate itself)"),
            (pki.leaf, pki.issuing + pki.otherRoot, at, "unable to get local issuer certificate (its issuer's certificate)"),
            (pki.leaf, try Self.tampered(pki.issuing) + pki.root, at, "certificate signature failure (its issuer's certificate)"),
            (pki.leaf, pki.issuing + (try Self.tampered(pki.root)), at, "certificate signature failure (a CA certificate above its issuer)"),
            (pki.leafOfNotCA, pki.notCA + pki.root, at, "invalid CA certificate (its issuer's certificate)"),
        ]
        for (pem, given, date, expected) in cases {
            let reason = try #require(try Self.refusal(pem, given, at: date), "passed: \(expected)")
            #expect(reason.hasPrefix("not valid under the CA chain given: ") && reason.contains(expected), "\(reason)")
        }
    }
}
