import CTulgaPKI
import Foundation
import Testing
import TulgaCore
import TulgaIssuance
import TulgaKeyAgent
@testable import TulgaKeyStore
import TulgaPKI
import TulgaTestSupport

/// An answer's JSON object.
func answerObject(_ data: Data) throws -> [String: Any] { try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any]) }

/// `pending` asked of `agent` directly: the answer, and the notes for the agent's own log.
func pendingReply(_ agent: KeyAgent) async throws -> (answer: [String: Any], notes: [String]) {
    let reply = await agent.answer(Data(try request(1, "pending").utf8), origin: page)
    return (try answerObject(reply.answer), reply.notes)
}

extension SoftToken {
    /// OpenSC's pkcs11-spy.so, which logs every PKCS#11 call to `spyLog` and passes it on to SoftHSM2.
    static let spy: String? = {
        let found = ["/usr/lib/x86_64-linux-gnu/pkcs11-spy.so", "/usr/lib/aarch64-linux-gnu/pkcs11-spy.so", "/usr/lib/pkcs11-spy.so"]
            .first { FileManager.default.fileExists(atPath: $0) }
        // Read by the spy when it is loaded.
        setenv("PKCS11SPY", module, 1)
        setenv("PKCS11SPY_OUTPUT", spyLog, 1)
        return found
    }()

    static var spyLog: String { shared + "/pkcs11-spy.log" }

