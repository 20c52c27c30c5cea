import Foundation
import Logging
import Testing
import TulgaCore
import TulgaIssuance
import TulgaKeyAgent
import TulgaKeyStore
import TulgaPKI
import TulgaTestSupport

/// The page's origin in these tests: the test world's public origin (its CA's `publicBaseURL`), the sign-in audience.
let page = "http://127.0.0.1:18080"

/// A real agent on 127.0.0.1 (a free port), serving while `body` runs, then stopped.
///
/// - Parameters:
///   - storage: the folder or token.
///   - environment: `TULGA_KEY_PASSWORD` / `TULGA_TOKEN_PIN`, as the agent's environment; no terminal.
///   - clock: the agent's clock (the test world's, for its certificates to be valid).
///   - body: the test, given the port.
func withAgent<T: Sendable>(_ storage: AgentStorage, environment: [String: String], clock: any WallClock = ManualClock(), trustedRoot: TrustedRoot? = nil,
                            _ body: (Int) async throws -> T) async throws -> T {
    let agent = KeyAgent(storage: storage, secrets: AgentSecrets(environment: environment, prompt: nil), clock: clock, trustedRoot: trustedRoot)
    let server = try await KeyAgentServer.bind(agent: agent, port: 0, origins: [page], logger: Logger(label: "test.agent"))
    let serving = Task { try await server.run() }
    defer { serving.cancel() }
    let result = try await body(server.port)
    serving.cancel()
    _ = await serving.result
    return result
}

/// One page's conversation with a fresh agent over `storage`.
func talk<T: Sendable>(_ storage: AgentStorage, _ environment: [String: String], clock: any WallClock = ManualClock(), trustedRoot: TrustedRoot? = nil,
                       _ body: (WebSocketTestClient) async throws -> T) async throws -> T {
    try await withAgent(storage, environment: environment, clock: clock, trustedRoot: trustedRoot) { (port) async throws in
        try await WebSocketTestClient.session(port: port, origin: page, body)
    }
}

/// The error's message of an answer.
func errorMessage(_ answer: [String: Any]) -> String { (answer["error"] as? [String: Any])?["message"] as? String ?? "" }

/// A person ready to apply (registry, phone, Digital ID, PIN, consent) in a new world.
func applicant(_ serial: Int) async throws -> (World, String) {
    let w = try await World.make()
    let iin = World.iin(serial)
    try await w.person(iin)
    return (w, iin)
}

/// A request's JSON text.
func request(_ id: Int, _ method: String, _ params: [String: Any] = [:]) throws -> String {
    String(decoding: try JSONSerialization.data(withJSONObject: ["id": id, "method": method, "params": params]), as: UTF8.self)
}

/// The answer's result, or a failed expectation with the error it carried.
func result(_ answer: [String: Any], sourceLocation: SourceLocation = #_sourceLocation) throws -> [String: Any] {
    try #require(answer["result"] as? [String: Any], "\(answer)", sourceLocation: sourceLocation)
}

/// The answer's error code.
func code(_ answer: [String: Any]) -> String? { (answer["error"] as? [String: Any])?["code"] as? String }

/// PEM text without its line breaks, to compare certificates.
func flat(_ pem: String) -> String { pem.filter { !$0.isWhitespace } }

