import Crypto
import Foundation
import Logging
import Testing
import TulgaAPIKeys
import TulgaAttempts
import TulgaCore
import TulgaCrypto
@testable import TulgaFlow
import TulgaIssuance
import TulgaModeration
import TulgaPolicy
import TulgaRegistry
@testable import TulgaStorage
import TulgaTestSupport

/// Records on `backend` with their keys in a folder of their own, so a test can sign checkpoints and rotate.
struct KeyedHarness {
    let store: Records
    let clock: ManualClock
    let keys: String
    let checkpoints: String
    var database: any SQLDatabase { store.database }
    var signer: AuditSigner { get throws { try AuditSigner(folder: keys) } }
    var check: CheckpointCheck { get throws { CheckpointCheck(folder: checkpoints, publicKey: try signer.publicKey) } }

    static func make(_ backend: Backend, database: (any SQLDatabase)? = nil) async throws -> KeyedHarness {
        let dir = Temp.dir("tulga-secrets"), clock = ManualClock()
        let keys = try ServiceKeys.scratch(dir + "/keys")
        let opened: any SQLDatabase
        if let database { opened = database } else { opened = try await backend.open() }
        let store = try await Records.open(database: opened, keys: keys, clock: clock)
        return KeyedHarness(store: store, clock: clock, keys: dir + "/keys", checkpoints: dir + "/checkpoints")
    }

    func checkpoint() async throws -> AuditCheckpoint? {
        try await AuditLog.checkpoint(database, key: store.keys.audit, signer: try signer, folder: checkpoints, at: clock.now())
    }
}

func withKeyed(_ backend: Backend, _ body: (KeyedHarness) async throws -> Void) async throws {
    let h = try await KeyedHarness.make(backend)
    do { try await body(h) } catch {
        await h.database.close()
        throw error
    }
    await h.database.close()
}

