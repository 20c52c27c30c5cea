public import Foundation
public import TulgaCore
public import TulgaFace
public import TulgaFlow
public import TulgaEvaluation
public import TulgaIssuance
public import TulgaLiveness
public import TulgaMail
import TulgaModeration
public import TulgaPolicy
public import TulgaPortal

/// tulga's settings. A JSON file overrides any subset of the defaults; `$TULGA_CONFIG` or
/// `--config` names it, else `./config/tulga.json` is read when present.
///
/// ```json
/// { "face": { "matchThreshold": 0.40, "detection": { "longSide": 320 } } }
/// ```
///
/// ```swift
/// let config = try Configuration.load(path: "config/tulga.json")
/// let records = try await Records.open(database: try await openDatabase(config.storage.database),
///                                      keys: try ServiceKeys(folder: config.storage.keysFolder),
///                                      settings: config.recordSettings)
/// ```
public struct Configuration: Sendable, Codable {
    /// Models, detection, decoding, quality and the match threshold (the `face` section).
    public var face = FaceConfig()
    /// The liveness challenge's thresholds (the `liveness` section).
    public var liveness = LivenessConfig()
    /// Attempts, score bands and moderation timing (the `policy` section).
    public var policy = PolicyConfig()
    /// The database, the keys folder and the service's other folders (the `storage` section).
    public var storage = StorageConfig()
    /// The local CA's files and validity (the `ca` section).
    public var ca = CAConfig()
    /// The SMS-code rules (the `sms` section).
    public var sms = SMSCodePolicy()
    /// HTTP settings (the `server` section).
    public var server = ServerConfig()
    /// Background services (the `background` section).
    public var background = BackgroundSettings()
    /// The SMTP server applicants' e-mails go to (the `mail` section); disabled by default.
    public var mail = MailSettings()
    /// The browser portal at `/app/`: the key agent's port, session lifetimes (the `portal` section).
    public var portal = PortalSettings()
    /// The evaluation behind the default thresholds; informational.
    public var calibration = Calibration()

    /// What the records enforce, from the policy and SMS sections.
    public var recordSettings: RecordSettings {
        var s = RecordSettings()
        s.attempts = AttemptPolicy(maxAttempts: policy.maxAttempts, leaseSeconds: policy.attemptLeaseMinutes * 60)
        s.moderation.leaseSeconds = policy.leaseMinutes * 60
        s.moderation.slaSeconds = policy.slaHours * 3600
        s.sms = sms
        s.documentStepRequired = policy.documentStepRequired
        s.portal = portal
        return s
    }

    /// The defaults, with no file read.
    public init() {}

