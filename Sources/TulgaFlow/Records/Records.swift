import Foundation
public import TulgaAPIKeys
public import TulgaAttempts
public import TulgaCore
public import TulgaCrypto
public import TulgaDigitalID
public import TulgaIssuance
public import TulgaLegalEntities
public import TulgaMail
public import TulgaModeration
public import TulgaPolicy
public import TulgaPortal
public import TulgaRegistry
public import TulgaStorage

/// The rules' settings that records enforce.
public struct RecordSettings: Sendable, Hashable {
    /// The attempt limit.
    public var attempts = AttemptPolicy()
    /// Lease and SLA lengths.
    public var moderation = ModerationSettings()
    /// The SMS-code rules.
    public var sms = SMSCodePolicy()
    /// The application lifecycle, with its in-person expiry.
    public var applications = ApplicationLifecycle()
    /// Whether a Digital ID needs the identity-document step before it files an application (`policy.documentStepRequired`).
    public var documentStepRequired = true
    /// The browser portal's session lifetimes.
    public var portal = PortalSettings()
    /// The defaults of each.
    public init() {}
}

/// Every module's records on one database, the service's keys and one clock. Each module owns
/// its tables; this only opens them together and applies their migrations in one order.
///
/// ```swift
/// let records = try await Records.open(database: try await openDatabase("var/tulga.sqlite"),
///                                      keys: try ServiceKeys(folder: "var/keys"))
/// try await records.registry.upsert(entry)
/// ```
public final class Records: Sendable {
    /// The shared database; its transactions carry the audit key.
    public let database: any SQLDatabase
    /// The service's keys.
    public let keys: ServiceKeys
    /// The evidence key photos and moderation evidence are sealed with.
    public var cipher: SealingKey { keys.evidence }
    /// The clock every record is stamped with.
    public let clock: any WallClock
    /// The rules' settings.
    public let settings: RecordSettings
    /// People and their sealed photos.
    public let registry: RegistryRecords
    /// Attempts, the per-IIN counter, in-person acceptances and the replay ledger.
    public let attempts: AttemptRecords
    /// Moderation cases and moderators.
    public let moderation: ModerationRecords
    /// Digital IDs, PINs and consents.
    public let digitalIDs: DigitalIDRecords
    /// Calling systems' API keys.
    public let apiKeys: APIKeyRecords
    /// Phones, SMS codes, applications, certificates, CRL and OCSP.
    public let issuance: IssuanceService
    /// The legal-entity register: organisations, first heads, employees' roles.
    public let legalEntities: LegalEntityRecords
    /// The browser portal's sessions.
    public let portal: PortalSessionRecords

    init(database: any SQLDatabase, keys: ServiceKeys, settings: RecordSettings, clock: any WallClock, ca: LocalCA?) {
        self.database = database
        self.keys = keys
        let cipher = keys.evidence
        self.clock = clock
        self.settings = settings
        let context = RecordContext(database: database, clock: clock)
        registry = RegistryRecords(context, cipher: cipher)
        attempts = AttemptRecords(context, policy: settings.attempts)
        moderation = ModerationRecords(context, cipher: cipher, settings: settings.moderation)
        digitalIDs = DigitalIDRecords(context)
        apiKeys = APIKeyRecords(context, cipher: cipher)
        legalEntities = LegalEntityRecords(context)
        portal = PortalSessionRecords(context, settings: settings.portal)
        issuance = IssuanceService(database: database, clock: clock, digitalIDs: digitalIDs, ca: ca, outboxKey: keys.outbox, sms: settings.sms,
                                   lifecycle: settings.applications, attempts: settings.attempts, documentStepRequired: settings.documentStepRequired)
    }

    /// Every module's migrations, in the one order they are applied.
    public static var migrator: Migrator {
        var migrator = Migrator()
        AuditLog.register(&migrator)
        Outbox.register(&migrator)
        KeyUse.register(&migrator)
        RegistryRecords.register(&migrator)
        AttemptRecords.register(&migrator)
        ModerationRecords.register(&migrator)
        DigitalIDRecords.register(&migrator)
        LegalEntityRecords.register(&migrator)
        IssuanceService.register(&migrator)
        APIKeyRecords.register(&migrator)
        PortalSessionRecords.register(&migrator)
        return migrator
    }

