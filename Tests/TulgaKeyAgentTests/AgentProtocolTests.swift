import Foundation
import Testing
import TulgaCore
import TulgaKeyAgent
import TulgaKeyStore
import TulgaPKI
import TulgaTestSupport

/// The refusal a message gets, or `nil` when it is read.
func refusal(_ text: String) -> AgentRefusal? {
    if case .failure(let refusal) = AgentRequest.read(Data(text.utf8)) { return refusal }
    return nil
}

func call(_ text: String) -> AgentCall? {
    if case .success(let request) = AgentRequest.read(Data(text.utf8)) { return request.call }
    return nil
}

/// A self-signed certificate made by the real `openssl`: AUTH (clientAuth) or SIGN (nonRepudiation).
func certificate(auth: Bool, curve: Bool = true) throws -> String {
    let dir = Temp.dir("tulga-agent-cert")
    let usage = auth ? ["-addext", "keyUsage=critical,digitalSignature", "-addext", "extendedKeyUsage=clientAuth"]
                     : ["-addext", "keyUsage=critical,digitalSignature,nonRepudiation"]
    let key = curve ? ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"] : ["-newkey", "ed25519"]
    let made = try openssl(["req", "-x509", "-nodes", "-subj", "/CN=test", "-days", "2", "-keyout", dir + "/k.pem", "-out", dir + "/c.pem"] + key + usage)
    #expect(made.status == 0, "\(made.out)")
    return try String(contentsOfFile: dir + "/c.pem", encoding: .utf8)
}

func json(_ data: Data) throws -> [String: Any] { try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any]) }

@Suite("The key agent's protocol: requests, params, answers, codes (pure)")
struct AgentProtocolTests {
    @Test("hello with or without params; the id comes back")
    func hello() throws {
        #expect(call(#"{"id":1,"method":"hello","params":{}}"#) == .hello)
        #expect(call(#"{"id":-3,"method":"hello"}"#) == .hello)
        #expect(call(#"{"id":9007199254740991,"method":"hello","params":null}"#) == .hello)
        let answer = try json(AgentAnswer.result(id: 42, AgentAnswer.hello(storage: .token)))
        #expect(answer["id"] as? Int == 42)
        let result = try #require(answer["result"] as? [String: Any])
        #expect(result["agent"] as? String == "tulga" && result["protocol"] as? Int == 1 && result["storage"] as? String == "token")
    }

    @Test("malformed messages are bad_request with no id", arguments: [
        "", "{", "nul", "[1]", "\"hello\"", "42", #"{"method":"hello"}"#, #"{"id":"1","method":"hello"}"#, #"{"id":1.5,"method":"hello"}"#,
        #"{"id":true,"method":"hello"}"#, #"{"id":null,"method":"hello"}"#, #"{"id":9007199254740992,"method":"hello"}"#, "{\"id\":1,\"method\":\"hello\"",
        String(repeating: "[", count: 20_000) + String(repeating: "]", count: 20_000),
    ])
    func malformed(text: String) throws {
        let refused = try #require(refusal(text))
        #expect(refused.id == nil && refused.error.code == .badRequest, "\(refused.error.reason)")
        let answer = try json(refused.answer)
        #expect(answer["id"] is NSNull)
        let error = try #require(answer["error"] as? [String: Any])
        #expect(error["code"] as? String == "bad_request" && (error["message"] as? String)?.isEmpty == false)
    }

    @Test("bytes that are not UTF-8 are bad_request")
    func notUTF8() throws {
        guard case .failure(let refused) = AgentRequest.read(Data([0x7B, 0xFF, 0xFE, 0x7D])) else { Issue.record("read"); return }
        #expect(refused.error.code == .badRequest)
    }

    @Test("a message over 64 KiB is too_large; one of exactly 64 KiB is read")
    func size() throws {
        let request = #"{"id":5,"method":"hello"}"#
        let exact = request + String(repeating: " ", count: AgentLimits.maximumMessage - request.utf8.count)
        #expect(call(exact) == .hello)
        #expect(refusal(exact + " ")?.error.code == .tooLarge)
    }