@Suite("The key agent over a real WebSocket: the page's generate, install and signIn; what it refuses", .serialized)
struct KeyAgentTests {
    /// generate through the agent, then the application and the certificates through the service.
    static func apply(_ client: WebSocketTestClient, _ w: World, iin: String, algorithm: KeyAlgorithm, storage: KeyStorageKind) async throws -> IssuedCertificates {
        let generated = try result(try await client.call(try request(2, "generate", ["iin": iin, "algorithm": algorithm.rawValue])))
        let requests = try #require(generated["requests"] as? [String: String]), ids = try #require(generated["keyIDs"] as? [String: String])
        let made = try KeyRequests(auth: try #require(requests["AUTH"]), sign: try #require(requests["SIGN"]), storage: storage)
        #expect(made.auth.keyID == ids["AUTH"] && made.sign.keyID == ids["SIGN"])
        let app = try await w.service.applyRemote(iin: iin, pin: "402719", agreement: UserAgreement.version, requests: made, caller: systemA)
        #expect(app.algorithm == algorithm)
        return try await w.service.install(app.number, caller: systemA)
    }

    static func installRequest(_ id: Int, _ certs: IssuedCertificates) throws -> String {
        try request(id, "install", ["certificates": ["AUTH": certs.auth, "SIGN": certs.sign], "chain": certs.chain])
    }

    /// signIn through the agent, checked by the service's own verifier.
    static func signIn(_ client: WebSocketTestClient, _ w: World, iin: String, certs: IssuedCertificates) async throws {
        w.clock.advance(61)
        let challenge = try await w.service.signInChallenge(caller: systemA)
        let signed = try result(try await client.call(try request(9, "signIn", ["challenge": challenge.challenge, "audience": challenge.audience])))
        let certificate = try #require(signed["certificate"] as? String), signature = try #require((signed["signature"] as? String).flatMap { Data(base64Encoded: $0) })
        #expect(flat(certificate) == flat(certs.auth))
        let pending = try await w.service.signIn(challenge: challenge.challenge, certificatePEM: certificate, signature: signature, caller: systemA)
        #expect(pending.iin == iin)
    }

    @Test("folder: hello, generate, install (openssl pkcs12 opens both containers), signIn the service accepts; then keys_exist")
    func folder() async throws {
        let (w, iin) = try await applicant(80)
        let folder = w.dir + "/agent-keys"
        try await talk(.folder(folder), ["TULGA_KEY_PASSWORD": "Secret12@"], clock: w.clock) { (client) async throws in
            let hello = try await client.call(try request(1, "hello"))
            #expect(hello["id"] as? Int == 1)
            #expect(try result(hello)["agent"] as? String == "tulga" && (try result(hello)["protocol"] as? Int) == 1
                    && (try result(hello)["storage"] as? String) == "folder")
            // Nothing installed yet: nothing to sign in with, nothing to install into.
            #expect(code(try await client.call(try request(3, "signIn", ["challenge": "ab", "audience": page]))) == "no_keys")
            let certs = try await Self.apply(client, w, iin: iin, algorithm: .rsa2048, storage: .folder)
            let installed = try await client.call(try Self.installRequest(4, certs))
            let names = try #require(try result(installed)["installed"] as? [String])
            #expect(names.count == 2 && names.allSatisfy { !$0.contains("/") && $0.hasSuffix(".p12") }, "\(names)")
            for name in names {
                let opened = try openssl(["pkcs12", "-in", folder + "/" + name, "-passin", "pass:Secret12@", "-nokeys", "-clcerts"])
                #expect(opened.status == 0, "\(opened.out)")
                #expect(flat(opened.out).contains(flat(name.hasPrefix("AUTH_") ? certs.auth : certs.sign)))
                #expect(try openssl(["pkcs12", "-in", folder + "/" + name, "-passin", "pass:Wrong12@x", "-noout"]).status != 0)
            }
            // Installing again writes nothing new and says what is there.
            #expect(try result(try await client.call(try Self.installRequest(5, certs)))["installed"] as? [String] == names)
            try await Self.signIn(client, w, iin: iin, certs: certs)
            // A challenge for another audience (another service's) is not signed for this page.
            let relayed = try await client.call(try request(7, "signIn", ["challenge": "ab", "audience": "https://other.example"]))
            #expect(relayed["id"] as? Int == 7 && code(relayed) == "audience", "\(relayed)")
            let again = try await client.call(try request(6, "generate", ["iin": iin, "algorithm": "rsa2048"]))
            #expect(again["id"] as? Int == 6 && code(again) == "keys_exist", "\(again)")
        }
        await w.close()
    }

