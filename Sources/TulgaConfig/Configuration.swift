public import Foundation
public import TulgaFace
public import TulgaFlow
public import TulgaIssuance
public import TulgaLiveness
public import TulgaModeration
public import TulgaPolicy

/// tulga's settings. A JSON file overrides any subset of the defaults; `$TULGA_CONFIG` or
/// `--config` names it, else `./config/tulga.json` is read when present.
///
/// ```json
/// { "face": { "matchThreshold": 0.40, "detection": { "longSide": 320 } } }
/// ```
public struct Configuration: Sendable, Codable {
    public var face = FaceConfig()
    public var liveness = LivenessConfig()
    public var policy = PolicyConfig()
    public var storage = StorageConfig()
    public var ca = CAConfig()
    public var sms = SMSCodePolicy()
    public var server = ServerConfig()
    public var background = BackgroundSettings()
    public var calibration = Calibration()

    /// What the records enforce, from the policy and SMS sections.
    public var recordSettings: RecordSettings {
        var s = RecordSettings()
        s.attempts = AttemptPolicy(maxAttempts: policy.maxAttempts)
        s.moderation.leaseSeconds = policy.leaseMinutes * 60
        s.moderation.slaSeconds = policy.slaHours * 3600
        s.sms = sms
        return s
    }

    public init() {}

    /// Loads `path` over the defaults. A malformed file is an error that names it.
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
        do {
            return try JSONDecoder().decode(Configuration.self, from: JSONSerialization.data(withJSONObject: merged))
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.dataCorrupted(context) {
            throw ConfigurationError(path: path, reason: "wrong type at \(context.codingPath.map(\.stringValue).joined(separator: "."))")
        } catch {
            throw ConfigurationError(path: path, reason: "\(error)")
        }
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
public struct ConfigurationError: Error, CustomStringConvertible, Sendable {
    public let path: String
    public let reason: String
    public var description: String { path.isEmpty ? "config: \(reason)" : "config \(path): \(reason)" }
}

/// Attempts, score bands and moderation timing.
public struct PolicyConfig: Sendable, Codable {
    public var maxAttempts = 5
    /// Pass at or above this cosine score (with passed liveness).
    public var acceptThreshold = 0.363
    /// Between this and `acceptThreshold` a moderator decides; below it the attempt fails.
    public var reviewThreshold = 0.31
    public var leaseMinutes = 15.0
    public var slaHours = 24.0

    public var bands: DecisionBands { DecisionBands(accept: acceptThreshold, review: reviewThreshold) }
}

/// HTTP settings (the `server` section).
public struct ServerConfig: Sendable, Codable {
    public var host = "127.0.0.1"
    public var port = 8080
    public var frameMaxBytes = 2 << 20
    public var clipMaxBytes = 20 << 20
    public var clipMaxFrames = 600
    public var sessionIdleSeconds = 120.0
    public var rateLimitPerKeyPerMinute = 6000.0
    public var rateLimitPerIINPerMinute = 20.0
    /// Face pipelines (one per core is the throughput sweet spot).
    public var pipelines = 2
    public var idleTimeoutSeconds = 30
    public init() {}
}

/// Where records and the evidence key live.
public struct StorageConfig: Sendable, Codable {
    /// `var/tulga.sqlite` (embedded default), `sqlite:PATH`, or `postgres://user@host:port/db`.
    public var database = "var/tulga.sqlite"
    /// 32-byte AES-256-GCM key for evidence at rest, outside the database; created 0600 if missing.
    public var keyFile = "var/evidence.key"
}

/// The numbers behind the default thresholds, from `tulga eval` (kept with the config they justify).
public struct Calibration: Sendable, Codable {
    public var command = "tulga eval"
    public var images = 28
    public var identities = 7
    public var genuinePairs = 69
    public var impostorPairs = 231
    public var genuineMin = 0.341
    public var impostorMax = 0.305
    public var eer = 0.0
    public var fmrAtAccept = 0.0
    public var fnmrAtAccept = 0.0145
    public var fmrAtReview = 0.0
    public var fnmrAtReview = 0.0
    public var caveat = "7 identities and 300 pairs: an FMR below about 1/231 cannot be measured here; the SFace LFW figure (99.40%) is accuracy at one threshold on another population"
}
