import Foundation
import Testing
import TulgaCore
import TulgaCrypto
import TulgaDigitalID
import TulgaFlow
import TulgaRegistry
import TulgaStorage
import TulgaTestSupport

@Suite("The ordered migrator: module migrations, released names honoured both ways")
struct MigrationTests {
    @Test("a database migrated under the released names (v1-core, v2-issuance, v3-api-keys) opens, keeps its rows and gains nothing twice", arguments: Backend.allCases)
    func releasedNames(backend: Backend) async throws {
        let database = try await backend.open()
        let keys = try ServiceKeys.scratch()
        let clock = ManualClock()
        // The tables as released (without the migrations added since), then the record of
        // migrations as an older build left it, with a server-made private key in an application.
        let added = ["legal_entities.v1", "issuance.v2", "issuance.v3", "attempts.v2", "attempts.v3", "api_keys.v2", "audit.v2", "outbox.v2",
                     "registry.v2", "moderation.v2", "attempts.v4", "api_keys.v3", "key_use.v1", "registry.v3", "digital_id.v2", "issuance.portal.v1",
                     "attempts.v5", "digital_id.v3", "issuance.portal.v2", "outbox.v3", "issuance.mail.v1", "issuance.portal.v3", "issuance.signin.v1",
                     "registry.v4", "digital_id.v4", "moderation.v3", "issuance.owner_index.v1", "portal.v1"]
        var released = Migrator()
        for m in Records.migrator.migrations where !added.contains(m.name) { released.registerMigration(m.name, replaces: m.replaces, m.statements) }
        try await released.migrate(database)
        let dir = Temp.dir()
        let csr = try openssl(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", dir + "/k.pem", "-subj", "/CN=old"]).out
        try await database.transaction { db in
            try db.execute("DELETE FROM schema_migrations")
            for name in ["v1-core", "v2-issuance", "v3-api-keys"] { try db.execute("INSERT INTO schema_migrations (name) VALUES (?)", [.text(name)]) }
            try db.execute("""
                INSERT INTO applications (number, iin, template, channel, status, algorithm, created_at, updated_at, key_auth, key_sign, key_id, csr_auth)
                VALUES ('0001', '850314300013', 'individual', 'remote', 'signing', 'rsa2048', 1, 1, ?, ?, 'k1', ?)
                """, [.blob(Data("sealed private key".utf8)), .blob(Data("sealed private key".utf8)), .text(csr)])
            try db.execute("INSERT INTO phone_verifications (iin, verified_at) VALUES ('850314300013', 5)")
        }
        let first = try await Records.open(database: database, keys: keys, clock: clock)
        try await first.registry.upsert(RegistryEntry(iin: "850314300013", surname: "A", givenName: "B", documentNumber: "N", photo: Data([7])))
        // issuance.v2 dropped the private-key columns with what was in them; the application stays.
        let columns = try await database.transaction { db in try db.one("SELECT * FROM applications WHERE number = '0001'") }
        #expect(columns?["status"].text == "signing" && columns?["key_auth"].isNull == true && columns?["key_id"].isNull == true)
        // The old application's key joins the once-only list when the records open.
        let listed = try await database.transaction { db in try db.query("SELECT key_id, purpose FROM application_keys WHERE number = '0001'", []) }
        #expect(listed.count == 1 && listed.first?["purpose"].text == "AUTH" && listed.first?["key_id"].text?.count == 40)
        // A confirmation from before owners keeps an empty owner (staff only) in the per-system table.
        let confirmations = try await database.transaction { db in try db.query("SELECT iin, owner, verified_at FROM phone_verifications", []) }
        #expect(confirmations.count == 1 && confirmations.first?["owner"].text == "" && confirmations.first?["verified_at"].double == 5)
        // Reopening must not try to create any table again (CREATE TABLE would fail) and keeps the rows.
        let again = try await Records.open(database: database, keys: keys, clock: clock)
        #expect(try await again.registry.entry("850314300013")?.photo == Data([7]))
        let names = try await database.transaction { db in try db.query("SELECT name FROM schema_migrations ORDER BY name", []).compactMap { $0["name"].text } }
        #expect(names == ["api_keys.v2", "api_keys.v3", "attempts.v2", "attempts.v3", "attempts.v4", "attempts.v5", "audit.v2", "digital_id.v2",
                          "digital_id.v3", "digital_id.v4", "issuance.mail.v1", "issuance.owner_index.v1", "issuance.portal.v1",
                          "issuance.portal.v2", "issuance.portal.v3", "issuance.signin.v1", "issuance.v2", "issuance.v3", "key_use.v1",
                          "legal_entities.v1", "moderation.v2", "moderation.v3", "outbox.v2", "outbox.v3", "portal.v1", "registry.v2", "registry.v3",
                          "registry.v4", "v1-core", "v2-issuance", "v3-api-keys"])
        #expect(try await again.verifyAudit().intact)
        await database.close()
    }

    @Test("a fresh database records each module's migration once, in the registered order", arguments: Backend.allCases)
    func fresh(backend: Backend) async throws {
        let database = try await backend.open()
        _ = try await Records.open(database: database, keys: try ServiceKeys.scratch(), clock: ManualClock())
        _ = try await Records.open(database: database, keys: try ServiceKeys.scratch(), clock: ManualClock())
        let names = Set(try await database.transaction { db in try db.query("SELECT name FROM schema_migrations", []).compactMap { $0["name"].text } })
        // Each module's migration, and the released names they replace, so an older build does not create the tables again.
        let released = Set(Records.migrator.migrations.flatMap(\.replaces))
        #expect(released == ["v1-core", "v2-issuance", "v3-api-keys"])
        #expect(names == Set(Records.migrator.migrations.map(\.name)).union(released))
        await database.close()
    }

    @Test("the document step's migrations (registry.v4, digital_id.v4, moderation.v3) keep a Digital ID, a case and a registry row from before them",
          arguments: Backend.allCases)
    func documentStep(backend: Backend) async throws {
        let database = try await backend.open()
        let keys = try ServiceKeys.scratch()
        let clock = ManualClock()
        // Everything up to the migrations the document step added, with a record of each kind written the way builds before it did.
        var before = Migrator()
        for m in Records.migrator.migrations where !["registry.v4", "digital_id.v4", "moderation.v3"].contains(m.name) {
            before.registerMigration(m.name, replaces: m.replaces, m.statements, step: m.step)
        }
        try await before.migrate(KeyedDatabase(database, auditKey: keys.audit), keys: keys, now: clock.now())
        try await database.transaction { db in
            try db.execute("""
                INSERT INTO digital_ids (iin, surname, given_name, document_number, status, created_at, verified_at, verified_by)
                VALUES ('850314300013', 'MIRANDA', 'LIN', 'N1', 'active', 1, 1, 'automatic')
                """)
            try db.execute("""
                INSERT INTO cases (id, iin, attempt_id, state, created_at, score, flag_reason) VALUES ('case-1', '850314300013', 'att-1', 'open', 1, 0.33, 'band')
                """)
            try db.execute("INSERT INTO registry (iin, surname, given_name, document_number, photo, key_id) VALUES ('850314300013', 'MIRANDA', 'LIN', 'N1', ?, 'k')",
                           [.blob(Data([1]))])
        }
        let records = try await Records.open(database: database, keys: keys, clock: clock)
        // A Digital ID from before the step has not taken it; a case from before is about the face; the registry has no Latin names yet.
        #expect(try await records.digitalIDs.record("850314300013")?.documentState == .pending)
        let row = try await database.transaction { db in try db.one("SELECT kind, document_key_id FROM cases WHERE id = 'case-1'") }
        #expect(row?["kind"].text == "face" && row?["document_key_id"].isNull == true)
        let person = try await database.transaction { db in try RegistryRecords.person(db, iin: "850314300013") }
        #expect(person?.latin == nil && person?.passportNumber == nil && person?.documentNumber == "N1")
        // The new columns take what the step writes.
        try await records.registry.upsert(RegistryEntry(iin: "850314300023", surname: "ОБАМА", givenName: "БАРАК", documentNumber: "041234567", photo: Data([2]),
                                                        latin: LatinNames(surname: "obama", givenNames: "barack  hussein"), passportNumber: "N7"))
        let obama = try await database.transaction { db in try RegistryRecords.person(db, iin: "850314300023") }
        #expect(obama?.latin == LatinNames(surname: "OBAMA", givenNames: "BARACK HUSSEIN") && obama?.passportNumber == "N7")
        #expect(try await records.verifyAudit().intact)
        await database.close()
    }
}
