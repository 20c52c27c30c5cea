import Foundation
import Testing
import TulgaCrypto
import TulgaPolicy
import TulgaStorage
import TulgaCore
import TulgaFlow
import TulgaRegistry
import TulgaModeration
import TulgaAttempts
import TulgaDigitalID
import TulgaTestSupport
import TulgaAPIKeys
import TulgaFace
import TulgaFaceModel

/// A scratch folder with its own SQLite database, key and config for CLI runs.
struct Workspace {
    let dir: String
    let video = CLI.root + "/../shared/fixtures/video/lin_manuel_miranda_head_turns.mp4"
    static let lin = "850314300013", obama = "850314300023"
    /// The database the commands use: this folder's SQLite file unless a test names another (PostgreSQL).
    var location: String?

    init(database location: String? = nil) throws {
        self.location = location
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("tulga-cli-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir + "/photos", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: CLI.photos + "obama.jpg", toPath: dir + "/photos/obama.jpg")
        try FileManager.default.copyItem(atPath: CLI.root + "/../shared/fixtures/faces/lin_manuel_miranda_f095.png", toPath: dir + "/photos/lin.png")
        try """
        iin,surname,given_name,document_number,phone,photo
        \(Self.lin),Miranda,Lin,N01234567,+77010000001,lin.png
        \(Self.obama),Obama,Barack,N07654321,+77010000002,obama.jpg
        """.write(toFile: dir + "/registry.csv", atomically: true, encoding: .utf8)
        try ServiceKeys.create(folder: dir + "/keys")
        // Accept only near-identical faces, so a genuine attempt goes to moderation.
        try #"{"policy": {"acceptThreshold": 0.95, "reviewThreshold": 0.30}}"#.write(toFile: dir + "/strict.json", atomically: true, encoding: .utf8)
    }

    var database: String { dir + "/tulga.sqlite" }
    var storeArgs: [String] { ["--database", location ?? database, "--keys", dir + "/keys", "--models", CLI.root + "/Models"] }

    func run(_ args: [String], env: [String: String] = [:]) throws -> CLI.Result {
        try CLI.run(args + storeArgs, environment: env, directory: dir)
    }

    func moderator(_ id: String, role: String = "moderator", secret: String, iin: String) throws {
        let r = try run(["moderator", "add", id, "--role", role, "--iin", iin], env: ["TULGA_NEW_MODERATOR_SECRET": secret])
        #expect(r.status == 0, "\(r.stderr)")
    }

    /// The registry imported, a kiosk key, and `tulga serve` on a random port, listening (its own
    /// word, not an amount of time).
    func kioskServer(env: [String: String] = [:]) throws -> (server: Process, log: Pipe, key: String, port: Int) {
        #expect(try run(["registry", "import", "--csv", dir + "/registry.csv", "--photos", dir + "/photos"]).status == 0)
        let key = String(repeating: "s", count: 40)
        #expect(try run(["apikey", "add", "kiosk", "--scopes", "kiosk"], env: ["TULGA_NEW_API_KEY": key]).status == 0)
        let port = Int.random(in: 20000...40000)
        let server = Process()
        server.executableURL = URL(fileURLWithPath: CLI.binary)
        server.arguments = ["serve", "--port", "\(port)"] + storeArgs
        server.environment = ProcessInfo.processInfo.environment.merging(env) { $1 }
        server.currentDirectoryURL = URL(fileURLWithPath: dir)
        let log = Pipe()
        server.standardError = log
        try server.run()
        #expect(waitFor("listening", in: log.fileHandleForReading))
        return (server, log, key, port)
    }

    func store(clock: any WallClock = SystemClock()) async throws -> Records {
        try await Records.open(database: try await Backend.open(location ?? database), keys: try ServiceKeys(folder: dir + "/keys"), clock: clock)
    }
}

@Suite("tulga registry, attempt, moderate, digitalid, purge and audit", .serialized)
struct StoreCommandTests {
    @Test("registry import embeds each photo once and keeps the embedding sealed; a photo without a face is imported and named")
    func registryImportEmbeds() async throws {
        let w = try Workspace()
        let blank = try Image(bgr: [UInt8](repeating: 128, count: 200 * 200 * 3), width: 200, height: 200).pngData()
        try blank.write(to: URL(fileURLWithPath: w.dir + "/photos/blank.png"))
        try (try String(contentsOfFile: w.dir + "/registry.csv", encoding: .utf8) + "\n850314300033,Blank,Face,N0000001,,blank.png\n")
            .write(toFile: w.dir + "/registry.csv", atomically: true, encoding: .utf8)
        let run = try w.run(["registry", "import", "--csv", w.dir + "/registry.csv", "--photos", w.dir + "/photos"])
        #expect(run.status == 0 && run.stdout.contains("imported 3 of 3 rows"), "\(run.stdout)\(run.stderr)")
        #expect(run.stdout.contains("imported without a face embedding") && run.stdout.contains("line 4"))
        let store = try await w.store(clock: ManualClock())
        let engine = try FaceEngine(config: FaceConfig(modelsDirectory: CLI.root + "/Models"))
        let models = try FaceModels.fingerprint(engine.config)
        let entry = try #require(try await store.registry.entry(Workspace.lin))
        let reference = try #require(entry.reference)
        #expect(reference.fits(photo: entry.photo, models: models))
        let fresh = try AttemptRunner.referenceEmbedding(engine, photo: entry.photo)
        #expect(Embedding(reference.values).cosine(fresh) > 0.9999)
        #expect(try await store.registry.entry("850314300033")?.reference == nil)
        await store.database.close()
    }