    /// Every module's sealed columns, for re-sealing under a new key.
    public static let sealedColumns = [RegistryRecords.sealed, RegistryRecords.sealedReference, ModerationRecords.sealed, ModerationRecords.sealedDocument,
                                       AttemptRecords.sealed]

    /// Migrates `database` and opens every module's records on it. The migrations that bind sealed values
    /// to their rows seal again, in their own transactions, what earlier builds left unbound or in clear.
    ///
    /// - Parameters:
    ///   - database: the database to migrate and use.
    ///   - keys: the service's keys (``ServiceKeys``).
    ///   - settings: the rules' settings.
    ///   - clock: the clock; ``SystemClock`` unless testing.
    ///   - ca: the local CA, when issuance should sign.
    /// - Returns: Every module's records on `database`.
    /// - Throws: ``DatabaseFailure`` if a migration fails.
    public static func open(database: any SQLDatabase, keys: ServiceKeys, settings: RecordSettings = RecordSettings(),
                            clock: any WallClock = SystemClock(), ca: LocalCA? = nil) async throws -> Records {
        let database = KeyedDatabase(database, auditKey: keys.audit)
        try await migrator.migrate(database, keys: keys, now: clock.now())
        // The binding migrations are done: nothing unbound is opened again, whatever the database says later.
        if keys.acceptsUnbound { try keys.markBound() }
        let records = Records(database: database, keys: keys, settings: settings, clock: clock, ca: ca)
        // Keys offered before `issuance.v3` join the once-only list (a no-op once done).
        try await records.issuance.recordEarlierKeys()
        return records
    }

    /// Recomputes the audit chain.
    ///
    /// - Parameter checkpoints: also check these checkpoints against the chain.
    /// - Returns: Whether the chain is intact and, if not, where it breaks.
    /// - Throws: ``DatabaseFailure`` from the database.
    public func verifyAudit(checkpoints: CheckpointCheck? = nil) async throws -> AuditVerification {
        try await AuditLog.verify(database, key: keys.audit, checkpoints: checkpoints)
    }
    /// Audit rows, for one subject or all.
    ///
    /// - Parameter subject: only rows about this record; `nil` for all.
    /// - Returns: The rows in sequence order.
    /// - Throws: ``DatabaseFailure`` from the database; ``StorageError`` `.damagedRow` if a row cannot be read.
    public func auditEntries(subject: String? = nil) async throws -> [AuditEntry] { try await AuditLog.entries(database, subject: subject) }
    /// The SMS outbox, for one IIN or all.
    ///
    /// - Parameter iin: only this applicant's messages; `nil` for all.
    /// - Returns: The messages, oldest first.
    /// - Throws: ``DatabaseFailure`` from the database; ``StorageError`` `.damagedRow` if a row cannot be read.
    public func outbox(iin: String? = nil) async throws -> [OutboxMessage] { try await Outbox.messages(database, key: keys.outbox, iin: iin) }
    /// Pending SMS for the gateway, oldest first (not yet marked).
    public func pendingSMS() async throws -> [OutboxMessage] { try await Outbox.pending(database, key: keys.outbox) }
    /// Marks SMS handed to the gateway.
    /// - Parameter ids: the messages written out.
    public func markSMSSent(_ ids: [String]) async throws { try await Outbox.markSent(database, ids: ids, at: clock.now()) }
    /// Hands the outbox's due e-mails to the SMTP server; failures stay pending with their next try.
    /// - Parameter client: the SMTP client for the `mail` settings.
    /// - Returns: How many were sent and how many failed (with reasons, no addresses).
    /// - Throws: ``DatabaseFailure`` or ``StorageError`` from the outbox.
    public func deliverMail(_ client: SMTPClient) async throws -> MailDelivery.Report {
        try await MailDelivery.sendPending(database, key: keys.outbox, clock: clock, client: client)
    }
}