    /// Loads `path` over the defaults. A malformed file is an error that names it.
    ///
    /// - Parameter explicit: the file to read; `$TULGA_CONFIG`, then `config/tulga.json`, when `nil`.
    /// - Returns: The defaults with the file's settings laid over them; the defaults alone when no file
    ///   was named and `config/tulga.json` is absent.
    /// - Throws: ``ConfigurationError`` for a named file that is missing or unreadable, or what
    ///   ``decode(_:path:)`` throws.
    public static func load(path explicit: String? = nil) throws -> Configuration {
        let env = ProcessInfo.processInfo.environment["TULGA_CONFIG"]
        let candidate = explicit ?? env ?? "config/tulga.json"
        guard FileManager.default.fileExists(atPath: candidate) else {
            if explicit != nil || env != nil { throw ConfigurationError(path: candidate, reason: "file not found") }
            return Configuration()
        }
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: candidate)) } catch {
            throw ConfigurationError(path: candidate, reason: "cannot read it")
        }
        return try decode(data, path: candidate)
    }

    /// Decodes a JSON document laid over the defaults.
    ///
    /// Every key must name an existing setting; objects merge key by key.
    ///
    /// - Parameters:
    ///   - data: the JSON document.
    ///   - path: the file it came from, for error messages.
    /// - Returns: The defaults with the document's settings laid over them.
    /// - Throws: ``ConfigurationError`` for invalid JSON, a top level that is not an object, an unknown
    ///   setting, or a value of the wrong type.
    public static func decode(_ data: Data, path: String = "(inline)") throws -> Configuration {
        let overrides: Any
        do { overrides = try JSONSerialization.jsonObject(with: data) } catch {
            throw ConfigurationError(path: path, reason: "not valid JSON")
        }
        guard let overrideDict = overrides as? [String: Any] else {
            throw ConfigurationError(path: path, reason: "the top level must be a JSON object")
        }
        let defaults = try JSONSerialization.jsonObject(with: JSONEncoder().encode(Configuration())) as? [String: Any] ?? [:]
        let merged: [String: Any]
        do { merged = try merge(defaults, overrideDict, path: "") } catch let error as ConfigurationError {
            throw ConfigurationError(path: path, reason: error.reason)
        }
        let configuration: Configuration
        do {
            configuration = try JSONDecoder().decode(Configuration.self, from: JSONSerialization.data(withJSONObject: merged))
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.dataCorrupted(context) {
            throw ConfigurationError(path: path, reason: "wrong type at \(context.codingPath.map(\.stringValue).joined(separator: "."))")
        } catch {
            throw ConfigurationError(path: path, reason: "\(error)")
        }
        // A running attempt's lease must outlive its session, or a live session's attempt could be released.
        guard configuration.policy.attemptLeaseMinutes * 60 >= configuration.server.sessionIdleSeconds + 120 else {
            throw ConfigurationError(path: path, reason: "policy.attemptLeaseMinutes must cover server.sessionIdleSeconds plus two minutes")
        }
        if let problem = configuration.mail.problems().first { throw ConfigurationError(path: path, reason: problem) }
        let base = configuration.ca.publicBaseURL
        guard base.isEmpty || IssuanceService.origin(of: base) != nil else {
            throw ConfigurationError(path: path, reason: "ca.publicBaseURL must be an http(s) URL with a host, or empty to derive it from server.host and server.port")
        }
        return configuration
    }

    /// `$TULGA_HOST` and `$TULGA_PORT` laid over `server.host` and `server.port`. Every command applies
    /// them (``caSettings`` derives the CA's public URL from the result), so `tulga serve`, `tulga issuance`
    /// and the kiosk name the same OCSP and CRL address in the certificates they issue.
    ///
    /// - Parameter environment: the process environment (only `TULGA_HOST` and `TULGA_PORT` are read; empty is unset).
    /// - Throws: ``ConfigurationError`` for a `TULGA_PORT` that is not a port number (0 to 65535).
    public mutating func applyAddressEnvironment(_ environment: [String: String]) throws {
        if let host = environment["TULGA_HOST"], !host.isEmpty { server.host = host }
        if let text = environment["TULGA_PORT"], !text.isEmpty {
            guard let port = Int(text), (0...65535).contains(port) else {
                throw ConfigurationError(path: "", reason: "TULGA_PORT must be a port number (0 to 65535), not \(text.prefix(32))")
            }
            server.port = port
        }
    }

    /// What `tulga serve` warns of when ``CAConfig/publicBaseURL`` is empty and the CA's public URL is derived
    /// from where it listens: `serving` (its `--host`/`--port` over `configured`) naming another origin than
    /// `configured` (the configuration and `$TULGA_HOST`/`$TULGA_PORT`, which every other command reads), or
    /// a wildcard host (`0.0.0.0`, `::`), read as the loopback address only this machine reaches.
    ///
    /// - Parameters:
    ///   - configured: the configuration other commands derive from.
    ///   - serving: the same with `tulga serve`'s own flags.
    /// - Returns: The warning, or `nil` when `publicBaseURL` is set or both derive the same reachable origin.
    public static func publicBaseURLWarning(configured: Configuration, serving: Configuration) -> String? {
        guard serving.ca.publicBaseURL.isEmpty else { return nil }
        let (mine, theirs) = (serving.server.origin, configured.server.origin)
        if mine != theirs {
            return "ca.publicBaseURL is empty, so it is derived from where each process thinks the service listens: tulga serve's --host/--port give "
                + "\(mine), other commands (tulga issuance, the kiosk) \(theirs) from the configuration and $TULGA_HOST/$TULGA_PORT, and the OCSP and "
                + "CRL URLs in the certificates they issue differ: set ca.publicBaseURL (or TULGA_HOST/TULGA_PORT for every command)"
        }
        if ["", "0.0.0.0", "::", "[::]"].contains(serving.server.host.lowercased()) {
            return "ca.publicBaseURL is empty and the service listens on a wildcard address (\(serving.server.host.isEmpty ? "all" : serving.server.host)): "
                + "the CA's public URL is derived as \(mine)/pki, which only this machine reaches: set ca.publicBaseURL to the address applicants use"
        }
        return nil
    }

    /// The CA settings, with ``CAConfig/publicBaseURL`` derived from where the service listens when it
    /// is not set: `http://<server.host>:<server.port>/pki` (a wildcard address as the loopback one), after
    /// ``applyAddressEnvironment(_:)``. The sign-in audience is its origin, the page's own: set it when
    /// applicants reach the service under another name.
    public var caSettings: CAConfig {
        var settings = ca
        if settings.publicBaseURL.isEmpty { settings.publicBaseURL = server.origin + "/pki" }
        return settings
    }

    private static func merge(_ base: [String: Any], _ over: [String: Any], path: String) throws -> [String: Any] {
        var out = base
        for (key, value) in over {
            let here = path.isEmpty ? key : "\(path).\(key)"
            guard let existing = base[key] else { throw ConfigurationError(path: "", reason: "unknown setting \(here)") }
            if let a = existing as? [String: Any] {
                guard let b = value as? [String: Any] else { throw ConfigurationError(path: "", reason: "\(here) must be an object") }
                out[key] = try merge(a, b, path: here)
            } else {
                out[key] = value
            }
        }
        return out
    }
}