    @Test("registry import skips bad rows with the reason and exits 2")
    func registryImport() throws {
        let w = try Workspace()
        try "iin,surname,given_name,document_number,phone,photo\n850314300024,X,Y,N1,,obama.jpg\n850314300013,X,Y,N1,,missing.jpg\n"
            .write(toFile: w.dir + "/bad.csv", atomically: true, encoding: .utf8)
        let bad = try w.run(["registry", "import", "--csv", w.dir + "/bad.csv", "--photos", w.dir + "/photos"])
        #expect(bad.status == 2)
        #expect(bad.stdout.contains("check digit is 4, expected 3"))
        #expect(bad.stdout.contains("no photo at"))
        let good = try w.run(["registry", "import", "--csv", w.dir + "/registry.csv", "--photos", w.dir + "/photos"])
        #expect(good.status == 0 && good.stdout.contains("imported 2 of 2 rows"))
        try "surname,iin\n".write(toFile: w.dir + "/wrong.csv", atomically: true, encoding: .utf8)
        #expect(try w.run(["registry", "import", "--csv", w.dir + "/wrong.csv", "--photos", w.dir]).status == 3)
    }

    @Test("an attempt passes, a replay and an impostor fail, the Digital ID exists, the PIN is set")
    func attempts() throws {
        let w = try Workspace()
        _ = try w.run(["registry", "import", "--csv", w.dir + "/registry.csv", "--photos", w.dir + "/photos"])
        let pass = try w.run(["attempt", "--iin", Workspace.lin, "--video", w.video, "--prompts", "turn_right", "--json"])
        #expect(pass.status == 0, "\(pass.stdout)\(pass.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(pass.stdout.utf8)) as? [String: Any])
        #expect(json["outcome"] as? String == "pass" && json["attemptsLeft"] as? Int == 5)
        let replay = try w.run(["attempt", "--iin", Workspace.lin, "--video", w.video, "--prompts", "turn_right"])
        #expect(replay.status == 1 && replay.stdout.contains("already used in another session"))
        let impostor = try w.run(["attempt", "--iin", Workspace.obama, "--video", w.video, "--prompts", "turn_right"])
        #expect(impostor.status == 1 && impostor.stdout.contains("below the review threshold"), "\(impostor.stdout)")
        #expect(try w.run(["attempt", "--iin", "850314300024", "--video", w.video]).status == 3)

        let show = try w.run(["digitalid", "show", Workspace.lin])
        #expect(show.status == 0 && show.stdout.contains("verified by automatic"))
        #expect(try w.run(["digitalid", "set-pin", Workspace.lin], env: ["TULGA_PIN": "123456"]).status == 3)
        let setPIN = try w.run(["digitalid", "set-pin", Workspace.lin], env: ["TULGA_PIN": "402719"])
        #expect(setPIN.status == 0 && !setPIN.stdout.contains("402719") && !setPIN.stderr.contains("402719"))
        let consent = try w.run(["digitalid", "consent-grant", Workspace.lin, "--days", "30"], env: ["TULGA_PIN": "402719"])
        #expect(consent.status == 0 && consent.stdout.contains("consent consent-"))
        #expect(try w.run(["digitalid", "consent-grant", Workspace.lin], env: ["TULGA_PIN": "000001"]).stderr.contains("wrong PIN; 4 tries left"))
        #expect(try w.run(["inperson", "accept", Workspace.obama, "--operator", "op"]).stderr.contains("opens after 5 failed attempts; 1 recorded"))
    }

