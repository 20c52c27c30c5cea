public import Foundation
public import TulgaCore
import Crypto

/// The HMAC-SHA-256 key the audit log's rows are chained with, outside the database:
/// `<folder>/audit.key` (32 bytes, 0600) or `$TULGA_AUDIT_KEY` (64 hex digits).
public struct AuditKey: Sendable {
    /// The first 16 hex digits of the key's SHA-256.
    public let keyID: String
    private let key: SymmetricKey

    /// Loads the key from `$TULGA_AUDIT_KEY` when set, else from the folder.
    ///
    /// - Parameter folder: the keys folder.
    /// - Throws: ``KeyFileError`` `.missing` or `.invalid`.
    public init(folder: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        if let text = environment["TULGA_AUDIT_KEY"], !text.isEmpty {
            guard let bytes = unhex(text), bytes.count == 32 else { throw KeyFileError(.invalid, "TULGA_AUDIT_KEY must be 64 hex digits") }
            self.init(material: Data(bytes))
        } else {
            self.init(material: try KeyFiles.read(Self.path(folder), what: "audit key", length: 32))
        }
    }

    init(material: Data) {
        key = SymmetricKey(data: material)
        keyID = SealingKey.id(material)
    }

    static func path(_ folder: String) -> String { (folder as NSString).appendingPathComponent("audit.key") }

    /// HMAC-SHA-256 of `message`, hex.
    public func mac(_ message: Data) -> String { hex(HMAC<SHA256>.authenticationCode(for: message, using: key)) }
}

/// The Ed25519 key audit checkpoints are signed with: `<folder>/audit-signing.key` (its 32-byte
/// private representation, 0600). Whoever can rewrite the database but does not hold this key cannot
/// make a checkpoint agree with a rewritten log.
public struct AuditSigner: Sendable {
    private let key: Curve25519.Signing.PrivateKey

    /// Loads the signing key.
    ///
    /// - Parameter folder: the keys folder.
    /// - Throws: ``KeyFileError`` `.missing` or `.invalid`.
    public init(folder: String) throws {
        let material = try KeyFiles.read(Self.path(folder), what: "audit-signing key", length: 32)
        do { key = try Curve25519.Signing.PrivateKey(rawRepresentation: material) } catch {
            throw KeyFileError(.invalid, "the audit-signing key \(Self.path(folder)) is not an Ed25519 key")
        }
    }

    static func path(_ folder: String) -> String { (folder as NSString).appendingPathComponent("audit-signing.key") }

    /// The public key, base64 of its 32 raw bytes: what checkpoints are verified with.
    public var publicKey: String { key.publicKey.rawRepresentation.base64EncodedString() }

    /// Signs `message`.
    ///
    /// - Returns: The Ed25519 signature, base64.
    /// - Throws: `CryptoFailure` if signing fails.
    public func sign(_ message: Data) throws -> String {
        do { return try key.signature(for: message).base64EncodedString() } catch { throw CryptoFailure("Ed25519 signing failed") }
    }

    /// Whether `signature` (base64) is `publicKey`'s (base64) signature of `message`.
    public static func verify(_ signature: String, of message: Data, publicKey: String) -> Bool {
        guard let raw = Data(base64Encoded: publicKey), let key = try? Curve25519.Signing.PublicKey(rawRepresentation: raw),
              let signature = Data(base64Encoded: signature) else { return false }
        return key.isValidSignature(signature, for: message)
    }
}