@Suite("Records that cannot be rewritten and secrets that do not leak at rest")
struct SecretsAtRestTests {
    @Test("the audit log: keyed MACs catch edits and rewrites without the key; signed checkpoints catch truncation and rewrites with it",
          arguments: Backend.allCases)
    func keyedAudit(backend: Backend) async throws {
        try await withKeyed(backend) { h in
            // Row 1 is the keyed log's first row (audit.keyed), written by the migration.
            for i in 40..<44 { try await People.register(h.store, People.iin(i)) }
            #expect(try await h.checkpoint()?.seq == 5)
            #expect(try await h.checkpoint() == nil)   // the head has one already
            for i in 44..<46 { try await People.register(h.store, People.iin(i)) }
            #expect(try await h.checkpoint()?.seq == 7)
            var check = try await h.store.verifyAudit(checkpoints: try h.check)
            #expect(check.intact && check.rows == 7 && check.checkpoints == 2 && check.newestCheckpoint == 7)
            let rows = try await h.database.transaction { db in try db.query("SELECT * FROM audit_log ORDER BY seq", []) }

            // Truncation: the last two rows deleted and the head set back. The chain alone cannot tell…
            try await h.database.transaction { db in
                try db.execute("DELETE FROM audit_log WHERE seq > 5")
                try db.execute("UPDATE audit_log_head SET seq = 5, mac = ?", [rows[4]["mac"]])
            }
            #expect(try await h.store.verifyAudit().intact)
            // …nor may a checkpoint be signed over it, and the checkpoint at row 7 tells.
            await #expect(throws: StorageError(.auditBroken, "")) { try await h.checkpoint() }
            check = try await h.store.verifyAudit(checkpoints: try h.check)
            #expect(!check.intact && check.problem?.contains("rows were removed") == true)
            try await h.database.transaction { db in
                for row in rows.suffix(2) {
                    try db.execute("INSERT INTO audit_log (seq, at, actor, action, subject, detail, mac) VALUES (?, ?, ?, ?, ?, ?, ?)",
                                   ["seq", "at", "actor", "action", "subject", "detail", "mac"].map { row[$0] })
                }
                try db.execute("UPDATE audit_log_head SET seq = 7, mac = ?", [rows[6]["mac"]])
            }
            #expect(try await h.store.verifyAudit(checkpoints: try h.check).intact)
            // A row outside the sequence (seq 0) belongs to no chain.
            try await h.database.transaction { db in
                try db.execute("INSERT INTO audit_log (seq, at, actor, action, subject, detail, mac) VALUES (0, 1, 'moderator:m', 'case.approve', 'x', '', 'ab')")
            }
            check = try await h.store.verifyAudit()
            #expect(!check.intact && check.problem?.contains("outside it") == true)
            try await h.database.transaction { db in try db.execute("DELETE FROM audit_log WHERE seq = 0") }

            // A full rewrite without the audit key (new actor on row 2, every "MAC" recomputed as SHA-256): the MACs catch it.
            func rewrite(actor: String, mac: @escaping @Sendable (Data) -> String) async throws {
                try await h.database.transaction { db in
                    var prev = AuditLog.genesis
                    for row in rows {
                        let seq = row["seq"].int ?? 0, who = seq == 2 ? actor : row["actor"].text ?? ""
                        let next = mac(AuditLog.fields(prev: prev, seq: seq, at: row["at"].double ?? 0, actor: who, action: row["action"].text ?? "",
                                                       subject: row["subject"].text ?? "", detail: row["detail"].text ?? ""))
                        try db.execute("UPDATE audit_log SET actor = ?, mac = ? WHERE seq = ?", [.text(who), .text(next), .int(Int64(seq))])
                        prev = next
                    }
                    try db.execute("UPDATE audit_log_head SET mac = ?", [.text(prev)])
                }
            }
            try await rewrite(actor: "someone else") { sha256Hex($0) }
            check = try await h.store.verifyAudit()
            #expect(!check.intact && check.brokenAt == 1 && check.problem?.contains("edited") == true)
            // The same with the audit key but not the signing key: the chain checks out, the checkpoints do not.
            let auditKey = try AuditKey(folder: h.keys, environment: [:])
            try await rewrite(actor: "someone else") { auditKey.mac($0) }
            #expect(try await h.store.verifyAudit().intact)
            check = try await h.store.verifyAudit(checkpoints: try h.check)
            #expect(!check.intact && check.brokenAt == 5 && check.problem?.contains("rewritten") == true)
            await #expect(throws: StorageError(.auditBroken, "")) { try await h.checkpoint() }
            try await rewrite(actor: rows[1]["actor"].text ?? "") { auditKey.mac($0) }
            #expect(try await h.store.verifyAudit(checkpoints: try h.check).intact)

            // A checkpoint signed by another key, or an unreadable one, is not trusted.
            try ServiceKeys.create(folder: h.keys + "-other")
            let forged = try AuditCheckpoint(seq: 7, mac: rows[6]["mac"].text ?? "", at: 1, signer: try AuditSigner(folder: h.keys + "-other"))
            try PrivateFile.create(h.checkpoints + "/checkpoint-000000000099.json", try JSONEncoder().encode(forged))
            check = try await h.store.verifyAudit(checkpoints: try h.check)
            #expect(!check.intact && check.problem?.contains("not signed by the audit-signing key") == true)
            try PrivateFile.replace(h.checkpoints + "/checkpoint-000000000099.json", Data("{".utf8))
            check = try await h.store.verifyAudit(checkpoints: try h.check)
            #expect(!check.intact && check.problem?.contains("cannot be read") == true)
        }
    }

    @Test("a sealed blob copied into another row does not open there", arguments: Backend.allCases)
    func boundToRow(backend: Backend) async throws {
        try await withKeyed(backend) { h in
            let (a, b) = (People.iin(50), People.iin(51))
            try await People.register(h.store, a, photo: Data("A's face".utf8))
            try await People.register(h.store, b, photo: Data("B's face".utf8))
            try await h.database.transaction { db in
                try db.execute("UPDATE registry SET photo = (SELECT photo FROM registry WHERE iin = ?) WHERE iin = ?", [.text(a), .text(b)])
            }
            #expect(try await h.store.registry.entry(a)?.photo == Data("A's face".utf8))
            await #expect(throws: CryptoFailure.self) { _ = try await h.store.registry.entry(b) }
        }
    }

