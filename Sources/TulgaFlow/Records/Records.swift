public import Foundation
public import TulgaAPIKeys
public import TulgaAttempts
public import TulgaCore
public import TulgaCrypto
public import TulgaDigitalID
public import TulgaIssuance
public import TulgaModeration
public import TulgaPolicy
public import TulgaRegistry
public import TulgaStorage

/// The rules' settings that records enforce.
public struct RecordSettings: Sendable, Hashable {
    public var attempts = AttemptPolicy()
    public var moderation = ModerationSettings()
    public var sms = SMSCodePolicy()
    public var applications = ApplicationLifecycle()
    public init() {}
}

/// Every module's records on one database, one evidence cipher and one clock. Each module owns
/// its tables; this only opens them together and applies their migrations in one order.
///
/// ```swift
/// let records = try await Records.open(database: try openDatabase("var/tulga.sqlite"),
///                                      cipher: try EvidenceCipher(keyFile: "var/evidence.key"))
/// try await records.registry.upsert(entry)
/// ```
public final class Records: Sendable {
    public let database: any SQLDatabase
    public let cipher: EvidenceCipher
    public let clock: any WallClock
    public let settings: RecordSettings
    public let registry: RegistryRecords
    public let attempts: AttemptRecords
    public let moderation: ModerationRecords
    public let digitalIDs: DigitalIDRecords
    public let apiKeys: APIKeyRecords
    public let issuance: IssuanceService

    init(database: any SQLDatabase, cipher: EvidenceCipher, settings: RecordSettings, clock: any WallClock, ca: LocalCA?) {
        self.database = database
        self.cipher = cipher
        self.clock = clock
        self.settings = settings
        let context = RecordContext(database: database, clock: clock)
        registry = RegistryRecords(context, cipher: cipher)
        attempts = AttemptRecords(context, policy: settings.attempts)
        moderation = ModerationRecords(context, cipher: cipher, settings: settings.moderation)
        digitalIDs = DigitalIDRecords(context)
        apiKeys = APIKeyRecords(context)
        issuance = IssuanceService(database: database, cipher: cipher, clock: clock, digitalIDs: digitalIDs, ca: ca, sms: settings.sms,
                                   lifecycle: settings.applications)
    }

    /// Every module's migrations, in the one order they are applied.
    public static var migrator: Migrator {
        var migrator = Migrator()
        AuditLog.register(&migrator)
        Outbox.register(&migrator)
        RegistryRecords.register(&migrator)
        AttemptRecords.register(&migrator)
        ModerationRecords.register(&migrator)
        DigitalIDRecords.register(&migrator)
        IssuanceService.register(&migrator)
        APIKeyRecords.register(&migrator)
        return migrator
    }

    /// Migrates `database` and opens every module's records on it.
    /// - Parameters:
    ///   - ca: the local CA, when issuance should sign.
    /// - Throws: ``DatabaseFailure`` if a migration fails.
    public static func open(database: any SQLDatabase, cipher: EvidenceCipher, settings: RecordSettings = RecordSettings(),
                            clock: any WallClock = SystemClock(), ca: LocalCA? = nil) async throws -> Records {
        try await migrator.migrate(database)
        return Records(database: database, cipher: cipher, settings: settings, clock: clock, ca: ca)
    }

    /// The same records with a CA (the server and `issuance issue` open the CA after the store).
    public func with(ca: LocalCA?) -> Records {
        Records(database: database, cipher: cipher, settings: settings, clock: clock, ca: ca)
    }

    /// Recomputes the audit chain.
    public func verifyAudit() async throws -> AuditVerification { try await AuditLog.verify(database) }
    /// Audit rows, for one subject or all.
    public func auditEntries(subject: String? = nil) async throws -> [AuditEntry] { try await AuditLog.entries(database, subject: subject) }
    /// The SMS outbox, for one IIN or all.
    public func outbox(iin: String? = nil) async throws -> [OutboxMessage] { try await Outbox.messages(database, iin: iin) }
    /// Pending SMS for the gateway, marked sent.
    public func takePendingSMS() async throws -> [OutboxMessage] { try await Outbox.takePending(database, at: clock.now()) }
}
