public import TulgaStorage
import TulgaPKI

extension IssuanceService {
    /// The issuance tables: as released in v2 (`issuance.v1`), then without private keys (`issuance.v2`), and
    /// the later ones below, sign-in last (`issuance.signin.v1`).
    ///
    /// - Parameter migrator: the migrator to add `issuance.v1` and `issuance.v2` to.
    public static func register(_ migrator: inout Migrator) {
        migrator.registerMigration("issuance.v1", replaces: ["v2-issuance"], [
            "CREATE TABLE mobile_citizens (iin TEXT PRIMARY KEY, phone TEXT NOT NULL)",
            """
            CREATE TABLE sms_codes (
              id TEXT PRIMARY KEY, iin TEXT NOT NULL, code_hash TEXT NOT NULL, created_at {REAL} NOT NULL,
              expires_at {REAL} NOT NULL, used_at {REAL})
            """,
            "CREATE INDEX sms_codes_iin ON sms_codes(iin)",
            "CREATE TABLE sms_failures (id TEXT PRIMARY KEY, iin TEXT NOT NULL, at {REAL} NOT NULL)",
            "CREATE TABLE phone_verifications (iin TEXT PRIMARY KEY, verified_at {REAL} NOT NULL)",
            """
            CREATE TABLE applications (
              number TEXT PRIMARY KEY, iin TEXT NOT NULL, template TEXT NOT NULL, channel TEXT NOT NULL, status TEXT NOT NULL,
              bin TEXT, organization TEXT, head_iin TEXT, head_approved_at {REAL}, algorithm TEXT NOT NULL,
              created_at {REAL} NOT NULL, updated_at {REAL} NOT NULL, reissue_of TEXT,
              key_auth {BLOB}, key_sign {BLOB}, key_id TEXT, csr_auth TEXT, csr_sign TEXT,
              cert_auth TEXT, cert_sign TEXT, serial_auth TEXT, serial_sign TEXT, installed_at {REAL})
            """,
            "CREATE INDEX applications_iin ON applications(iin)",
            "CREATE TABLE revocations (serial TEXT PRIMARY KEY, number TEXT, revoked_at {REAL} NOT NULL, reason TEXT NOT NULL)",
        ])
        // Keys are born with the applicant: the sealed private-key columns go (with anything in
        // them); applications record their owner, their key storage, the holder's names, HR's
        // approval and what they renew; CRLs are kept for serving.
        migrator.registerMigration("issuance.v2", [
            "UPDATE applications SET key_auth = NULL, key_sign = NULL, key_id = NULL",
            "ALTER TABLE applications DROP COLUMN key_auth",
            "ALTER TABLE applications DROP COLUMN key_sign",
            "ALTER TABLE applications DROP COLUMN key_id",
            "ALTER TABLE applications ADD COLUMN owner_key TEXT",
            "ALTER TABLE applications ADD COLUMN storage TEXT",
            "ALTER TABLE applications ADD COLUMN surname TEXT",
            "ALTER TABLE applications ADD COLUMN given_name TEXT",
            "ALTER TABLE applications ADD COLUMN hr_iin TEXT",
            "ALTER TABLE applications ADD COLUMN hr_approved_at {REAL}",
            "ALTER TABLE applications ADD COLUMN renewal_of TEXT",
            "ALTER TABLE applications ADD COLUMN valid_until {REAL}",
            "ALTER TABLE applications ADD COLUMN refusal TEXT",
            "CREATE TABLE crls (number INTEGER PRIMARY KEY, this_update {REAL} NOT NULL, next_update {REAL} NOT NULL, revoked_count INTEGER NOT NULL, der {BLOB} NOT NULL)",
        ])
        // Every key offered, once: a key is certified at most once, so keys revoked as compromised
        // (or any earlier ones) cannot come back in a reissue or a renewal.
        migrator.registerMigration("issuance.v3", [
            "CREATE TABLE application_keys (key_id TEXT PRIMARY KEY, number TEXT NOT NULL, purpose TEXT NOT NULL, created_at {REAL} NOT NULL)",
            "CREATE TABLE renewal_challenges (number TEXT PRIMARY KEY, challenge TEXT NOT NULL, expires_at {REAL} NOT NULL, owner TEXT NOT NULL)",
        ])
        // The portal: a phone confirmation belongs to the calling system it was typed into; an
        // application records the user agreement accepted (version and time).
        migrator.registerMigration("issuance.portal.v1", [
            "ALTER TABLE phone_verifications ADD COLUMN owner TEXT",
            "ALTER TABLE applications ADD COLUMN agreement_version TEXT",
            "ALTER TABLE applications ADD COLUMN agreement_at {REAL}",
        ])
        // A code, and each wrong entry, belongs to the calling system it was asked for through.
        migrator.registerMigration("issuance.portal.v2", [
            "ALTER TABLE sms_codes ADD COLUMN owner TEXT",
            "ALTER TABLE sms_failures ADD COLUMN owner TEXT",
        ])
        // A confirmation per IIN and calling system: one typed into another system no longer replaces
        // this one's. Rows from before owners keep '' (staff only, as NULL was).
        migrator.registerMigration("issuance.portal.v3", [
            """
            CREATE TABLE phone_verifications_v3 (
              iin TEXT NOT NULL, owner TEXT NOT NULL, verified_at {REAL} NOT NULL, PRIMARY KEY (iin, owner))
            """,
            "INSERT INTO phone_verifications_v3 (iin, owner, verified_at) SELECT iin, COALESCE(owner, ''), verified_at FROM phone_verifications",
            "DROP TABLE phone_verifications",
            "ALTER TABLE phone_verifications_v3 RENAME TO phone_verifications",
        ])
        // The applicant's optional e-mail: the number on filing and each status change go there.
        // Kept like the phone: in clear for sending, never logged or audited.
        migrator.registerMigration("issuance.mail.v1", [
            "ALTER TABLE applications ADD COLUMN email TEXT",
        ])
        // Signing in with the AUTH key, then a 1414 code: challenges, sign-ins waiting for their code and
        // sessions, each by the SHA-256 of its random handle and owned by a calling system; a code
        // records what it confirms (NULL: the phone, as before).
        migrator.registerMigration("issuance.signin.v1", [
            "ALTER TABLE sms_codes ADD COLUMN purpose TEXT",
            """
            CREATE TABLE signin_challenges (
              challenge_hash TEXT PRIMARY KEY, owner TEXT NOT NULL, created_at {REAL} NOT NULL, expires_at {REAL} NOT NULL, used_at {REAL})
            """,
            """
            CREATE TABLE signin_pending (
              login_hash TEXT PRIMARY KEY, iin TEXT NOT NULL, serial TEXT NOT NULL, owner TEXT NOT NULL, code_id TEXT NOT NULL,
              created_at {REAL} NOT NULL, expires_at {REAL} NOT NULL, done_at {REAL})
            """,
            """
            CREATE TABLE signin_sessions (
              token_hash TEXT PRIMARY KEY, iin TEXT NOT NULL, serial TEXT NOT NULL, owner TEXT NOT NULL,
              created_at {REAL} NOT NULL, expires_at {REAL} NOT NULL, ended_at {REAL})
            """,
            "CREATE INDEX signin_sessions_iin ON signin_sessions(iin)",
        ])
        // The browser portal lists the applications a browser session filed (by owner).
        migrator.registerMigration("issuance.owner_index.v1", ["CREATE INDEX applications_owner ON applications(owner_key)"])
    }
}

