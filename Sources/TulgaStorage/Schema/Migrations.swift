internal import Foundation

/// Ordered, named migrations. Never edit one after release; add a new one.
/// `{REAL}`, `{BLOB}` and `{INT}` become each dialect's type.
let migrations: [(name: String, sql: [String])] = [
    ("v1-core", [
        """
        CREATE TABLE registry (
          iin TEXT PRIMARY KEY, surname TEXT NOT NULL, given_name TEXT NOT NULL, document_number TEXT NOT NULL,
          phone TEXT, photo {BLOB} NOT NULL, key_id TEXT NOT NULL)
        """,
        """
        CREATE TABLE applicants (
          iin TEXT PRIMARY KEY, failures {INT} NOT NULL DEFAULT 0, running {INT} NOT NULL DEFAULT 0,
          language TEXT NOT NULL DEFAULT 'ru')
        """,
        """
        CREATE TABLE attempts (
          id TEXT PRIMARY KEY, iin TEXT NOT NULL, state TEXT NOT NULL, score {REAL}, liveness_passed {INT},
          started_at {REAL} NOT NULL, finished_at {REAL}, reason TEXT)
        """,
        "CREATE INDEX attempts_iin ON attempts(iin)",
        """
        CREATE TABLE cases (
          id TEXT PRIMARY KEY, iin TEXT NOT NULL, attempt_id TEXT NOT NULL, state TEXT NOT NULL,
          created_at {REAL} NOT NULL, claimed_by TEXT, lease_until {REAL}, decided_by TEXT, decided_at {REAL},
          reason TEXT, score {REAL} NOT NULL, flag_reason TEXT NOT NULL, liveness_report TEXT,
          selfie {BLOB}, reference {BLOB}, key_id TEXT, evidence_purged {INT} NOT NULL DEFAULT 0)
        """,
        "CREATE INDEX cases_state ON cases(state)",
        """
        CREATE TABLE digital_ids (
          iin TEXT PRIMARY KEY, surname TEXT NOT NULL, given_name TEXT NOT NULL, document_number TEXT NOT NULL,
          status TEXT NOT NULL, created_at {REAL} NOT NULL, verified_at {REAL} NOT NULL, verified_by TEXT NOT NULL,
          pin_hash TEXT, pin_failures {INT} NOT NULL DEFAULT 0, pin_locked {INT} NOT NULL DEFAULT 0)
        """,
        """
        CREATE TABLE consents (
          id TEXT PRIMARY KEY, iin TEXT NOT NULL, scope TEXT NOT NULL, granted_at {REAL} NOT NULL,
          expires_at {REAL} NOT NULL, revoked_at {REAL})
        """,
        """
        CREATE TABLE outbox (
          id TEXT PRIMARY KEY, iin TEXT NOT NULL, phone TEXT, language TEXT NOT NULL, body TEXT NOT NULL,
          created_at {REAL} NOT NULL, sent_at {REAL})
        """,
        """
        CREATE TABLE audit (
          seq {INT} PRIMARY KEY, at {REAL} NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL, subject TEXT NOT NULL,
          detail TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL)
        """,
        "CREATE TABLE audit_head (id {INT} PRIMARY KEY, seq {INT} NOT NULL, hash TEXT NOT NULL)",
        "CREATE TABLE moderators (id TEXT PRIMARY KEY, role TEXT NOT NULL, secret_hash TEXT NOT NULL, iin TEXT)",
        "CREATE TABLE in_person (iin TEXT PRIMARY KEY, accepted_by TEXT NOT NULL, accepted_at {REAL} NOT NULL)",
        "CREATE TABLE replay_hashes (hash TEXT PRIMARY KEY, seen_at {REAL} NOT NULL)",
    ]),
    ("v2-issuance", [
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
        """
        CREATE TABLE revocations (
          serial TEXT PRIMARY KEY, number TEXT, revoked_at {REAL} NOT NULL, reason TEXT NOT NULL)
        """,
    ]),
    ("v3-api-keys", [
        "CREATE TABLE api_keys (id TEXT PRIMARY KEY, name TEXT NOT NULL, scopes TEXT NOT NULL, secret_hash TEXT NOT NULL, created_at {REAL} NOT NULL)",
    ]),
]

func dialectSQL(_ sql: String, _ dialect: SQLDialect) -> String {
    switch dialect {
    case .sqlite: sql.replacingOccurrences(of: "{REAL}", with: "REAL").replacingOccurrences(of: "{BLOB}", with: "BLOB")
        .replacingOccurrences(of: "{INT}", with: "INTEGER")
    case .postgres: sql.replacingOccurrences(of: "{REAL}", with: "DOUBLE PRECISION").replacingOccurrences(of: "{BLOB}", with: "BYTEA")
        .replacingOccurrences(of: "{INT}", with: "BIGINT")
    }
}

/// Applies the migrations not yet recorded in `schema_migrations`, each in its own transaction.
func migrate(_ database: any SQLDatabase) async throws {
    let dialect = database.dialect
    try await database.transaction { db in
        try db.lock("schema")
        try db.execute("CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY)")
    }
    for migration in migrations {
        try await database.transaction { db in
            try db.lock("schema")
            guard try db.one("SELECT name FROM schema_migrations WHERE name = ?", [.text(migration.name)]) == nil else { return }
            for statement in migration.sql { try db.execute(dialectSQL(statement, dialect)) }
            try db.execute("INSERT INTO schema_migrations (name) VALUES (?)", [.text(migration.name)])
        }
    }
}