    @Test("the kiosk with --iin: one counted attempt through the attempt runner; a Digital ID on a pass, a case in the review band, the outcome in ru/kk/en")
    func kioskWithRecords() throws {
        let w = try Workspace()
        _ = try w.run(["registry", "import", "--csv", w.dir + "/registry.csv", "--photos", w.dir + "/photos"])
        let pass = try w.run(["kiosk", "--iin", Workspace.lin, "--source", w.video, "--prompts", "turn_right", "--lang", "en"])
        #expect(pass.status == 0 && pass.stdout.contains("Identity confirmed: your Digital ID is created"), "\(pass.stdout)\(pass.stderr)")
        #expect(try w.run(["digitalid", "show", Workspace.lin]).stdout.contains("verified by automatic"))
        // Someone else at the kiosk for Obama's record: a counted failure, in Kazakh, with the attempts left.
        let impostor = try w.run(["kiosk", "--iin", Workspace.obama, "--source", w.video, "--prompts", "turn_right", "--lang", "kk", "--json"])
        #expect(impostor.status == 1)
        #expect(impostor.stderr.contains("Жеке басыңыз расталмады. Қайталап көруге болады (қалған әрекеттер: 4)"), "\(impostor.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(impostor.stdout.utf8)) as? [String: Any])
        #expect(report["outcome"] as? String == "fail" && report["attemptsLeft"] as? Int == 4)
        #expect(try w.run(["digitalid", "show", Workspace.obama]).status != 0)

        // The review band (accept raised to 0.95): a moderation case, in Russian.
        let v = try Workspace()
        _ = try v.run(["registry", "import", "--csv", v.dir + "/registry.csv", "--photos", v.dir + "/photos"])
        let review = try v.run(["kiosk", "--iin", Workspace.lin, "--source", v.video, "--prompts", "turn_right", "--config", v.dir + "/strict.json"])
        #expect(review.status == 2 && review.stdout.contains("отправлено на проверку модератору"), "\(review.stdout)\(review.stderr)")
        #expect(try v.run(["digitalid", "show", Workspace.lin]).status != 0)
        // --reference stays an offline demonstration: nothing recorded.
        let demo = try v.run(["kiosk", "--reference", v.dir + "/photos/lin.png", "--source", v.video, "--prompts", "turn_right"])
        #expect(demo.status == 0)
        #expect(try v.run(["kiosk", "--iin", Workspace.lin, "--reference", v.dir + "/photos/lin.png", "--source", v.video]).status == 3)
    }