/// A configuration file that cannot be used.
public struct ConfigurationError: TulgaError, Hashable {
    /// The file, or empty when the problem is not tied to one.
    public let path: String
    /// What is wrong, e.g. `unknown setting face.foo`.
    public let reason: String
    public let fileID: String
    public let line: Int
    /// - Parameters:
    ///   - path: the file, or empty.
    ///   - reason: what is wrong.
    public init(path: String, reason: String, fileID: String = #fileID, line: Int = #line) {
        (self.path, self.reason, self.fileID, self.line) = (path, reason, fileID, line)
    }
    /// `config PATH: reason`.
    public var description: String { path.isEmpty ? "config: \(reason)" : "config \(path): \(reason)" }
    public var errorCode: String { "configuration" }
    public var kind: ProblemKind { .invalid }
    public static func == (a: Self, b: Self) -> Bool { a.errorCode == b.errorCode }
    public func hash(into hasher: inout Hasher) { hasher.combine(errorCode) }
}

/// Attempts, score bands and moderation timing.
public struct PolicyConfig: Sendable, Codable {
    /// Failed plus running attempts allowed before the in-person path opens.
    public var maxAttempts = 5
    /// Pass at or above this cosine score (with passed liveness).
    public var acceptThreshold = 0.363
    /// Between this and `acceptThreshold` a moderator decides; below it the attempt fails.
    public var reviewThreshold = 0.31
    /// How long a moderator's claim lasts, in minutes.
    public var leaseMinutes = 15.0
    /// How long a running attempt holds its place, in minutes; a verification session lives at
    /// most this long less a minute, and a lease left by a crash is released after it.
    public var attemptLeaseMinutes = 15.0
    /// How long an open case may wait before it is over the SLA, in hours.
    public var slaHours = 24.0
    /// Whether a Digital ID needs the identity-document step (the ID card or passport photographed,
    /// its data confirmed and compared with the registry, its portrait with the selfie) before it
    /// files an application.
    public var documentStepRequired = true

    /// The score bands for the attempt decision.
    public var bands: DecisionBands { DecisionBands(accept: acceptThreshold, review: reviewThreshold) }
}

/// HTTP settings (the `server` section).
public struct ServerConfig: Sendable, Codable {
    /// The address to listen on.
    public var host = "127.0.0.1"
    /// The port to listen on.
    public var port = 8080

