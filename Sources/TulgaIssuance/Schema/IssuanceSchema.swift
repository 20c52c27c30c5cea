public import TulgaStorage

extension IssuanceService {
    /// The issuance tables, as released in v2.
    ///
    /// - Parameter migrator: the migrator to add `issuance.v1` to.
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
    }
}