    @Test("a moderator reviews a flagged case from the CLI; roles and credentials are checked")
    func moderation() throws {
        let w = try Workspace()
        _ = try w.run(["registry", "import", "--csv", w.dir + "/registry.csv", "--photos", w.dir + "/photos"])
        let review = try w.run(["attempt", "--iin", Workspace.lin, "--video", w.video, "--prompts", "turn_right", "--config", w.dir + "/strict.json", "--json"])
        #expect(review.status == 2, "\(review.stdout)\(review.stderr)")
        let caseID = try #require((try JSONSerialization.jsonObject(with: Data(review.stdout.utf8)) as? [String: Any])?["caseID"] as? String)

        try w.moderator("alice", secret: "alice-secret-0001", iin: "900101300017")
        try w.moderator("lin", secret: "lin-secret-000001", iin: Workspace.lin)
        try w.moderator("boss", role: "supervisor", secret: "boss-secret-00001", iin: "900101300027")
        let alice = ["TULGA_MODERATOR_ID": "alice", "TULGA_MODERATOR_SECRET": "alice-secret-0001"]
        try #"{"id": "lin", "secret": "lin-secret-000001"}"#.write(toFile: w.dir + "/lin.json", atomically: true, encoding: .utf8)

        let wrong = try w.run(["moderate", "list"], env: ["TULGA_MODERATOR_ID": "alice", "TULGA_MODERATOR_SECRET": "nope-nope-nope"])
        #expect(wrong.status == 3 && wrong.stderr.contains("unknown moderator or wrong secret"))
        #expect(try w.run(["moderate", "list"]).stderr.contains("moderator credentials missing"))

        let list = try w.run(["moderate", "list", "--state", "open"], env: alice)
        #expect(list.status == 0 && list.stdout.contains(caseID) && list.stdout.contains("1 case(s)"))

        // The evidence is for the moderator who holds the claim.
        #expect(try w.run(["moderate", "show", caseID, "--output", w.dir + "/review"], env: alice).stderr.contains("claim the case to see its evidence"))
        let own = try w.run(["moderate", "claim", caseID, "--credentials", w.dir + "/lin.json"])
        #expect(own.status == 3 && own.stderr.contains("nobody may decide a case about themselves"))
        #expect(try w.run(["moderate", "approve", caseID, "--reason", "ok"], env: alice).stderr.contains("claim the case before deciding it"))
        #expect(try w.run(["moderate", "claim", caseID], env: alice).status == 0)
        let show = try w.run(["moderate", "show", caseID, "--output", w.dir + "/review"], env: alice)
        #expect(show.status == 0, "\(show.stderr)")
        let png = w.dir + "/review/\(caseID).png"
        #expect(show.stdout.contains("comparison \(png)"))
        let bytes = try #require(FileManager.default.contents(atPath: png))
        #expect(bytes.starts(with: [0x89, 0x50, 0x4E, 0x47]) && bytes.count > 10_000)
        #expect(try w.run(["moderate", "reassign", caseID, "--to", "boss"], env: alice).stderr.contains("may not reassign"))
        #expect(try w.run(["moderate", "approve", caseID, "--reason", " "], env: alice).status == 3)
        let approve = try w.run(["moderate", "approve", caseID, "--reason", "same person"], env: alice)
        #expect(approve.status == 0 && approve.stdout.contains("\(caseID) approved"))
        let stats = try w.run(["moderate", "stats"], env: ["TULGA_MODERATOR_ID": "boss", "TULGA_MODERATOR_SECRET": "boss-secret-00001"])
        #expect(stats.stdout.contains("approved 1") && stats.stdout.contains("alice: 1 decision(s)"))
        #expect(try w.run(["digitalid", "show", Workspace.lin]).stdout.contains("verified by moderator:alice"))
        #expect(try w.run(["audit", "verify"]).stdout.contains("audit log intact"))
        #expect(try w.run(["purge", "--older-than", "0d"]).stdout.contains("purged the evidence of 1 decided case(s)"))
        #expect(try w.run(["purge", "--older-than", "soon"]).status == 3)
    }

    @Test("apikey add, list, revoke and rotate; no secret is shown again or stored")
    func apiKeys() async throws {
        let w = try Workspace()
        let key = String(repeating: "w", count: 40)
        let add = try w.run(["apikey", "add", "desk-1", "--scopes", "kiosk,issuance", "--expires-days", "30"], env: ["TULGA_NEW_API_KEY": key])
        #expect(add.status == 0 && add.stdout.contains("until "), "\(add.stderr)")
        #expect(try w.run(["apikey", "add", "short", "--scopes", "kiosk"], env: ["TULGA_NEW_API_KEY": "short"]).status == 3)
        let id = APIKeyRecords.id(of: key)
        let list = try w.run(["apikey", "list"])
        #expect(list.stdout.contains(id) && list.stdout.contains("desk-1") && list.stdout.contains("issuance,kiosk") && !list.stdout.contains(key))
        let rotate = try w.run(["apikey", "rotate", id])
        #expect(rotate.status == 0 && rotate.stdout.contains("\(id) revoked; new key"), "\(rotate.stderr)")
        let printed = try #require(rotate.stdout.split(separator: "\n").last.map(String.init))
        #expect(printed.count == 43 && printed != key)
        let store = try await w.store()
        #expect(try await store.apiKeys.authenticate(printed)?.name == "desk-1")
        #expect(try await store.apiKeys.authenticate(key) == nil)
        await store.database.close()
        #expect(try w.run(["apikey", "revoke", APIKeyRecords.id(of: printed)]).status == 0)
        #expect(try w.run(["apikey", "revoke", "0000000000000000"]).stderr.contains("no API key"))
        let json = try w.run(["apikey", "list", "--json"])
        #expect(json.stdout.components(separatedBy: "revokedAt").count - 1 == 2, "\(json.stdout)")
        // Nothing in the database file is the key or its SHA-256.
        let bytes = try Data(contentsOf: URL(fileURLWithPath: w.database))
        #expect(bytes.range(of: Data(printed.utf8)) == nil && bytes.range(of: Data(sha256Hex(printed).utf8)) == nil)
    }