    /// How many times the spy's log records `call` (a line "N: C_SignInit").
    static func spyCount(_ call: String) -> Int {
        let text = (try? String(contentsOfFile: spyLog, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").filter { $0.hasSuffix(": " + call) }.count
    }
}

@Suite("Key stores and the agent after review: the trusted root, read-only token checks, damaged keys, paths off the page", .serialized)
struct KeyStoreReviewTests {
    static let env = ["TULGA_KEY_PASSWORD": "Secret12@"]

    @Test("--ca-root: a rogue CA's certificates for these very keys are certificate_untrusted and nothing is written; without a pinned root they would install; the real CA's install")
    func pinnedRoot() async throws {
        let (w, iin) = try await applicant(310)
        let rogue = try await World.make()
        try await rogue.person(iin)
        let folder = w.dir + "/agent-keys"
        let ours = try TrustedRoot(path: w.dir + "/ca/root.crt")
        let made = try await talk(.folder(folder), Self.env, clock: w.clock) { (client) async throws in try await KeyAgentTests.generate(client, iin: iin) }
        // The rogue service issues for the keys' own requests, under its own root, and sends that root along.
        let forged = try await KeyAgentTests.file(rogue, iin: iin, auth: made.auth, sign: made.sign, storage: .folder)
        await rogue.close()
        let before = try KeyAgentTests.snapshot(folder)
        try await talk(.folder(folder), Self.env, clock: w.clock, trustedRoot: ours) { (client) async throws in
            let answer = try await client.call(try KeyAgentTests.installRequest(1, forged))
            #expect(code(answer) == "certificate_untrusted" && errorMessage(answer).contains("not issued under the trusted root CA (--ca-root)"), "\(answer)")
        }
        #expect(try KeyAgentTests.snapshot(folder) == before)
        #expect(throws: KeyError(.untrustedRoot, "")) {
            _ = try FolderKeyStore(directory: folder, password: "Secret12@").install(forged.byPurpose, chainPEM: forged.chain, trustedRoot: ours, at: w.clock.date)
        }
        // Checked only against the chain that came with them, they install (in a copy of the folder): that check is consistency, not trust.
        let copy = w.dir + "/copy-keys"
        try FileManager.default.copyItem(atPath: folder, toPath: copy)
        #expect(try FolderKeyStore(directory: copy, password: "Secret12@").install(forged.byPurpose, chainPEM: forged.chain, at: w.clock.date).count == 2)
        // The real CA's certificates for the same keys: installed under the pinned root.
        let certs = try await KeyAgentTests.file(w, iin: iin, auth: made.auth, sign: made.sign, storage: .folder)
        try await talk(.folder(folder), Self.env, clock: w.clock, trustedRoot: ours) { (client) async throws in
            let installed = try await client.call(try KeyAgentTests.installRequest(2, certs))
            #expect(try result(installed)["installed"] as? [String] != nil)
        }
        await w.close()
    }

    @Test("refusals reach the page without local paths (the folder, its files, a folder above it, spaces and all); the agent's own log keeps them")
    func noPathsOnThePage() async throws {
        let (w, iin) = try await applicant(320)
        let base = w.dir + "/Private Stuff-7f3a"
        // A file where the key folder's parent should be: the folder cannot be made.
        try Data("x".utf8).write(to: URL(fileURLWithPath: base))
        let blocked = base + "/keys"
        func clean(_ message: String) -> Bool { !message.contains(w.dir) && !message.contains("Private Stuff") && !message.contains("Secret Folder") && !message.contains("/") && !message.contains(".key") }
        try await talk(.folder(blocked), Self.env, clock: w.clock) { (client) async throws in
            let answer = try await client.call(try request(1, "generate", ["iin": iin, "algorithm": "p256"]))
            #expect(code(answer) == "storage" && clean(errorMessage(answer)) && errorMessage(answer).contains("the key folder"), "\(answer)")
        }
        let agent = KeyAgent(storage: .folder(blocked), secrets: AgentSecrets(environment: Self.env, prompt: nil), clock: w.clock)
        let reply = await agent.answer(Data(try request(2, "generate", ["iin": iin, "algorithm": "p256"]).utf8), origin: page)
        #expect(reply.code == .storage && reply.notes.contains { $0.contains(blocked) }, "\(reply.notes)")
        // install with a damaged pending key: the refusal names the key's file, the page does not.
        let folder = w.dir + "/Secret Folder-9b/keys"
        let made = try await talk(.folder(folder), Self.env, clock: w.clock) { (client) async throws in try await KeyAgentTests.generate(client, iin: iin) }
        let certs = try await KeyAgentTests.file(w, iin: iin, auth: made.auth, sign: made.sign, storage: .folder)
        let damaged = folder + "/pending/" + (made.keyIDs["AUTH"] ?? "") + ".key"
        try Data("not a key".utf8).write(to: URL(fileURLWithPath: damaged))
        try await talk(.folder(folder), Self.env, clock: w.clock) { (client) async throws in
            let answer = try await client.call(try KeyAgentTests.installRequest(3, certs))
            #expect(code(answer) == "storage" && clean(errorMessage(answer)) && errorMessage(answer).contains("a file in the key folder"), "\(answer)")
        }
        let installReply = await KeyAgent(storage: .folder(folder), secrets: AgentSecrets(environment: Self.env, prompt: nil), clock: w.clock)
            .answer(Data(try KeyAgentTests.installRequest(4, certs).utf8), origin: page)
        #expect(installReply.notes.contains { $0.contains(damaged) }, "\(installReply.notes)")
        await w.close()
    }

    @Test("install again: the same certificates are written once (idempotent); another certificate for an installed key is refused by name, and the folder is as it was")
    func reinstall() async throws {
        let (w, iin) = try await applicant(330)
        let folder = w.dir + "/agent-keys"
        try await talk(.folder(folder), Self.env, clock: w.clock) { (client) async throws in
            let made = try await KeyAgentTests.generate(client, iin: iin)
            let certs = try await KeyAgentTests.file(w, iin: iin, auth: made.auth, sign: made.sign, storage: .folder)
            let names = try #require(try result(try await client.call(try KeyAgentTests.installRequest(1, certs)))["installed"] as? [String])
            let installed = try KeyAgentTests.snapshot(folder)
            #expect(try result(try await client.call(try KeyAgentTests.installRequest(2, certs)))["installed"] as? [String] == names)
            #expect(try KeyAgentTests.snapshot(folder) == installed)
            // The CA certifies the AUTH key again (a new serial): the folder keeps the certificate it has.
            let again = try w.ca.issue(csrPEM: made.auth, subject: [("CN", "ABAYEV ARMAN"), ("2.5.4.5", "IIN" + iin), ("C", "KZ")],
                                       extensions: KeyPurpose.auth.extensions(template: .individual, remote: true, urls: RevocationURLs(base: w.ca.config.baseURL)),
                                       now: w.clock.date)
            #expect(try IssuedCertificate(pem: again).serialHex != (try IssuedCertificate(pem: certs.auth).serialHex))
            let other = try request(3, "install", ["certificates": ["AUTH": again, "SIGN": certs.sign], "chain": certs.chain])
            let refused = try await client.call(other)
            #expect(code(refused) == "certificate" && errorMessage(refused).contains("the AUTH key (key id \(made.keyIDs["AUTH"] ?? "")) is installed already, with another certificate"),
                    "\(refused)")
            #expect(try KeyAgentTests.snapshot(folder) == installed)
        }
        await w.close()
    }