extension IssuanceService {
    /// Puts the keys of applications filed before `issuance.v3` (their requests, or their
    /// certificates when a request is gone) in `application_keys`, so none is certified again.
    /// Runs when the records open; finds nothing to do once done.
    ///
    /// - Returns: How many keys were recorded.
    /// - Throws: ``StorageError`` `.damagedRow`; ``DatabaseFailure``.
    @discardableResult
    public func recordEarlierKeys() async throws -> Int {
        let at = now
        return try await db.transaction { db in
            var recorded = 0
            for row in try db.query("SELECT * FROM applications WHERE number NOT IN (SELECT number FROM application_keys)", []) {
                let number = try row.text(Columns.number)
                for (purpose, csr, cert) in [("AUTH", Columns.csrAuth, Columns.certAuth), ("SIGN", Columns.csrSign, Columns.certSign)] {
                    let ids = Set([try row.optionalText(csr), try row.optionalText(cert)].compactMap { $0.flatMap(PKI.keyID) })
                    for id in ids where try db.one("SELECT key_id FROM application_keys WHERE key_id = ?", [.text(id)]) == nil {
                        // Nodes starting together may both get here: the second insert does nothing.
                        try db.execute("INSERT INTO application_keys (key_id, number, purpose, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (key_id) DO NOTHING",
                                       [.text(id), .text(number), .text(purpose), .double(at)])
                        recorded += 1
                    }
                }
            }
            return recorded
        }
    }
}