    @Test("wrong or missing params are bad_request with the request's id", arguments: [
        #"{"id":7,"method":"hello","params":[]}"#,
        #"{"id":7,"method":"generate","params":{"algorithm":"rsa2048"}}"#,
        #"{"id":7,"method":"generate","params":{"iin":"850314300013"}}"#,
        #"{"id":7,"method":"generate","params":{"iin":"850314300014","algorithm":"rsa2048"}}"#,
        #"{"id":7,"method":"generate","params":{"iin":850314300013,"algorithm":"rsa2048"}}"#,
        #"{"id":7,"method":"generate","params":{"iin":"850314300013","algorithm":"rsa1024"}}"#,
        #"{"id":7,"method":"install","params":{"chain":"x"}}"#,
        #"{"id":7,"method":"install","params":{"certificates":{"AUTH":1,"SIGN":"x"},"chain":"x"}}"#,
        #"{"id":7,"method":"signIn","params":{"challenge":"zz","audience":"http://127.0.0.1:8080"}}"#,
        #"{"id":7,"method":"signIn","params":{"challenge":"","audience":"http://127.0.0.1:8080"}}"#,
        #"{"id":7,"method":"signIn","params":{"challenge":"ab","audience":"http://a\nsignin"}}"#,
        #"{"id":7,"method":"signIn","params":{"challenge":"ab","audience":""}}"#,
        #"{"id":7,"method":"signIn","params":{"challenge":"ab"}}"#,
        #"{"id":7,"method":7}"#,
    ])
    func badParams(text: String) throws {
        let refused = try #require(refusal(text))
        #expect(refused.id == 7 && refused.error.code == .badRequest, "\(refused.error.reason)")
        #expect(try json(refused.answer)["id"] as? Int == 7)
    }

    @Test("an unknown method is unknown_method with the id")
    func unknownMethod() throws {
        let refused = try #require(refusal(#"{"id":3,"method":"deleteKeys","params":{}}"#))
        #expect(refused.id == 3 && refused.error.code == .unknownMethod)
        #expect(refusal(#"{"id":3,"method":"Hello"}"#)?.error.code == .unknownMethod)
        #expect(refused.error.reason.contains("hello, generate, pending, install and signIn"))
    }

    @Test("pending takes no params; its answer is generate's with the IIN")
    func pending() throws {
        #expect(call(#"{"id":1,"method":"pending"}"#) == .pending && call(#"{"id":1,"method":"pending","params":{}}"#) == .pending)
        #expect(refusal(#"{"id":1,"method":"pending","params":"x"}"#)?.error.code == .badRequest)
        let requests = [GeneratedRequest(purpose: .auth, pem: "A", keyID: "aa"), GeneratedRequest(purpose: .sign, pem: "S", keyID: "bb")]
        let result = try #require(try json(AgentAnswer.result(id: 2, AgentAnswer.pending(requests, iin: "850314300013")))["result"] as? [String: Any])
        #expect(result["requests"] as? [String: String] == ["AUTH": "A", "SIGN": "S"] && result["keyIDs"] as? [String: String] == ["AUTH": "aa", "SIGN": "bb"])
        #expect(result["iin"] as? String == "850314300013")
    }