    @Test("SoftHSM2 token: generate on the token, install, signIn the service accepts; keys_exist; a wrong PIN is password")
    func token() async throws {
        let token = try SoftToken.make("tulga-agent")
        let (w, iin) = try await applicant(81)
        let storage = AgentStorage.token(module: SoftToken.module, label: token.label)
        try await talk(storage, ["TULGA_TOKEN_PIN": token.pin], clock: w.clock) { (client) async throws in
            #expect(try result(try await client.call(try request(1, "hello")))["storage"] as? String == "token")
            #expect(code(try await client.call(try request(3, "signIn", ["challenge": "ab", "audience": page]))) == "no_keys")
            let certs = try await Self.apply(client, w, iin: iin, algorithm: .p256, storage: .token)
            let names = try #require(try result(try await client.call(try Self.installRequest(4, certs)))["installed"] as? [String])
            #expect(names.count == 2 && names.allSatisfy { $0.hasPrefix("token \(token.label): ") }, "\(names)")
            #expect(try token.tool(["--list-objects", "--type", "cert"]).out.components(separatedBy: "Certificate Object").count - 1 == 2)
            try await Self.signIn(client, w, iin: iin, certs: certs)
            #expect(code(try await client.call(try request(6, "generate", ["iin": iin, "algorithm": "p256"]))) == "keys_exist")
        }
        try await talk(storage, ["TULGA_TOKEN_PIN": "999999"]) { (client) async throws in
            #expect(code(try await client.call(try request(1, "signIn", ["challenge": "ab", "audience": page]))) == "password")
        }
        try await talk(.token(module: SoftToken.module, label: "no-such-token"), ["TULGA_TOKEN_PIN": token.pin]) { (client) async throws in
            #expect(code(try await client.call(try request(1, "signIn", ["challenge": "ab", "audience": page]))) == "storage")
        }
        await w.close()
    }

    @Test("passwords: a wrong one is password, none given is password, and both leave the folder as it was")
    func passwords() async throws {
        let (w, iin) = try await applicant(82)
        let folder = w.dir + "/agent-keys"
        let certs = try await talk(.folder(folder), ["TULGA_KEY_PASSWORD": "Secret12@"], clock: w.clock) { (client) async throws in try await Self.apply(client, w, iin: iin, algorithm: .p256, storage: .folder) }
        let before = try FileManager.default.subpathsOfDirectory(atPath: folder).sorted()
        try await talk(.folder(folder), ["TULGA_KEY_PASSWORD": "Wrong12@x"], clock: w.clock) { (client) async throws in
            let wrong = try await client.call(try Self.installRequest(1, certs))
            #expect(code(wrong) == "password", "\(wrong)")
        }
        try await talk(.folder(folder), [:], clock: w.clock) { (client) async throws in
            let none = try await client.call(try Self.installRequest(2, certs))
            #expect(code(none) == "password" && ((none["error"] as? [String: Any])?["message"] as? String)?.contains("TULGA_KEY_PASSWORD") == true, "\(none)")
            // Keys there already: refused before any password is asked.
            #expect(code(try await client.call(try request(3, "generate", ["iin": iin, "algorithm": "p256"]))) == "keys_exist")
        }
        // A new folder's password must pass the CA's rules.
        try await talk(.folder(w.dir + "/fresh"), ["TULGA_KEY_PASSWORD": "short"]) { (client) async throws in
            #expect(code(try await client.call(try request(4, "generate", ["iin": iin, "algorithm": "p256"]))) == "password")
        }
        #expect(try FileManager.default.subpathsOfDirectory(atPath: folder).sorted() == before)
        // Certificates issued for other keys do not match these keys.
        let other = World.iin(83)
        try await w.person(other)
        let foreign = try await talk(.folder(w.dir + "/other-keys"), ["TULGA_KEY_PASSWORD": "Secret12@"], clock: w.clock) { (client) async throws in try await Self.apply(client, w, iin: other, algorithm: .p256, storage: .folder) }
        try await talk(.folder(folder), ["TULGA_KEY_PASSWORD": "Secret12@"], clock: w.clock) { (client) async throws in
            #expect(code(try await client.call(try Self.installRequest(5, foreign))) == "certificate")
        }
        try await talk(.folder(w.dir + "/empty"), ["TULGA_KEY_PASSWORD": "Secret12@"], clock: w.clock) { (client) async throws in
            #expect(code(try await client.call(try Self.installRequest(6, foreign))) == "no_keys")
        }
        await w.close()
    }

    /// Every file below `folder` with its bytes.
    static func snapshot(_ folder: String) throws -> [String: Data] {
        var files: [String: Data] = [:]
        for path in try FileManager.default.subpathsOfDirectory(atPath: folder) {
            var directory: ObjCBool = false
            if FileManager.default.fileExists(atPath: folder + "/" + path, isDirectory: &directory), !directory.boolValue {
                files[path] = FileManager.default.contents(atPath: folder + "/" + path)
            }
        }
        return files
    }