    @Test("install on a token: certificates naming another person's IIN than the one the keys were made for are refused, and nothing is stored")
    func tokenOtherIIN() async throws {
        try await KeyAgentTests.onToken("tulga-agent-other-iin", applicant: 340) { token, w, iin, client in
            let borrower = World.iin(350)
            try await w.person(borrower)
            let made = try await KeyAgentTests.generate(client, iin: iin)
            let certs = try await KeyAgentTests.file(w, iin: borrower, auth: made.auth, sign: made.sign, storage: .token)
            let refused = try await client.call(try KeyAgentTests.installRequest(4, certs))
            #expect(code(refused) == "certificate" && errorMessage(refused).contains("the AUTH certificate names another IIN than the one the keys were made for"),
                    "\(refused)")
            #expect(!errorMessage(refused).contains(iin) && !errorMessage(refused).contains(borrower))
            #expect(!(try token.tool(["--list-objects", "--type", "cert"]).out.contains("Certificate Object")))
        }
    }

    @Test("pending, folder: two pending keys of one purpose are storage; a key that is not its request's is skipped and named in the agent's log, not filed")
    func pendingRefusals() async throws {
        let iin = World.iin(360)
        let two = Temp.dir("tulga-review") + "/keys"
        let keys = try FolderKeyStore(directory: two, password: "Secret12@")
        _ = try keys.generate(iin: iin, algorithm: .p256)
        _ = try keys.generate(iin: iin, algorithm: .p256)
        let twice = try await pendingReply(KeyAgent(storage: .folder(two), secrets: AgentSecrets(environment: Self.env, prompt: nil), clock: ManualClock()))
        #expect(code(twice.answer) == "storage" && errorMessage(twice.answer).contains("more than one pending key of a purpose"), "\(twice.answer)")

        let swapped = Temp.dir("tulga-review") + "/keys"
        let made = try FolderKeyStore(directory: swapped, password: "Secret12@").generate(iin: iin, algorithm: .p256)
        // The AUTH key's file holds the SIGN key (under the same password): it opens, and is not the AUTH request's key.
        let sign = try Data(contentsOf: URL(fileURLWithPath: swapped + "/pending/\(made[1].keyID).key"))
        try sign.write(to: URL(fileURLWithPath: swapped + "/pending/\(made[0].keyID).key"))
        let mismatch = try await pendingReply(KeyAgent(storage: .folder(swapped), secrets: AgentSecrets(environment: Self.env, prompt: nil), clock: ManualClock()))
        #expect(code(mismatch.answer) == "no_keys", "\(mismatch.answer)")
        #expect(mismatch.notes.contains { $0.contains("pending skipped a damaged key") && $0.contains("\(made[0].keyID).key and its request do not match") },
                "\(mismatch.notes)")
    }

    @Test("a pending key that is not encrypted: tp_sealed_key_check refuses it, pending skips it and says why, install refuses it")
    func plainPendingKey() async throws {
        let (w, iin) = try await applicant(370)
        let keys = try w.keyStore("plain")
        let made = try keys.generate(iin: iin, algorithm: .p256)
        let path = keys.directory + "/pending/\(made[0].keyID).key"
        let plain = try openssl(["pkey", "-in", path, "-passin", "pass:Secret12@"])
        #expect(plain.status == 0 && plain.out.hasPrefix("-----BEGIN PRIVATE KEY-----"), "\(plain.out)")
        var id = [UInt8](repeating: 0, count: 20)
        var error = tp_error()
        #expect(tp_sealed_key_check(plain.out, "Secret12@", &id, &error) == 0 && message(error).contains("not an encrypted PKCS#8 key"), "\(message(error))")
        error = tp_error()
        #expect(tp_sealed_key_check(try String(contentsOfFile: keys.directory + "/pending/\(made[1].keyID).key", encoding: .utf8), "Secret12@", &id, &error) == 1)
        try Data(plain.out.utf8).write(to: URL(fileURLWithPath: path))
        let found = try keys.pendingKeys()
        #expect(found.requests.map(\.keyID) == [made[1].keyID])
        #expect(found.skipped.count == 1 && found.skipped[0].contains(made[0].keyID) && found.skipped[0].contains("not an encrypted PKCS#8 key"), "\(found.skipped)")
        let certs = try await KeyAgentTests.file(w, iin: iin, auth: made[0].pem, sign: made[1].pem, storage: .folder)
        #expect(throws: KeyError(.keyStore, "")) { _ = try keys.install(certs.byPurpose, chainPEM: certs.chain, at: w.clock.date) }
        #expect(!(try FileManager.default.contentsOfDirectory(atPath: keys.directory).contains { $0.hasSuffix(".p12") }))
        await w.close()
    }

    @Test("pending on a token: a damaged key (a P-384 pair labelled tulga SIGN) is skipped and named in the agent's log; every key is read, past 16")
    func tokenDamagedKey() async throws {
        let token = try SoftToken.make("tulga-pending-damaged")
        let iin = World.iin(380)
        let made = try token.store.generate(iin: iin, algorithm: .p256)
        let damaged = String(repeating: "ab", count: 20)
        let made384 = try token.tool(["--keypairgen", "--key-type", "EC:secp384r1", "--label", "tulga SIGN", "--id", damaged])
        #expect(made384.status == 0, "\(made384.out)")
        let found = try token.store.pendingKeys()
        #expect(found.requests.map(\.keyID) == made.map(\.keyID))
        #expect(found.skipped.count == 1 && found.skipped[0].contains(damaged), "\(found.skipped)")
        let agent = KeyAgent(storage: .token(module: SoftToken.module, label: token.label), secrets: AgentSecrets(environment: ["TULGA_TOKEN_PIN": token.pin], prompt: nil),
                             clock: ManualClock())
        let pending = try await pendingReply(agent)
        #expect(try result(pending.answer)["keyIDs"] as? [String: String] == ["AUTH": made[0].keyID, "SIGN": made[1].keyID])
        #expect(pending.notes.contains { $0.contains("pending skipped a damaged key") && $0.contains(damaged) }, "\(pending.notes)")
        // Seventeen more keys labelled "tulga …" (not ours: no purpose): all twenty are listed, none left out unsaid.
        for n in 1...17 {
            let extra = try token.tool(["--keypairgen", "--key-type", "EC:prime256v1", "--label", "tulga extra", "--id", String(format: "%040x", n)])
            #expect(extra.status == 0, "\(extra.out)")
        }
        let ids = try token.store.session { try TokenKeyStore.keyIDs($0) }
        #expect(ids.count == 20 && Set(ids.map { hex($0) }).isSuperset(of: made.map(\.keyID) + [damaged]), "\(ids.count)")
        #expect(try token.store.pendingKeys().requests.map(\.keyID) == made.map(\.keyID))
    }

    @Test("install and pending read a token's keys without signing: through pkcs11-spy, C_SignInit only for the two requests made again before install")
    func readOnlyChecks() async throws {
        let spy = try #require(SoftToken.spy, "OpenSC's pkcs11-spy.so is not installed")
        let anchor = try SoftToken.make("tulga-spy-anchor")
        let token = try SoftToken.make("tulga-spy")
        let (w, made, certs) = try await TokenTests.issued(on: token, iin: World.iin(390))
        // A session through SoftHSM's own module stays open meanwhile: SoftHSM is initialised by it, so
        // closing the spy's module never finalises SoftHSM under the other tests.
        try anchor.store.session { _ in
            let spied = TokenKeyStore(module: spy, label: token.label, pin: token.pin)
            let start = SoftToken.spyCount("C_SignInit")
            #expect(try spied.pendingKeys().requests.map(\.keyID) == made.map(\.keyID))
            #expect(SoftToken.spyCount("C_SignInit") == start + 2, "the two requests filed again are signed")
            #expect(try spied.install(certs.byPurpose, chainPEM: certs.chain, at: w.clock.date).count == 2)
            #expect(SoftToken.spyCount("C_SignInit") == start + 2, "install signed something")
            #expect(try spied.pendingKeys().requests.isEmpty)
            _ = try spied.install(certs.byPurpose, chainPEM: certs.chain, at: w.clock.date)
            #expect(SoftToken.spyCount("C_SignInit") == start + 2, "pending or a second install signed something")
            #expect(SoftToken.spyCount("C_Login") > 0, "the spy logged nothing")
        }
        await w.close()
    }
}