    /// Where a browser on this machine reaches the service: `http://host:port`, the wildcard addresses
    /// (`0.0.0.0`, `::`) as the loopback ones, an IPv6 address in brackets.
    public var origin: String {
        let name = switch host.lowercased() {
        case "", "0.0.0.0": "127.0.0.1"
        case "::", "[::]": "[::1]"
        case let other where other.contains(":") && !other.hasPrefix("["): "[\(other)]"
        case let other: other
        }
        return "http://\(name):\(port)"
    }
    /// The largest single-frame upload, in bytes.
    public var frameMaxBytes = 2 << 20
    /// The largest clip upload, in bytes.
    public var clipMaxBytes = 20 << 20
    /// The most frames a clip may hold.
    public var clipMaxFrames = 600
    /// The longest a clip may last, in seconds.
    public var clipMaxSeconds = 30.0
    /// Liveness frames and selfies (posted, in clips, from a camera) may be at most this many
    /// pixels on their longer side…
    public var frameMaxLongSide = 1920
    /// …and on their shorter side; checked from the headers before anything is decoded.
    public var frameMaxShortSide = 1080
    /// The largest document photo upload (a side of an ID card, a passport page), in bytes.
    public var documentMaxBytes = 4 << 20
    /// The most pixels a document photo may declare (checked from its header before decoding; large
    /// JPEGs are then decoded at a reduced scale, as `face.decode` says).
    public var documentMaxPixels = 12_000_000
    /// How long after its verification a session's identity-document step stays open on this node,
    /// in minutes (the selfie is kept in memory for it, never stored).
    public var documentStepMinutes = 60.0
    /// Seconds a verification session may sit idle before it is dropped.
    public var sessionIdleSeconds = 120.0
    /// Seconds a verification session may go without a usable face or a selfie before it is dropped
    /// (so no key holds someone's attempts with empty sessions).
    public var sessionFaceWithinSeconds = 60.0
    /// Requests allowed per API key per minute.
    public var rateLimitPerKeyPerMinute = 6000.0
    /// Requests allowed per IIN per minute.
    public var rateLimitPerIINPerMinute = 20.0
    /// Failed authentications allowed per client address per minute (then 429 for unknown keys).
    public var authFailuresPerAddressPerMinute = 20.0
    /// Behind a reverse proxy that sets `X-Forwarded-For`: take the client address from its last hop.
    public var trustForwardedFor = false
    /// Verification sessions an API key may create per minute.
    public var sessionsPerKeyPerMinute = 120.0
    /// Wrong PINs (anyone's) a calling system may send per minute before it waits (429).
    public var wrongPINsPerKeyPerMinute = 5.0
    /// Face pipelines (one per core is the throughput sweet spot).
    public var pipelines = 2
    /// The HTTP connection idle timeout, in seconds.
    public var idleTimeoutSeconds = 30
    /// `/health/ready` fails when an SMS has waited longer than this for the gateway (a stuck hand-off).
    public var readyOutboxMaxAgeSeconds = 900.0
    /// `/health/ready` fails when the database has not answered within this many seconds.
    public var readyDatabaseTimeoutSeconds = 3.0
    /// The defaults above.
    public init() {}
}

/// Where records, keys and the service's files live.
public struct StorageConfig: Sendable, Codable {
    /// `var/tulga.sqlite` (embedded default), `sqlite:PATH`, or `postgres://user@host:port/db`, with libpq's
    /// `?sslmode=…&sslrootcert=CA.pem`: without `sslmode`, `verify-full` against the system's trust roots unless
    /// the host is loopback (then `prefer`).
    public var database = "var/tulga.sqlite"
    /// The service's keys (evidence, outbox, audit, audit-signing), outside the database; `tulga init` creates them.
    public var keysFolder = "var/keys"
    /// Signed audit checkpoints, written once each; mount it from elsewhere to keep it out of reach of the database's writers.
    public var checkpointFolder = "var/audit-checkpoints"
    /// The published audit-signing public key (base64), pinned: `audit verify` trusts only it, and `serve`
    /// refuses a signing key that is not it. Empty: the key in the keys folder.
    public var auditPublicKey = ""
    /// The moderators' comparison PNGs; purged with the evidence they show.
    public var reviewFolder = "var/review"
    /// Private temporary files (uploaded clips); emptied when `tulga serve` starts.
    public var temporaryFolder = "var/tmp"
}