    /// An application filed with `requests` as they are (AUTH, SIGN) for `iin`, and its certificates.
    static func file(_ w: World, iin: String, auth: String, sign: String, storage: KeyStorageKind) async throws -> IssuedCertificates {
        let app = try await w.service.applyRemote(iin: iin, pin: "402719", agreement: UserAgreement.version,
                                                  requests: try KeyRequests(auth: auth, sign: sign, storage: storage), caller: systemA)
        return try await w.service.install(app.number, caller: systemA)
    }

    /// generate through the agent; the two requests by purpose.
    static func generate(_ client: WebSocketTestClient, iin: String, algorithm: KeyAlgorithm = .p256) async throws -> (auth: String, sign: String, keyIDs: [String: String]) {
        let generated = try result(try await client.call(try request(2, "generate", ["iin": iin, "algorithm": algorithm.rawValue])))
        let requests = try #require(generated["requests"] as? [String: String])
        return (try #require(requests["AUTH"]), try #require(requests["SIGN"]), try #require(generated["keyIDs"] as? [String: String]))
    }

    @Test("install checks both certificates before it writes: another CA's chain, no root, a forged issuing CA, expired or not yet valid on the agent's clock, the purposes' keys swapped, another IIN: certificate with the reason, and the folder as it was, byte for byte")
    func installChecks() async throws {
        let (w, iin) = try await applicant(100)
        let env = ["TULGA_KEY_PASSWORD": "Secret12@"]
        let (swappedIIN, borrowerIIN) = (World.iin(110), World.iin(120))
        try await w.person(swappedIIN)
        try await w.person(borrowerIIN)
        let folder = w.dir + "/agent-keys", swapped = w.dir + "/swapped-keys", borrowed = w.dir + "/borrowed-keys"
        let certs = try await talk(.folder(folder), env, clock: w.clock) { (client) async throws in try await Self.apply(client, w, iin: iin, algorithm: .p256, storage: .folder) }
        // Filed with the requests' purposes swapped: the CA certifies the SIGN key for authentication and the AUTH key for signing.
        let swappedCerts = try await talk(.folder(swapped), env, clock: w.clock) { (client) async throws in
            let made = try await Self.generate(client, iin: swappedIIN)
            return try await Self.file(w, iin: swappedIIN, auth: made.sign, sign: made.auth, storage: .folder)
        }
        // Keys made for one IIN, filed by another person: the certificates name the filer's IIN.
        let borrowedCerts = try await talk(.folder(borrowed), env, clock: w.clock) { (client) async throws in
            let made = try await Self.generate(client, iin: iin)
            return try await Self.file(w, iin: borrowerIIN, auth: made.auth, sign: made.sign, storage: .folder)
        }
        // Another CA (another world) and its chain.
        let v = try await World.make()
        let otherIIN = World.iin(130)
        try await v.person(otherIIN)
        let otherChain = try await talk(.folder(v.dir + "/keys"), env, clock: v.clock) { (client) async throws in
            try await Self.apply(client, v, iin: otherIIN, algorithm: .p256, storage: .folder).chain
        }
        await v.close()
        let root = try String(contentsOfFile: w.dir + "/ca/root.crt", encoding: .utf8), issuing = try String(contentsOfFile: w.dir + "/ca/issuing.crt", encoding: .utf8)
        var forged = try PKI.der(pem: issuing)
        forged[forged.count - 1] ^= 1
        let validity = try IssuedCertificate(pem: certs.auth)
        func install(_ c: IssuedCertificates, chain: String? = nil) throws -> String {
            try request(4, "install", ["certificates": ["AUTH": c.auth, "SIGN": c.sign], "chain": chain ?? c.chain])
        }
        let refusals: [(folder: String, clock: any WallClock, request: String, reason: String)] = [
            (folder, w.clock, try install(certs, chain: otherChain), "the AUTH certificate is not valid under the CA chain given: unable to get local issuer certificate"),
            (folder, w.clock, try install(certs, chain: issuing), "holds no root CA"),
            (folder, w.clock, try install(certs, chain: PKI.pem(der: forged, label: "CERTIFICATE") + root), "certificate signature failure (its issuer's certificate)"),
            (folder, ManualClock(validity.notValidAfter.timeIntervalSince1970 + 1), try install(certs), "certificate has expired (the certificate itself)"),
            (folder, ManualClock(validity.notValidBefore.timeIntervalSince1970 - 86400), try install(certs), "certificate is not yet valid"),
            (swapped, w.clock, try install(swappedCerts), "the AUTH certificate certifies the SIGN key"),
            (borrowed, w.clock, try install(borrowedCerts), "the AUTH certificate names another IIN than the one the keys were made for"),
        ]
        for refused in refusals {
            let before = try Self.snapshot(refused.folder)
            try await talk(.folder(refused.folder), env, clock: refused.clock) { (client) async throws in
                let answer = try await client.call(refused.request)
                let message = (answer["error"] as? [String: Any])?["message"] as? String ?? ""
                #expect(code(answer) == "certificate" && message.contains(refused.reason), "\(refused.reason): \(answer)")
                #expect(!message.contains(iin) && !message.contains(borrowerIIN), "an IIN in \(message)")
            }
            #expect(try Self.snapshot(refused.folder) == before, "\(refused.reason): the folder changed")
            #expect(try !FileManager.default.contentsOfDirectory(atPath: refused.folder).contains { $0.hasSuffix(".p12") })
        }
        // The same certificates with their own chain, on the world's clock: installed.
        try await talk(.folder(folder), env, clock: w.clock) { (client) async throws in
            #expect(try result(try await client.call(try install(certs)))["installed"] as? [String] != nil)
        }
        await w.close()
    }

    /// A new SoftHSM2 token and a person ready to apply; `body` talks to an agent over the token (its PIN from the environment).
    static func onToken(_ name: String, applicant serial: Int, _ body: (SoftToken, World, String, WebSocketTestClient) async throws -> Void) async throws {
        let token = try SoftToken.make(name)
        let (w, iin) = try await applicant(serial)
        try await talk(.token(module: SoftToken.module, label: token.label), ["TULGA_TOKEN_PIN": token.pin], clock: w.clock) { (client) async throws in
            try await body(token, w, iin, client)
        }
        await w.close()
    }

    @Test("install on a token: certificates for the purposes' keys swapped are refused, and nothing is stored")
    func tokenInstallChecks() async throws {
        try await Self.onToken("tulga-agent-checks", applicant: 140) { token, w, iin, client in
            let made = try await Self.generate(client, iin: iin)
            let swapped = try await Self.file(w, iin: iin, auth: made.sign, sign: made.auth, storage: .token)
            let refused = try await client.call(try Self.installRequest(4, swapped))
            #expect(code(refused) == "certificate" && "\(refused)".contains("the AUTH certificate certifies the SIGN key"), "\(refused)")
            #expect(!(try token.tool(["--list-objects", "--type", "cert"]).out.contains("Certificate Object")))
        }
    }

    @Test("pending, folder: after a filing that failed, generate is keys_exist and pending gives the same requests (the password must open the keys); filed again and installed, nothing is pending")
    func pendingFolder() async throws {
        let (w, iin) = try await applicant(150)
        let folder = w.dir + "/agent-keys", env = ["TULGA_KEY_PASSWORD": "Secret12@"]
        try await talk(.folder(folder), [:], clock: w.clock) { (client) async throws in
            // No keys: said before any password is asked.
            #expect(code(try await client.call(try request(1, "pending"))) == "no_keys")
        }
        let made = try await talk(.folder(folder), env, clock: w.clock) { (client) async throws in try await Self.generate(client, iin: iin, algorithm: .rsa2048) }
        // The filing fails (a wrong PIN): nothing of the keys is kept by the service.
        await #expect(throws: IssuanceError(.pin, "")) {
            _ = try await w.service.applyRemote(iin: iin, pin: "999998", agreement: UserAgreement.version,
                                                requests: try KeyRequests(auth: made.auth, sign: made.sign, storage: .folder), caller: systemA)
        }
        try await talk(.folder(folder), ["TULGA_KEY_PASSWORD": "Wrong12@x"], clock: w.clock) { (client) async throws in
            #expect(code(try await client.call(try request(1, "pending"))) == "password")
        }
        try await talk(.folder(folder), env, clock: w.clock) { (client) async throws in
            #expect(code(try await client.call(try request(2, "generate", ["iin": iin, "algorithm": "rsa2048"]))) == "keys_exist")
            let pending = try result(try await client.call(try request(3, "pending")))
            #expect(pending["requests"] as? [String: String] == ["AUTH": made.auth, "SIGN": made.sign])
            #expect(pending["keyIDs"] as? [String: String] == made.keyIDs && pending["iin"] as? String == iin)
            let certs = try await Self.file(w, iin: iin, auth: made.auth, sign: made.sign, storage: .folder)
            #expect(try result(try await client.call(try Self.installRequest(4, certs)))["installed"] as? [String] != nil)
            #expect(code(try await client.call(try request(5, "pending"))) == "no_keys")
        }
        await w.close()
    }

