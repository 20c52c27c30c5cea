public import TulgaCore
public import TulgaStorage

/// The legal-entity register: owns `organizations` and `organization_roles`. Issuance reads it
/// inside its own transactions through the static lookups.
///
/// ```swift
/// let register = LegalEntityRecords(RecordContext(database: db, clock: clock))
/// let report = try await register.importOrganizations(try RegisterCSV.organizations(text))
/// ```
public struct LegalEntityRecords: Sendable {
    /// The shared database and the clock audit rows are stamped with.
    public let database: any SQLDatabase, clock: any WallClock
    /// Creates the records.
    ///
    /// - Parameter context: the database and the clock.
    public init(_ context: RecordContext) { (database, clock) = (context.database, context.clock) }

    /// The register's tables.
    ///
    /// - Parameter migrator: the migrator to add `legal_entities.v1` to.
    public static func register(_ migrator: inout Migrator) {
        migrator.registerMigration("legal_entities.v1", [
            "CREATE TABLE organizations (bin TEXT PRIMARY KEY, name TEXT NOT NULL, head_iin TEXT NOT NULL, status TEXT NOT NULL, updated_at {REAL} NOT NULL)",
            "CREATE TABLE organization_roles (bin TEXT NOT NULL, iin TEXT NOT NULL, role TEXT NOT NULL, PRIMARY KEY (bin, iin, role))",
            "CREATE INDEX organization_roles_iin ON organization_roles(iin)",
        ])
    }

    enum Columns: String { case bin, name, headIIN = "head_iin", status }

    /// What an import did.
    public struct ImportReport: Sendable, Codable, Hashable {
        /// Rows written.
        public var imported: Int
        /// Rows refused, with their reasons.
        public var problems: [RowProblem]
    }

    /// Adds or replaces organisations, in one transaction.
    ///
    /// - Parameter parsed: the output of ``RegisterCSV/organizations(_:)``.
    /// - Returns: How many were written, and the parser's problems.
    /// - Throws: ``DatabaseFailure`` from the database (nothing is written then).
    public func importOrganizations(_ parsed: (organizations: [Organization], problems: [RowProblem])) async throws -> ImportReport {
        let now = clock.now()
        try await database.transaction { db in
            for o in parsed.organizations {
                try db.execute("DELETE FROM organizations WHERE bin = ?", [.text(o.bin)])
                try db.execute("INSERT INTO organizations (bin, name, head_iin, status, updated_at) VALUES (?, ?, ?, ?, ?)",
                               [.text(o.bin), .text(o.name), .text(o.headIIN), .text(o.status.rawValue), .double(now)])
            }
            try AuditLog.append(db, at: now, actor: "register", action: "register.organizations", subject: "", detail: "\(parsed.organizations.count) rows")
        }
        return ImportReport(imported: parsed.organizations.count, problems: parsed.problems)
    }

    /// Replaces the roles of every BIN the file lists, in one transaction. A role for a BIN the
    /// register does not know is refused as a problem.
    ///
    /// - Parameter parsed: the output of ``RegisterCSV/roles(_:)``.
    /// - Returns: How many were written, and every problem.
    /// - Throws: ``DatabaseFailure`` from the database (nothing is written then).
    public func importRoles(_ parsed: (roles: [RoleGrant], problems: [RowProblem])) async throws -> ImportReport {
        let now = clock.now()
        return try await database.transaction { db in
            var problems = parsed.problems, good: [RoleGrant] = []
            for grant in parsed.roles {
                if try Self.organization(db, bin: grant.bin) == nil {
                    problems.append(RowProblem(line: 0, reason: "BIN \(grant.bin) (IIN \(grant.iin)) is not a registered organisation"))
                } else {
                    good.append(grant)
                }
            }
            for bin in Set(good.map(\.bin)) { try db.execute("DELETE FROM organization_roles WHERE bin = ?", [.text(bin)]) }
            for grant in good {
                try db.execute("INSERT INTO organization_roles (bin, iin, role) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                               [.text(grant.bin), .text(grant.iin), .text(grant.role.rawValue)])
            }
            try AuditLog.append(db, at: now, actor: "register", action: "register.roles", subject: "", detail: "\(good.count) rows")
            return ImportReport(imported: good.count, problems: problems.sorted { $0.line < $1.line })
        }
    }

    /// The organisation, inside another module's transaction.
    ///
    /// - Parameters:
    ///   - db: the caller's transaction.
    ///   - bin: the BIN.
    /// - Returns: The organisation, or `nil` if the register has none with that BIN.
    /// - Throws: ``DatabaseFailure``; ``StorageError`` `.damagedRow` for a row that cannot be read.
    public static func organization(_ db: any SQLSession, bin: String) throws -> Organization? {
        guard let row = try db.one("SELECT * FROM organizations WHERE bin = ?", [.text(bin)]) else { return nil }
        return Organization(bin: try row.text(Columns.bin), name: try row.text(Columns.name), headIIN: try row.text(Columns.headIIN),
                            status: try row.value(Columns.status, as: OrganizationStatus.self))
    }

    /// Whether the register lists `role` for the person at the organisation.
    ///
    /// - Parameters:
    ///   - db: the caller's transaction.
    ///   - bin: the organisation's BIN.
    ///   - iin: the person's IIN.
    ///   - role: the role.
    /// - Returns: `true` when listed.
    /// - Throws: ``DatabaseFailure``.
    public static func hasRole(_ db: any SQLSession, bin: String, iin: String, role: EmployeeRole) throws -> Bool {
        try db.one("SELECT iin FROM organization_roles WHERE bin = ? AND iin = ? AND role = ?", [.text(bin), .text(iin), .text(role.rawValue)]) != nil
    }
}