    @Test("generate and signIn read their params")
    func params() {
        #expect(call(#"{"id":1,"method":"generate","params":{"iin":"850314300013","algorithm":"p256"}}"#) == .generate(iin: "850314300013", algorithm: .p256))
        #expect(call(#"{"id":1,"method":"signIn","params":{"challenge":"0aF9","audience":"http://127.0.0.1:8080"}}"#)
                == .signIn(challenge: "0aF9", audience: "http://127.0.0.1:8080"))
    }

    @Test("install: PEM certificates of the right purpose and a PEM chain; anything else is certificate")
    func install() throws {
        let auth = try certificate(auth: true), sign = try certificate(auth: false), chain = try certificate(auth: false)
        func install(_ a: String, _ s: String, _ c: String) throws -> String {
            let params: [String: Any] = ["certificates": ["AUTH": a, "SIGN": s], "chain": c]
            return String(decoding: try JSONSerialization.data(withJSONObject: ["id": 4, "method": "install", "params": params]), as: UTF8.self)
        }
        #expect(call(try install(auth, sign, chain + chain)) == .install(certificates: [.auth: auth, .sign: sign], chain: chain + chain))
        for (a, s, c) in [(sign, auth, chain), (auth, auth, chain), ("not a certificate", sign, chain), (auth, sign, "junk"), (auth, sign, ""),
                          (auth, sign, chain + "junk"), (auth, sign, "junk" + chain), (try certificate(auth: true, curve: false), sign, chain)] {
            let refused = try #require(refusal(try install(a, s, c)))
            #expect(refused.id == 4 && refused.error.code == .certificate, "\(refused.error.reason)")
        }
    }

    @Test("key store errors keep their meaning", arguments: [
        (KeyErrorCode.password, AgentErrorCode.password), (.keyStore, .storage), (.token, .storage), (.noKey, .noKeys),
        (.invalidRequest, .certificate), (.weakKey, .certificate), (.untrusted, .certificate), (.mismatch, .certificate),
        (.untrustedRoot, .certificateUntrusted),
    ])
    func mapping(key: KeyErrorCode, agent: AgentErrorCode) {
        #expect(agentError(KeyError(key, "x")).code == agent)
    }

    @Test("the page's text names no local path: the folder, a file in it, a folder above it (spaces and all), the module, other paths, key files; URLs stay", arguments: [
        ("cannot create /home/a b/keys: Not a directory", "cannot create the key folder: Not a directory"),
        ("the pending AUTH key /home/a b/keys/pending/0a1b.key is damaged (not an encrypted PKCS#8 key)",
         "the pending AUTH key a file in the key folder is damaged (not an encrypted PKCS#8 key)"),
        ("cannot create /home/a b: Permission denied", "cannot create a local path: Permission denied"),
        ("/etc/other is not a folder", "a local path is not a folder"),
        ("(see ./relative/path.txt).", "(see a local path)."),
        ("no container for 0a1b.p12 here", "no container for a local file here"),
        ("the audience is not this page's origin http://[::1]:8080: refused", "the audience is not this page's origin http://[::1]:8080: refused"),
        ("a message is at most 65536 bytes", "a message is at most 65536 bytes"),
    ])
    func pageText(text: String, page: String) {
        #expect(PageText.redacted(text, storage: .folder("/home/a b/keys")) == page)
    }

    @Test("a token's module path is not the page's either")
    func pageTextToken() {
        let text = "cannot load the PKCS#11 module /opt/vendor lib/p11.so: /opt/vendor lib/p11.so: cannot open shared object file"
        #expect(PageText.redacted(text, storage: .token(module: "/opt/vendor lib/p11.so", label: "t"))
                == "cannot load the PKCS#11 module a local path: a local path: cannot open shared object file")
    }

    @Test("anything else is internal, and says nothing of it")
    func internalError() {
        struct Secret: Error {}
        #expect(agentError(Secret()).code == .internal && agentError(Secret()).reason == "the agent failed")
        #expect(agentError(AgentError(.keysExist, "x")).code == .keysExist)
    }

    @Test("--origin: scheme, host and port only, lower case", arguments: [
        ("http://127.0.0.1:8080", true), ("https://tulga.example.kz", true), ("http://localhost:3000", true),
        ("http://127.0.0.1:8080/", false), ("http://127.0.0.1:8080/app/", false), ("ws://127.0.0.1:8080", false), ("127.0.0.1:8080", false),
        ("HTTP://127.0.0.1:8080", false), ("http://user@host", false), ("http://host?x=1", false), ("", false),
    ])
    func origins(origin: String, valid: Bool) {
        #expect(((try? AgentOrigins.check(origin)) != nil) == valid)
    }

    @Test("the Origin header must be exactly one allowed origin")
    func admits() {
        let allowed = ["http://127.0.0.1:8080", "https://tulga.example.kz"]
        #expect(AgentOrigins.admits(["http://127.0.0.1:8080"], allowed: allowed))
        #expect(AgentOrigins.admits(["https://tulga.example.kz"], allowed: allowed))
        for refused in [[], ["http://evil.example"], ["http://127.0.0.1:8080/"], ["HTTP://127.0.0.1:8080"], ["http://127.0.0.1:8081"], ["null"],
                        ["http://127.0.0.1:8080", "http://127.0.0.1:8080"], [" http://127.0.0.1:8080"]] {
            #expect(!AgentOrigins.admits(refused, allowed: allowed), "\(refused)")
        }
    }
}