/// The service's keys, each with one purpose, all in one folder outside the database
/// (`var/keys` by default, 0700): `evidence.key` (biometric evidence, registry photos, API-key
/// lookups), `outbox.key` (SMS bodies until handed off), `audit.key` (the audit chain's MACs) and
/// `audit-signing.key` (checkpoints). `tulga init` creates them; everything else refuses to start
/// without them.
///
/// ```swift
/// try ServiceKeys.create(folder: "var/keys")        // tulga init
/// let keys = try ServiceKeys(folder: "var/keys")
/// ```
public struct ServiceKeys: Sendable {
    /// Seals biometric evidence and registry photos.
    public let evidence: SealingKey
    /// Seals SMS bodies until they are handed to the gateway.
    public let outbox: SealingKey
    /// Chains the audit log.
    public let audit: AuditKey
    /// The folder they were read from.
    public let folder: String
    /// Whether values an earlier build sealed without associated data may still be opened (to bind
    /// them, once). False once `<folder>/bound` exists: `the records write it after the binding
    /// migrations; kept outside the database, so a database writer cannot
    /// reopen that path.
    public let acceptsUnbound: Bool

    static func boundMarker(_ folder: String) -> String { (folder as NSString).appendingPathComponent("bound") }

    /// Closes the unbound path for good (see ``acceptsUnbound``).
    ///
    /// - Throws: ``FileFailure`` if the marker cannot be written.
    public func markBound() throws {
        guard PrivateFile.mode(Self.boundMarker(folder)) == nil else { return }
        do { try PrivateFile.createWhole(Self.boundMarker(folder), Data("values are bound to their rows\n".utf8)) } catch {
            if PrivateFile.mode(Self.boundMarker(folder)) == nil { throw error }
        }
    }

    /// Loads every key the records need (not the signing key: only checkpoints need it).
    ///
    /// - Parameter folder: the keys folder.
    /// - Throws: ``KeyFileError`` `.missing` naming the first missing file, or `.invalid`.
    public init(folder: String) throws {
        self.folder = folder
        evidence = try SealingKey(name: "evidence", folder: folder)
        outbox = try SealingKey(name: "outbox", folder: folder)
        audit = try AuditKey(folder: folder)
        acceptsUnbound = PrivateFile.mode(Self.boundMarker(folder)) == nil
    }

    /// The records' key files no longer on disk (the audit key counts as present when `$TULGA_AUDIT_KEY` gives it):
    /// what a readiness check reports, since a restart would then fail.
    ///
    /// - Parameter environment: where `TULGA_AUDIT_KEY` is looked up.
    /// - Returns: The missing file names, empty when all are there.
    public func missingFiles(environment: [String: String] = ProcessInfo.processInfo.environment) -> [String] {
        let audit = (environment["TULGA_AUDIT_KEY"] ?? "").isEmpty ? ["audit.key"] : []
        return (["evidence.key", "outbox.key"] + audit).filter { PrivateFile.mode((folder as NSString).appendingPathComponent($0)) == nil }
    }

    /// The keys missing from `folder`, by file name.
    public static func missing(folder: String) -> [String] {
        ["evidence.key", "outbox.key", "audit.key", "audit-signing.key"].filter { PrivateFile.mode((folder as NSString).appendingPathComponent($0)) == nil }
    }

    /// Creates whichever keys are missing (0600, each written whole, in a 0700 folder); an existing key is never replaced.
    ///
    /// - Parameter folder: the keys folder.
    /// - Returns: The files created.
    /// - Throws: `CryptoFailure` if the CSPRNG fails; ``FileFailure`` if a file cannot be written.
    @discardableResult
    public static func create(folder: String) throws -> [String] {
        try PrivateFile.makeOwnFolder(folder)
        var created: [String] = []
        for name in ["evidence", "outbox"] where try SealingKey.create(name: name, folder: folder) {
            created.append(SealingKey.path(folder, name))
        }
        if PrivateFile.mode(AuditKey.path(folder)) == nil {
            try PrivateFile.createWhole(AuditKey.path(folder), Data(try randomBytes(32)))
            created.append(AuditKey.path(folder))
        }
        if PrivateFile.mode(AuditSigner.path(folder)) == nil {
            try PrivateFile.createWhole(AuditSigner.path(folder), Curve25519.Signing.PrivateKey().rawRepresentation)
            created.append(AuditSigner.path(folder))
        }
        return created
    }
}