    @Test("tulga init makes the keys once (moving an older evidence key in); other commands refuse without them; checkpoints and rotation from the command line")
    func initAndSecrets() async throws {
        let w = try Workspace()
        let home = w.dir + "/home"
        try FileManager.default.createDirectory(atPath: home + "/var", withIntermediateDirectories: true)
        func tulga(_ args: [String]) throws -> CLI.Result { try CLI.run(args + ["--models", CLI.root + "/Models"], directory: home) }
        let refused = try tulga(["apikey", "list"])
        #expect(refused.status == 3 && refused.stderr.contains("no evidence key at var/keys/evidence.key; run tulga init"))
        #expect(!FileManager.default.fileExists(atPath: home + "/var/keys/evidence.key") && !FileManager.default.fileExists(atPath: home + "/var/tulga.sqlite"))
        let legacy = Data((0..<32).map { UInt8($0) })
        try legacy.write(to: URL(fileURLWithPath: home + "/var/evidence.key"))
        let first = try tulga(["init"])
        #expect(first.status == 0 && first.stdout.contains("moved from var/evidence.key") && first.stdout.contains("created var/keys/audit-signing.key"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: home + "/var/keys/evidence.key")) == legacy)
        let publicKey = try tulga(["audit", "public-key"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(first.stdout.contains(publicKey) && Data(base64Encoded: publicKey)?.count == 32)
        let again = try tulga(["init"])
        #expect(again.status == 0 && again.stdout.contains("every key was there already"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: home + "/var/keys/evidence.key")) == legacy)

        #expect(try tulga(["registry", "import", "--csv", w.dir + "/registry.csv", "--photos", w.dir + "/photos"]).status == 0)
        #expect(try tulga(["audit", "checkpoint"]).stdout.contains("checkpoint at row 3"))   // the keyed log's first row, two imports
        #expect(try tulga(["audit", "verify"]).stdout.contains("audit log intact: 3 rows, 2 checkpoint(s) agree"))   // init signed the first
        // Truncated with the head set back: only the checkpoint can tell.
        let db = try SQLiteDatabase(path: home + "/var/tulga.sqlite")
        try await db.transaction { s in
            try s.execute("DELETE FROM audit_log WHERE seq = 3")
            try s.execute("UPDATE audit_log_head SET seq = 2, mac = (SELECT mac FROM audit_log WHERE seq = 2)")
        }
        await db.close()
        let truncated = try tulga(["audit", "verify"])
        #expect(truncated.status == 1 && truncated.stdout.contains("rows were removed"))
        // An emptied checkpoint folder is not taken for a log that never had one.
        try FileManager.default.createDirectory(atPath: home + "/empty", withIntermediateDirectories: true)
        #expect(try tulga(["audit", "verify", "--checkpoints", home + "/empty"]).stdout.contains("holds no checkpoint"))
        #expect(try tulga(["audit", "verify", "--checkpoints", home + "/none"]).stderr.contains("no checkpoint folder"))

        // Rotation: a new key; at reseal the photos and their embeddings move to it and the old one goes.
        let rotated = try tulga(["secrets", "rotate", "evidence"])
        #expect(rotated.status == 0 && rotated.stdout.contains("restart every node, then run tulga secrets reseal"), "\(rotated.stderr)")
        let resealed = try tulga(["secrets", "reseal"])
        #expect(resealed.status == 0 && resealed.stdout.contains("evidence: re-sealed 4 row(s)") && resealed.stdout.contains("evidence: removed retired key"))
        let status = try tulga(["secrets", "status"]).stdout
        #expect(status.contains("retired: none  rows under other keys: 0  API-key lookups under other keys: 0"))
        #expect(try tulga(["attempt", "--iin", Workspace.lin, "--video", w.video, "--prompts", "turn_right"]).status == 0)
        #expect(try FileManager.default.contentsOfDirectory(atPath: home + "/var/keys").sorted() == ["audit-signing.key", "audit.key", "bound", "evidence.key", "outbox.key"])
    }

    @Test("audit verify finds a tampered row")
    func tamper() async throws {
        let w = try Workspace()
        _ = try w.run(["registry", "import", "--csv", w.dir + "/registry.csv", "--photos", w.dir + "/photos"])
        #expect(try w.run(["audit", "verify"]).status == 0)
        let db = try SQLiteDatabase(path: w.database)
        try await db.transaction { s in try s.execute("UPDATE audit_log SET actor = 'someone-else' WHERE seq = 1") }
        await db.close()
        let r = try w.run(["audit", "verify"])
        #expect(r.status == 1 && r.stdout.contains("BROKEN at row 1"))
    }

    @Test("kill -9 in the middle of a batch of decisions loses nothing and leaves nothing half-written")
    func killMidBatch() async throws {
        let w = try Workspace()
        let store = try await w.store()
        let count = 300
        let m = Moderator(id: "alice", role: .moderator, iin: "900101300017")
        try await store.moderation.addModerator(id: "alice", role: .moderator, secret: "alice-secret-0001", iin: "900101300017")
        var ids: [String] = []
        for i in 0..<count {
            let iin = "85031430\(String(format: "%04d", i))"
            try await store.registry.upsert(RegistryEntry(iin: iin, surname: "S", givenName: "G", documentNumber: "N\(i)", photo: Data([1])))
            let t = try await store.attempts.begin(iin: iin)
            let c = try #require(try await store.runner.record(t, outcome: .review, score: 0.33, livenessPassed: true, reason: "band",
                                                               evidence: Evidence(selfie: Data([2]), reference: Data([3]), livenessReport: nil)).caseID)
            _ = try await store.moderation.claim(c, as: m)
            ids.append(c)
        }
        await store.database.close()

        let process = Process()
        process.executableURL = URL(fileURLWithPath: CLI.binary)
        process.arguments = ["moderate", "approve"] + ids + ["--reason", "batch"] + w.storeArgs
        var env = ProcessInfo.processInfo.environment
        env["TULGA_MODERATOR_ID"] = "alice"
        env["TULGA_MODERATOR_SECRET"] = "alice-secret-0001"
        process.environment = env
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        // Wait for the first committed decision (the command writes each one unbuffered), then kill -9.
        var seen = Data()
        while !(String(decoding: seen, as: UTF8.self).contains("approved")) {
            let chunk = out.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            seen += chunk
        }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        #expect(process.terminationReason == .uncaughtSignal)

        let after = try await w.store()
        let cases = try await after.moderation.list(as: m)
        let approved = cases.filter { $0.state == .approved }
        #expect(approved.count > 0 && approved.count < count, "approved \(approved.count) of \(count): the kill must land mid-batch")
        #expect(cases.allSatisfy { $0.state == .approved || $0.state == .claimed })
        let sms = try await after.outbox()
        #expect(sms.count == approved.count)
        for c in cases {
            let hasID = try await after.digitalIDs.record(c.iin) != nil
            #expect(hasID == (c.state == .approved), "\(c.id): \(c.state) but Digital ID \(hasID)")
        }
        let audit = try await after.auditEntries()
        #expect(audit.filter { $0.action == "case.approve" }.count == approved.count)
        #expect(try await after.verifyAudit().intact)
        await after.database.close()
    }
}

@Suite("tulga serve", .serialized)
struct ServeTests {
    @Test("kill -9 with five sessions open: the attempts are released once their leases expire, never counted", arguments: Backend.allCases)
    func killedWithSessionsOpen(backend: Backend) async throws {
        let w = try Workspace(database: try await backend.freshLocation())
        let (server, _, first, port) = try w.kioskServer()
        // Five kiosks (a key has one live session per IIN), each starting a session for Lin.
        var keys = [first]
        for letter in ["a", "b", "c", "d"] {
            let key = String(repeating: letter, count: 40)
            #expect(try w.run(["apikey", "add", "kiosk-" + letter, "--scopes", "kiosk"], env: ["TULGA_NEW_API_KEY": key]).status == 0)
            keys.append(key)
        }
        for key in keys {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
            p.arguments = ["-s", "-o", "/dev/null", "-w", "%{http_code}", "-H", "X-API-Key: \(key)", "-X", "POST", "http://127.0.0.1:\(port)/v1/verifications",
                           "-d", #"{"iin":"\#(Workspace.lin)"}"#]
            let out = Pipe()
            p.standardOutput = out
            try p.run()
            let code = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            p.waitUntilExit()
            #expect(code == "201")
        }
        kill(server.processIdentifier, SIGKILL)
        server.waitUntilExit()
        #expect(server.terminationReason == .uncaughtSignal)

        // The store as the next process finds it, on a clock the test moves: five attempts still
        // hold their leases, so none is free yet, and none is a failure.
        let clock = ManualClock(Date().timeIntervalSince1970)
        let store = try await w.store(clock: clock)
        let held = try await store.attempts.status(Workspace.lin)
        #expect(held.running == 5 && held.failures == 0 && held.attemptsLeft == 0)
        await #expect(throws: AttemptError(.attemptsExhausted, "")) { _ = try await store.attempts.begin(iin: Workspace.lin) }
        // Past the lease (15 minutes): the start-up pass releases them, and the citizen starts again.
        clock.advance(store.settings.attempts.leaseSeconds + 1)
        #expect(try await store.attempts.releaseExpiredLeases() == 5)
        let freed = try await store.attempts.status(Workspace.lin)
        #expect(freed.running == 0 && freed.failures == 0 && freed.attemptsLeft == 5 && !freed.inPersonUnlocked)
        _ = try await store.attempts.begin(iin: Workspace.lin)
        let audit = try await store.auditEntries()
        #expect(audit.filter { $0.action == "attempt.lease_expired" }.count == 5)
        #expect(try await store.verifyAudit().intact)
        await store.database.close()
    }

    @Test("SIGTERM lets an in-flight request finish and leaves no attempt running")
    func gracefulShutdown() async throws {
        let w = try Workspace()
        let (server, serverLog, key, port) = try w.kioskServer(env: ["LOG_LEVEL": "debug"])   // "request started" lines
        func curl(_ args: [String]) throws -> String { try ServeLogTests.curl(["-H", "X-API-Key: \(key)"] + args) }
        #expect(try curl(["http://127.0.0.1:\(port)/health/ready"]).contains("\"ready\""))
        let created = try curl(["-X", "POST", "http://127.0.0.1:\(port)/v1/verifications", "-d", #"{"iin":"\#(Workspace.lin)"}"#])
        let sid = try #require((try JSONSerialization.jsonObject(with: Data(created.utf8)) as? [String: Any])?["sessionId"] as? String)

        // A clip may not be longer than the session has existed on the server's (real) clock: the upload
        // is sent at 100 kB/s, so the 760 kB clip arrives well after the fixture's 4.3 s. A slower machine only adds time.
        // Upload the clip (about half a second of work) and send SIGTERM while it runs.
        let upload = Process()
        upload.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        upload.arguments = ["-s", "-v", "--limit-rate", "100K", "-o", w.dir + "/upload.json", "-w", "%{http_code}", "-H", "X-API-Key: \(key)",
                            "--data-binary", "@" + w.video,
                            "http://127.0.0.1:\(port)/v1/verifications/\(sid)/clip"]
        let status = Pipe(), trace = Pipe()
        upload.standardOutput = status
        upload.standardError = trace
        try upload.run()
        // SIGTERM once curl has sent the whole clip and the server has started on the request.
        #expect(waitFor("completely uploaded", in: trace.fileHandleForReading))
        #expect(waitFor("{id}/clip", in: serverLog.fileHandleForReading))
        server.terminate()   // SIGTERM
        let code = String(decoding: status.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        upload.waitUntilExit()
        server.waitUntilExit()
        #expect(code == "200", "the in-flight upload must complete")
        #expect(server.terminationStatus == 0 && server.terminationReason == .exit)
        let store = try await w.store()
        let applicant = try await store.attempts.status(Workspace.lin)
        #expect(applicant.running == 0 && applicant.failures == 0)
        #expect(try await store.verifyAudit().intact)
        await store.database.close()
    }
}

/// Reads `handle` until a chunk contains `text` (true) or the writer closes it (false).
func waitFor(_ text: String, in handle: FileHandle) -> Bool {
    var seen = ""
    while true {
        let chunk = handle.availableData
        if chunk.isEmpty { return false }
        seen += String(decoding: chunk, as: UTF8.self)
        if seen.contains(text) { return true }
        if seen.count > 1 << 20 { seen = String(seen.suffix(4096)) }
    }
}