    @Test("SMS bodies are sealed at rest and gone once handed off; a failed hand-off leaves them pending", arguments: Backend.allCases)
    func sealedOutbox(backend: Backend) async throws {
        try await withKeyed(backend) { h in
            let iin = People.iin(60)
            try await h.store.issuance.registerPhone(iin: iin, phone: "+77015550060")
            try await h.store.issuance.requestCode(iin: iin)
            let pending = try #require(try await h.store.pendingSMS().first)
            let code = try #require(pending.body?.split(separator: " ").first { $0.count >= 6 && $0.prefix(6).allSatisfy(\.isNumber) }.map { String($0.prefix(6)) })
            func raw() async throws -> SQLRow? { try await h.database.transaction { db in try db.one("SELECT * FROM outbox WHERE iin = ?", [.text(iin)]) } }
            func leaks(_ row: SQLRow?) -> Bool {
                row?.columns.values.contains { value in
                    value.text?.contains(code) == true || value.blob.map { String(decoding: $0, as: UTF8.self).contains(code) } == true
                } ?? false
            }
            let stored = try await raw()
            #expect(!leaks(stored) && stored?["template"].text == "sms.code")

            // A spool "folder" that is a file: refused, and the message stays pending with its text.
            let dir = Temp.dir("tulga-spool")
            try Data().write(to: URL(fileURLWithPath: dir + "/not-a-folder"))
            await #expect(throws: SpoolError(.unwritable, "")) { try await SMSSpool.handOff(h.store, to: dir + "/not-a-folder") }
            #expect(try await h.store.pendingSMS().map(\.body) == [pending.body])

            #expect(try await SMSSpool.handOff(h.store, to: dir + "/spool") == 1)
            let file = dir + "/spool/\(pending.id).sms"
            #expect(PrivateFile.mode(file) == 0o600)
            #expect(try String(contentsOfFile: file, encoding: .utf8).contains(code))
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir + "/spool") == ["\(pending.id).sms"])   // no temporary left
            let receipt = try #require(try await raw())
            #expect(!leaks(receipt) && receipt["sealed"].isNull && receipt["sent_at"].double != nil && receipt["phone"].text == "+77015550060")
            #expect(try await h.store.outbox(iin: iin).first?.body == nil)
            #expect(try await h.store.pendingSMS().isEmpty)
        }
    }

    @Test("rows from before this build are sealed again on opening: bound photos, sealed SMS and liveness reports, the old audit chain anchored",
          arguments: Backend.allCases)
    func upgrade(backend: Backend) async throws {
        let database = try await backend.open()
        let new = ["audit.v2", "outbox.v2", "registry.v2", "moderation.v2", "attempts.v4", "outbox.v3"]
        var released = Migrator()
        for m in Records.migrator.migrations where !new.contains(m.name) { released.registerMigration(m.name, replaces: m.replaces, m.statements) }
        try await released.migrate(database)
        let dir = Temp.dir("tulga-upgrade")
        try ServiceKeys.create(folder: dir + "/keys")
        // As the earlier build sealed: AES-GCM without associated data, under the evidence key.
        let material = try #require(try PrivateFile.read(dir + "/keys/evidence.key"))
        let keyID = String(sha256Hex(material).prefix(16))
        let unbound: @Sendable (Data) throws -> Data = { data in try #require(try AES.GCM.seal(data, using: SymmetricKey(data: material)).combined) }
        let (iin, photo) = (People.iin(70), Data("old face".utf8)), damaged = People.iin(72)
        let otherPhoto = try unbound(Data("another face".utf8))
        try await database.transaction { db in
            // One photo sealed with a key lost long ago: it is set aside, and the upgrade goes on.
            try db.execute("INSERT INTO registry (iin, surname, given_name, document_number, phone, photo, key_id) VALUES (?, 'C', 'D', 'N2', NULL, ?, '00aa11bb22cc33dd')",
                           [.text(damaged), .blob(Data(repeating: 7, count: 40))])
            try db.execute("INSERT INTO registry (iin, surname, given_name, document_number, phone, photo, key_id) VALUES (?, 'A', 'B', 'N1', NULL, ?, ?)",
                           [.text(iin), .blob(try unbound(photo)), .text(keyID)])
            try db.execute("""
                INSERT INTO cases (id, iin, attempt_id, state, created_at, score, flag_reason, liveness_report, selfie, reference, key_id)
                VALUES ('case-old', ?, 'att-old', 'open', 1, 0.33, 'band', '{"passed":true}', ?, ?, ?)
                """, [.text(iin), .blob(try unbound(Data([1]))), .blob(try unbound(Data([2]))), .text(keyID)])
            try db.execute("INSERT INTO outbox (id, iin, phone, language, body, created_at) VALUES ('sms-a', ?, '+77010000070', 'ru', 'Код: 123456', 1)", [.text(iin)])
            try db.execute("INSERT INTO outbox (id, iin, phone, language, body, created_at, sent_at) VALUES ('sms-b', ?, '+77010000070', 'ru', 'Код: 654321', 1, 2)", [.text(iin)])
            // Two audit rows chained with SHA-256, as v1 wrote them.
            var prev = AuditLog.genesis
            for seq in 1...2 {
                let hash = sha256Hex(AuditLog.fields(prev: prev, seq: seq, at: 1, actor: "registry", action: "registry.upsert", subject: iin, detail: ""))
                try db.execute("INSERT INTO audit (seq, at, actor, action, subject, detail, prev_hash, hash) VALUES (?, 1, 'registry', 'registry.upsert', ?, '', ?, ?)",
                               [.int(Int64(seq)), .text(iin), .text(prev), .text(hash)])
                prev = hash
            }
            try db.execute("INSERT INTO audit_head (id, seq, hash) VALUES (1, 2, ?)", [.text(prev)])
        }
        let store = try await Records.open(database: database, keys: try ServiceKeys(folder: dir + "/keys"), clock: ManualClock())
        #expect(try await store.registry.entry(iin)?.photo == photo)
        await #expect(throws: CryptoFailure.self) { _ = try await store.registry.entry(damaged) }
        #expect(try await store.auditEntries(subject: "registry \(damaged)").map(\.action) == ["sealing.unreadable"])
        #expect(PrivateFile.mode(dir + "/keys/bound") == 0o600)
        let registryRow = try await database.transaction { db in try db.one("SELECT key_id FROM registry WHERE iin = ?", [.text(iin)]) }
        #expect(registryRow?["key_id"].text == keyID)
        let outbox = try await database.transaction { db in try db.query("SELECT * FROM outbox ORDER BY id", []) }
        #expect(outbox.allSatisfy { $0["body"].text == "" } && outbox[0]["sealed"].blob != nil && outbox[1]["sealed"].isNull)
        #expect(try await store.pendingSMS().map(\.body) == ["Код: 123456"])
        try await store.moderation.addModerator(id: "m", role: .moderator, secret: "moderator-secret-1", iin: People.iin(71))
        let m = try await store.moderation.authenticate(id: "m", secret: "moderator-secret-1")
        _ = try await store.moderation.claim("case-old", as: m)
        let detail = try await store.moderation.detail("case-old", as: m)
        #expect(detail.selfie == Data([1]) && detail.reference == Data([2]) && detail.livenessReport == #"{"passed":true}"#)
        let caseRow = try await database.transaction { db in try db.one("SELECT liveness_report, liveness_sealed FROM cases WHERE id = 'case-old'") }
        #expect(caseRow?["liveness_report"].isNull == true && caseRow?["liveness_sealed"].blob != nil)
        // The keyed chain continues the old one; rewriting the old rows (hashes recomputed) breaks the first keyed row.
        var check = try await store.verifyAudit()
        #expect(check.intact && check.rows == 7)   // two earlier rows, the keyed log's first row, the photo set aside, three since
        try await database.transaction { db in
            var prev = AuditLog.genesis
            for seq in 1...2 {
                let hash = sha256Hex(AuditLog.fields(prev: prev, seq: seq, at: 1, actor: "forger", action: "registry.upsert", subject: iin, detail: ""))
                try db.execute("UPDATE audit SET actor = 'forger', prev_hash = ?, hash = ? WHERE seq = ?", [.text(prev), .text(hash), .int(Int64(seq))])
                prev = hash
            }
            try db.execute("UPDATE audit_head SET hash = ?", [.text(prev)])
        }
        check = try await store.verifyAudit()
        #expect(!check.intact && check.brokenAt == 3)

        // Later, a database writer plants an earlier build's blob (from a backup) in someone's row and makes the
        // binding migration run again: the binding was done, so nothing is opened unbound. The start is refused and
        // says why, with or without the keys folder's marker (the audit log shows the database has run since).
        try await database.transaction { db in
            try db.execute("UPDATE registry SET photo = ? WHERE iin = ?", [.blob(otherPhoto), .text(iin)])
            try db.execute("DELETE FROM schema_migrations WHERE name = 'registry.v2'")
        }
        for marker in [true, false] {
            if !marker { #expect(unlink(dir + "/keys/bound") == 0) }
            await #expect(throws: StorageError(.auditBroken, "")) {
                _ = try await Records.open(database: database, keys: try ServiceKeys(folder: dir + "/keys"), clock: ManualClock())
            }
            let planted = try await database.transaction { db in try db.one("SELECT photo FROM registry WHERE iin = ?", [.text(iin)]) }
            #expect(planted?["photo"].blob == otherPhoto)   // left as it was: nothing bound
        }
        await database.close()
    }

    @Test("rotation: every row moves to the new evidence key, API keys follow on use, and the old key goes only when nothing needs it",
          arguments: Backend.allCases)
    func rotation(backend: Backend) async throws {
        try await withKeyed(backend) { h in
            let iin = People.iin(80)
            try await People.register(h.store, iin, photo: Data("face".utf8))
            let reference = ReferenceEmbedding(models: "m", photoDigest: sha256Hex(Data("face".utf8)), values: (0..<ReferenceEmbedding.dimension).map(Float.init))
            try await h.store.registry.storeReference(reference, iin: iin, replacing: "computed")
            let apiKey = String(repeating: "k", count: 40)
            _ = try await h.store.apiKeys.add(name: "kiosk", scopes: ["kiosk"], key: apiKey)
            let t = try await h.store.attempts.begin(iin: iin)
            let caseID = try #require(try await h.store.runner.record(t, outcome: .review, score: 0.33, livenessPassed: true, reason: "band",
                                                                        evidence: Evidence(selfie: Data([5]), reference: Data([6]), livenessReport: "{}")).caseID)
            let old = h.store.keys.evidence.keyID
            try await KeyUse.report(h.database, node: "node-a", keys: h.store.keys, at: h.clock.now())
            let rotated = try SealingKey.rotate(folder: h.keys, name: "evidence")
            // A node still running with the old key holds the re-sealing back until it restarts (or is gone).
            #expect(try await KeyUse.nodesBehind(h.database, name: "evidence", current: rotated.keyID, at: h.clock.now()).map(\.node) == ["node-a"])
            #expect(try await KeyUse.nodesBehind(h.database, name: "outbox", current: h.store.keys.outbox.keyID, at: h.clock.now()).isEmpty)
            h.clock.advance(KeyUse.staleSeconds + 1)
            #expect(try await KeyUse.nodesBehind(h.database, name: "evidence", current: rotated.keyID, at: h.clock.now()).isEmpty)
            let store = try await Records.open(database: h.database, keys: try ServiceKeys(folder: h.keys), clock: h.clock)
            #expect(store.keys.evidence.keyID == rotated.keyID && store.keys.evidence.retiredIDs == [old])
            var moved = 0
            for spec in Records.sealedColumns { moved += try await Reseal.run(store.database, key: store.keys.evidence, spec).moved }
            #expect(moved == 3)   // the photo, its embedding and the case (the attempt's signatures are recorded only by a finished session)
            for spec in Records.sealedColumns { #expect(try await Reseal.remaining(store.database, keyID: rotated.keyID, spec) == 0) }
            #expect(try await store.apiKeys.lookupsNotUnder(rotated.keyID) == 1)
            #expect(try await store.apiKeys.authenticate(apiKey)?.name == "kiosk")
            #expect(try await store.apiKeys.lookupsNotUnder(rotated.keyID) == 0)
            // A node not yet restarted (the old key only) still knows the key by its previous lookup.
            #expect(try await h.store.apiKeys.authenticate(apiKey)?.name == "kiosk")
            try store.keys.evidence.dropRetired(old)
            let after = try await Records.open(database: h.database, keys: try ServiceKeys(folder: h.keys), clock: h.clock)
            #expect(try await after.registry.entry(iin)?.photo == Data("face".utf8))
            #expect(try await after.registry.entry(iin)?.reference == reference)
            #expect(try await after.apiKeys.authenticate(apiKey) != nil)
            let m = try await moderator(after)
            _ = try await after.moderation.claim(caseID, as: m)
            #expect(try await after.moderation.detail(caseID, as: m).selfie == Data([5]))
        }
    }

    func moderator(_ store: Records) async throws -> Moderator {
        try await store.moderation.addModerator(id: "m", role: .moderator, secret: "moderator-secret-1", iin: People.iin(99))
        return try await store.moderation.authenticate(id: "m", secret: "moderator-secret-1")
    }

    @Test("purging a case's evidence removes its review PNG, and any left by earlier purges")
    func purgeRemovesPictures() async throws {
        try await withKeyed(.sqlite) { h in
            let m = try await moderator(h.store)
            var ids: [String] = []
            for i in 0..<2 {
                let t = try await h.store.attempts.begin(iin: People.iin(90 + i))
                ids.append(try #require(try await h.store.runner.record(t, outcome: .review, score: 0.33, livenessPassed: true, reason: "band",
                                                                          evidence: Evidence(selfie: Data([1]), reference: Data([2]), livenessReport: nil)).caseID))
            }
            let review = Temp.dir("tulga-review")
            for id in ids + ["case-00000000000000000000"] { try PrivateFile.create(review + "/\(id).png", Data([0x89])) }
            _ = try await h.store.moderation.claim(ids[0], as: m)
            _ = try await ModerationDesk(records: h.store).decide(ids[0], approve: false, reason: "another person", as: m)
            h.clock.advance(2 * 86400)
            #expect(try await EvidencePurge.run(h.store, olderThan: 86400, reviewFolder: review, actor: "ops") == 1)
            // The decided case's picture and one whose case is gone are removed; the open case's stays.
            #expect(try FileManager.default.contentsOfDirectory(atPath: review) == ["\(ids[1]).png"])
        }
    }

    @Test("tulga serve's background work signs a checkpoint when the head has moved, and only then")
    func scheduledCheckpoint() async throws {
        try await withKeyed(.sqlite) { h in
            var settings = BackgroundSettings()
            settings.checkpointMinutes = 30
            let services = BackgroundWork.services(h.store, settings: settings, files: ServiceFiles(checkpointFolder: h.checkpoints, signer: try h.signer),
                                                   logger: Logger(label: "test"))
            let checkpoint = try #require(services.first { $0.description == "audit-checkpoint" })
            #expect(checkpoint.interval == .seconds(1800))
            #expect(try await checkpoint.pass() == 1)   // the keyed log's first row
            #expect(try await checkpoint.pass() == 0)
            try await People.register(h.store, People.iin(95))
            #expect(try await checkpoint.pass() == 1)
            #expect(try await checkpoint.pass() == 0)
            #expect(try await h.store.verifyAudit(checkpoints: try h.check).checkpoints == 2)
            // Without the signing key, or with checkpoints off, there is no such service.
            #expect(!BackgroundWork.services(h.store, settings: settings, logger: Logger(label: "test")).contains { $0.description == "audit-checkpoint" })
        }
    }
}
