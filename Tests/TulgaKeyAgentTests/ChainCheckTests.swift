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

    @Test("a chain of more than 8 certificates is refused before any is used")
    func longChain() throws {
        let pki = try OpenSSLChain()
        let leaf = try IssuedCertificate(pem: pki.leaf)
        let nine = pki.issuing + pki.root + String(repeating: pki.otherRoot, count: 7)
        let reason = try #require(try Self.refusal(pki.leaf, nine, at: leaf.notValidBefore + 60))
        #expect(reason.contains("the chain has more than 8 certificates"), "\(reason)")
        // Eight are read.
        #expect(try Self.refusal(pki.leaf, pki.issuing + pki.root + String(repeating: pki.otherRoot, count: 6), at: leaf.notValidBefore + 60) == nil)
    }

    /// A PEM certificate with an RFC 1421 "ENCRYPTED" header: OpenSSL's default callback would ask for its pass phrase.
    static func encrypted(_ pem: String) -> String {
        pem.replacingOccurrences(of: "-----BEGIN CERTIFICATE-----\n",
                                 with: "-----BEGIN CERTIFICATE-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00112233445566778899AABBCCDDEEFF\n\n")
    }

    @Test("a chain with an ENCRYPTED block is refused by name, at once, without asking for a pass phrase")
    func encryptedBlock() throws {
        let pki = try OpenSSLChain()
        let leaf = try IssuedCertificate(pem: pki.leaf)
        for chain in [Self.encrypted(pki.issuing) + pki.root, pki.issuing + Self.encrypted(pki.root), pki.issuing + pki.root + Self.encrypted(pki.otherRoot)] {
            let reason = try #require(try Self.refusal(pki.leaf, chain, at: leaf.notValidBefore + 60))
            #expect(reason.contains("the chain holds a block that is not a plain PEM certificate"), "\(reason)")
        }
    }

    @Test("a pinned root: the chain must end at exactly it; the same name with another key is untrustedRoot, not a pass")
    func pinnedRoot() throws {
        let pki = try OpenSSLChain()
        let leaf = try IssuedCertificate(pem: pki.leaf), at = leaf.notValidBefore + 60
        let root = try TrustedRoot(pem: pki.root), other = try TrustedRoot(pem: pki.otherRoot)
        try leaf.verify(chainPEM: pki.issuing + pki.root, root: root, at: at)
        // The chain verifies on its own, and ends at a root that is not the pinned one.
        try leaf.verify(chainPEM: pki.issuing + pki.root, at: at)
        #expect(throws: KeyError(.untrustedRoot, "")) { try leaf.verify(chainPEM: pki.issuing + pki.root, root: other, at: at) }
        do { try leaf.verify(chainPEM: pki.issuing + pki.root, root: other, at: at) } catch {
            #expect(error.reason.contains("not issued under the trusted root CA (--ca-root)"), "\(error.reason)")
        }
        // Both roots offered: the one the chain is verified to must be the pinned one.
        #expect(throws: KeyError(.untrustedRoot, "")) { try leaf.verify(chainPEM: pki.issuing + pki.otherRoot + pki.root, root: other, at: at) }
        #expect(try TrustedRoot(pem: pki.root) == root && root.der == (try PKI.der(pem: pki.root)))
    }

    @Test("--ca-root files: one self-issued PEM certificate; two blocks, an issued CA, text that is no certificate, a missing file are refused by name")
    func trustedRootFile() throws {
        let pki = try OpenSSLChain()
        for (pem, reason) in [(pki.root + pki.otherRoot, "must hold one PEM certificate, not 2"), (pki.issuing, "its issuer is not its subject"),
                              ("hello", "must hold one PEM certificate, not 0"), (pki.root.replacingOccurrences(of: "M", with: "A"), "not a PEM certificate")] {
            #expect(throws: KeyError(.invalidRequest, "")) { _ = try TrustedRoot(pem: pem) }
            do { _ = try TrustedRoot(pem: pem) } catch { #expect(error.reason.contains(reason), "\(error.reason)") }
        }
        let path = pki.dir + "/root.pem"
        #expect(try TrustedRoot(path: path).pem == pki.root)
        do { _ = try TrustedRoot(path: pki.dir + "/missing.pem") } catch { #expect(error.reason.contains("cannot read"), "\(error.reason)") }
    }
}