    @Test("pending, token: the pair with no certificate signs new requests for the same keys, naming the IIN; none after install")
    func pendingToken() async throws {
        try await Self.onToken("tulga-agent-pending", applicant: 160) { _, w, iin, client in
            #expect(code(try await client.call(try request(1, "pending"))) == "no_keys")
            let made = try await Self.generate(client, iin: iin)
            let pending = try result(try await client.call(try request(3, "pending")))
            #expect(pending["keyIDs"] as? [String: String] == made.keyIDs && pending["iin"] as? String == iin)
            let requests = try #require(pending["requests"] as? [String: String])
            let certs = try await Self.file(w, iin: iin, auth: try #require(requests["AUTH"]), sign: try #require(requests["SIGN"]), storage: .token)
            #expect(try result(try await client.call(try Self.installRequest(4, certs)))["installed"] as? [String] != nil)
            #expect(code(try await client.call(try request(5, "pending"))) == "no_keys")
            try await Self.signIn(client, w, iin: iin, certs: certs)
        }
    }

    @Test("the upgrade: a foreign Origin and a missing one are 403, another path 404, plain HTTP 426, another version 400; the page's origin upgrades")
    func origins() async throws {
        try await withAgent(.folder(Temp.dir("tulga-agent") + "/keys"), environment: [:]) { (port) async throws in
            #expect(try await WebSocketTestClient.status(port: port, origin: page) == 101)
            #expect(try await WebSocketTestClient.status(port: port, origin: "http://evil.example") == 403)
            #expect(try await WebSocketTestClient.status(port: port, origin: nil) == 403)
            #expect(try await WebSocketTestClient.status(port: port, origin: page + "/") == 403)
            #expect(try await WebSocketTestClient.status(port: port, origin: "http://127.0.0.1:8081") == 403)
            #expect(try await WebSocketTestClient.status(port: port, origin: page, path: "/other") == 404)
            let plain = try curl(["-o", "/dev/null", "-w", "%{http_code}", "-H", "Origin: \(page)", "http://127.0.0.1:\(port)/"])
            #expect(plain == "426")
            // curl as the client too: a foreign page's upgrade, and an upgrade of another WebSocket version.
            let upgrade = ["-o", "/dev/null", "-w", "%{http_code}", "-H", "Connection: Upgrade", "-H", "Upgrade: websocket",
                           "-H", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "http://127.0.0.1:\(port)/"]
            #expect(try curl(upgrade + ["-H", "Sec-WebSocket-Version: 13", "-H", "Origin: http://evil.example"]) == "403")
            #expect(try curl(upgrade + ["-H", "Sec-WebSocket-Version: 8", "-H", "Origin: \(page)"]) == "400")
        }
    }

    @Test("frames: malformed JSON is bad_request and the connection goes on; unknown_method; fragments join; ping gets pong")
    func frames() async throws {
        try await talk(.folder(Temp.dir("tulga-agent") + "/keys"), [:]) { (client) async throws in
            let malformed = try await client.call("{not json")
            #expect(malformed["id"] is NSNull && code(malformed) == "bad_request")
            #expect(code(try await client.call(#"{"id":2,"method":"generate","params":{"iin":"1"}}"#)) == "bad_request")
            let unknown = try await client.call(try request(3, "exportKey"))
            #expect(unknown["id"] as? Int == 3 && code(unknown) == "unknown_method")
            // One message in three frames, as RFC 6455 allows.
            let text = Data(try request(4, "hello").utf8)
            try await client.send(0x1, text.prefix(5), fin: false)
            try await client.send(0x0, text.dropFirst(5).prefix(5), fin: false)
            try await client.send(0x0, text.dropFirst(10), fin: true)
            guard case .text(let joined) = try await client.next() else { Issue.record("no answer to fragments"); return }
            #expect(joined.contains(#""id":4"#) && joined.contains(#""agent":"tulga""#))
            try await client.send(0x9, Data("hi".utf8))
            #expect(try await client.next() == .pong(Data("hi".utf8)))
            // A message of exactly 64 KiB is read.
            let padded = try request(5, "hello") + String(repeating: " ", count: AgentLimits.maximumMessage - (try request(5, "hello")).utf8.count)
            #expect(try result(try await client.call(padded))["agent"] as? String == "tulga")
            try await client.send(0x8, Data([0x03, 0xE8]))
            #expect(try await client.next() == .close(code: 1000, reason: ""))
        }
    }

    @Test("refused frames: over 64 KiB (too_large, 1009), binary (1003), fragments over 64 KiB, unmasked (1002)")
    func refusedFrames() async throws {
        try await withAgent(.folder(Temp.dir("tulga-agent") + "/keys"), environment: [:]) { (port) async throws in
            try await WebSocketTestClient.session(port: port, origin: page) { (client) async throws in
                try await client.send(0x1, Data(repeating: 0x20, count: AgentLimits.maximumMessage + 1))
                guard case .text(let answer) = try await client.next() else { Issue.record("no too_large answer"); return }
                let object = try #require(try JSONSerialization.jsonObject(with: Data(answer.utf8)) as? [String: Any])
                #expect(object["id"] is NSNull && code(object) == "too_large")
                #expect(try await client.next() == .close(code: 1009, reason: "a message is at most 64 KiB"))
                #expect(try await client.next() == .ended)
            }
            try await WebSocketTestClient.session(port: port, origin: page) { (client) async throws in
                try await client.send(0x1, Data(repeating: 0x20, count: 40_000), fin: false)
                try await client.send(0x0, Data(repeating: 0x20, count: 40_000), fin: true)
                guard case .text(let answer) = try await client.next() else { Issue.record("no too_large answer"); return }
                #expect(answer.contains("too_large"))
                #expect(try await client.next() == .close(code: 1009, reason: "a message is at most 64 KiB"))
            }
            try await WebSocketTestClient.session(port: port, origin: page) { (client) async throws in
                try await client.send(0x2, Data(try request(1, "hello").utf8))
                #expect(try await client.next() == .close(code: 1003, reason: "binary frames are refused: send JSON text"))
                #expect(try await client.next() == .ended)
            }
            try await WebSocketTestClient.session(port: port, origin: page) { (client) async throws in
                try await client.send(0x1, Data(try request(1, "hello").utf8), mask: false)
                #expect(try await client.next() == .close(code: 1002, reason: "client frames must be masked"))
            }
        }
    }

    @Test("at most 16 connections at once: the 17th is closed unanswered; once they close there is room again")
    func connectionLimit() async throws {
        try await withAgent(.folder(Temp.dir("tulga-agent") + "/keys"), environment: [:]) { (port) async throws in
            let limit = KeyAgentServer.maximumConnections
            let (ready, signal) = AsyncStream<Void>.makeStream()
            try await withThrowingTaskGroup(of: Void.self) { group in
                for id in 1...limit {
                    group.addTask {
                        try await WebSocketTestClient.session(port: port, origin: page) { (client) async throws in
                            _ = try await client.call(try request(id, "hello"))
                            signal.yield()
                            _ = try? await client.next()   // held open until the group is cancelled
                        }
                    }
                }
                var answered = 0
                for await _ in ready {
                    answered += 1
                    if answered == limit { break }
                }
                do {
                    let status = try await WebSocketTestClient.status(port: port, origin: page)
                    Issue.record("the 17th connection was answered: \(status)")
                } catch { #expect(error is ClientError, "\(error)") }
                group.cancelAll()
                try? await group.waitForAll()
            }
            // The agent counts a connection out when it has seen it close: wait for that, by trying.
            var status = 0
            for _ in 0..<10_000 where status != 101 { status = (try? await WebSocketTestClient.status(port: port, origin: page)) ?? 0 }
            #expect(status == 101)
        }
    }

    @Test("one operation at a time: two pages generating at once get one set of keys and one keys_exist")
    func oneAtATime() async throws {
        let folder = Temp.dir("tulga-agent") + "/keys"
        try await withAgent(.folder(folder), environment: ["TULGA_KEY_PASSWORD": "Secret12@"]) { (port) async throws in
            let iin = World.iin(84)
            let codes = try await withThrowingTaskGroup(of: String.self) { group in
                for id in 1...2 {
                    group.addTask {
                        try await WebSocketTestClient.session(port: port, origin: page) { (client) async throws in
                            code(try await client.call(try request(id, "generate", ["iin": iin, "algorithm": "p256"]))) ?? "ok"
                        }
                    }
                }
                return try await group.reduce(into: [String]()) { $0.append($1) }
            }
            #expect(codes.sorted() == ["keys_exist", "ok"], "\(codes)")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder + "/pending").filter { $0.hasSuffix(".key") }.count == 2)
    }
}

@Suite("The key store's answers for the agent: whether it holds keys, and the installed AUTH certificate")
struct KeyStoreAuthenticationTests {
    @Test("folder: no AUTH certificate before install; after it, the installed one; after a reissue, the newest; a wrong password opens none")
    func folder() async throws {
        let (w, iin) = try await applicant(85)
        let s = w.service, keys = try w.keyStore("auth")
        #expect(throws: KeyError(.noKey, "")) { _ = try keys.authenticationCertificate() }
        #expect(try !keys.holdsKeys() && !FolderKeyStore.holdsKeys(in: keys.directory))
        let app = try await s.applyRemote(iin: iin, pin: "402719", agreement: UserAgreement.version, requests: try w.requests(keys, iin: iin), caller: systemA)
        #expect(try keys.holdsKeys() && !FolderKeyStore.holdsAuthenticationContainer(in: keys.directory))
        #expect(throws: KeyError(.noKey, "")) { _ = try keys.authenticationCertificate() }
        let first = try await s.install(app.number, caller: systemA)
        _ = try keys.install(first.byPurpose, chainPEM: first.chain, at: w.clock.date)
        #expect(FolderKeyStore.holdsAuthenticationContainer(in: keys.directory))
        #expect(flat(try keys.authenticationCertificate()) == flat(first.auth))
        // A reissue a minute later into the same folder: two AUTH containers, the newer one answers.
        w.clock.advance(61)
        try await w.confirmPhone(iin)
        let again = try await s.reissue(app.number, pin: "402719", agreement: UserAgreement.version, requests: try w.requests(keys, iin: iin), caller: systemA)
        let second = try await s.install(again.number, caller: systemA)
        _ = try keys.install(second.byPurpose, chainPEM: second.chain, at: w.clock.date)
        #expect(try FileManager.default.contentsOfDirectory(atPath: keys.directory).filter { $0.hasPrefix("AUTH_") }.count == 2)
        #expect(flat(try keys.authenticationCertificate()) == flat(second.auth))
        #expect(throws: KeyError(.password, "")) { _ = try FolderKeyStore(directory: keys.directory, password: "Wrong12@x").authenticationCertificate() }
        await w.close()
    }

    @Test("token: no AUTH certificate before install, the installed one after; keys are held from generate on; a wrong PIN is .password")
    func token() async throws {
        let token = try SoftToken.make("tulga-auth-cert")
        #expect(try !token.store.holdsKeys())
        #expect(throws: KeyError(.noKey, "")) { _ = try token.store.authenticationCertificate() }
        let (w, _, certs) = try await TokenTests.issued(on: token, iin: World.iin(86))
        #expect(try token.store.holdsKeys())
        _ = try token.store.install(certs.byPurpose, chainPEM: certs.chain, at: w.clock.date)
        #expect(flat(try token.store.authenticationCertificate()) == flat(certs.auth))
        #expect(throws: KeyError(.password, "")) { _ = try TokenKeyStore(module: SoftToken.module, label: token.label, pin: "999999").holdsKeys() }
        await w.close()
    }
}
