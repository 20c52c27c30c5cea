import Foundation
public import Hummingbird
public import Logging
import Metrics
import Prometheus
import ServiceLifecycle
public import TulgaConfig
import TulgaCore
public import TulgaFace
public import TulgaFlow
public import TulgaLiveness
public import TulgaPolicy
import HTTPTypes
import TulgaAttempts
import TulgaModeration
import TulgaPortal

/// Everything routes need, built once.
public struct ServerEnvironment: Sendable {
    let config: ServerConfig
    let records: Records
    let runner: AttemptRunner
    let desk: ModerationDesk
    let sessions: VerificationSessions
    /// Why SFace was loaded from its model file rather than its packed copy (a larger start-up peak), if it was.
    public let modelPackProblem: String?
    /// Why SFace's packed copy was written at this start (missing, or the file found there was refused), if it was.
    public let modelRepackReason: String?
    let background: BackgroundSettings
    /// Review PNGs, checkpoints and the audit-signing key, for the background work.
    let files: ServiceFiles
    /// Private temporary files (uploaded clips), emptied at start-up.
    let temporaryFolder: String
    let decodeLimits: DecodeLimits
    /// Liveness frames, clips and selfies.
    let frameLimits: FrameLimits
    /// Document photos: the size in the header, and the face decoding's JPEG scaling.
    let documentLimits: DecodeLimits
    let iinLimiter: RateLimiter
    let keyLimiter: RateLimiter
    /// Failed authentications per client address.
    let authFailureLimiter: RateLimiter
    /// Verification sessions created per API key.
    let sessionLimiter: RateLimiter
    /// Wrong PINs per calling system.
    let pinFailureLimiter: RateLimiter
    /// Browser portal sessions begun per client address.
    let portalSessionLimiter: RateLimiter
    let registry: PrometheusCollectorRegistry
    let queueGauge: Metrics.Gauge
    let sessionsGauge: Metrics.Gauge
    /// `/health/ready`'s checks, one at a time.
    let readiness = ReadinessProbe()

    /// - Parameters:
    ///   - records: every module's records, with the CA for issuance; their clock stamps frames and fills rate buckets too.
    ///   - files: review PNGs, checkpoints and the audit-signing key.
    ///   - temporaryFolder: a private folder for uploaded clips, emptied here; a fresh one under the system's
    ///     temporary folder when `nil`.
    /// - Throws: ``FaceError`` when the models cannot be loaded; ``FileFailure`` when the temporary folder cannot be made.
    public init(config: ServerConfig, records: Records, face: FaceConfig, liveness: LivenessConfig, bands: DecisionBands,
                background: BackgroundSettings = BackgroundSettings(), files: ServiceFiles = ServiceFiles(), temporaryFolder: String? = nil) throws {
        self.config = config
        self.records = records
        self.background = background
        self.files = files
        self.temporaryFolder = try Self.emptyPrivateFolder(temporaryFolder)
        runner = AttemptRunner(records: records, bands: bands, liveness: liveness)
        desk = ModerationDesk(records: records)
        let pool = try FacePipelinePool(config: face, size: config.pipelines)
        modelPackProblem = pool.embedder.packProblem
        modelRepackReason = pool.embedder.repackReason
        // A session ends (through the reaper) a minute before its attempt's lease could expire.
        sessions = VerificationSessions(pool: pool, runner: runner, clock: records.clock, idleSeconds: config.sessionIdleSeconds, faceWithinSeconds: config.sessionFaceWithinSeconds,
                                        lifetimeSeconds: max(60, records.settings.attempts.leaseSeconds - 60), documentSeconds: config.documentStepMinutes * 60)
        decodeLimits = face.decode
        documentLimits = DecodeLimits(maxPixels: config.documentMaxPixels, minLongSide: face.decode.minLongSide, maxBytes: config.documentMaxBytes)
        frameLimits = FrameLimits(maxLongSide: config.frameMaxLongSide, maxShortSide: config.frameMaxShortSide,
                                  maxFrames: config.clipMaxFrames, maxSeconds: config.clipMaxSeconds)
        iinLimiter = RateLimiter(perMinute: config.rateLimitPerIINPerMinute, clock: records.clock)
        keyLimiter = RateLimiter(perMinute: config.rateLimitPerKeyPerMinute, clock: records.clock)
        authFailureLimiter = RateLimiter(perMinute: config.authFailuresPerAddressPerMinute, clock: records.clock)
        sessionLimiter = RateLimiter(perMinute: config.sessionsPerKeyPerMinute, clock: records.clock)
        pinFailureLimiter = RateLimiter(perMinute: config.wrongPINsPerKeyPerMinute, clock: records.clock)
        portalSessionLimiter = RateLimiter(perMinute: records.settings.portal.sessionsPerAddressPerMinute, clock: records.clock)
        registry = MetricsBootstrap.registry
        queueGauge = Metrics.Gauge(label: "tulga_moderation_queue_depth")
        sessionsGauge = Metrics.Gauge(label: "tulga_verification_sessions")
    }
    /// A private folder of this process's own inside `folder` (which must be a real folder this user
    /// owns, made 0700), after removing what processes that are gone left there; a fresh one under the
    /// system's temporary folder when `nil`.
    static func emptyPrivateFolder(_ folder: String?) throws -> String {
        func fresh(_ template: String) throws -> String {
            var bytes = Array(template.utf8CString)
            guard let made = bytes.withUnsafeMutableBufferPointer({ $0.baseAddress.flatMap { mkdtemp($0) } }) else {
                throw FileFailure(template, "cannot make a private folder", errno: errno)
            }
            return String(cString: made)
        }
        guard let folder else { return try fresh(FileManager.default.temporaryDirectory.path + "/tulga-XXXXXX") }
        try PrivateFile.makeOwnFolder(folder)
        for name in (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [] {
            // `<pid>-XXXXXX` of a process still running is its own; anything else was left behind.
            if let pid = name.split(separator: "-").first.flatMap({ Int32($0) }), pid != getpid(), kill(pid, 0) == 0 || errno == EPERM { continue }
            try? FileManager.default.removeItem(atPath: (folder as NSString).appendingPathComponent(name))
        }
        return try fresh((folder as NSString).appendingPathComponent("\(getpid())-XXXXXX"))
    }

}

/// swift-metrics goes to one Prometheus registry per process.
enum MetricsBootstrap {
    static let registry: PrometheusCollectorRegistry = {
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        return registry
    }()
}

/// Finishes idle verification sessions every few seconds; on shutdown, releases the attempts
/// of sessions still open (not counted as failures: the service, not the applicant, stopped).
struct SessionReaper: Service {
    let sessions: VerificationSessions
    func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(5)) }
            await sessions.reap()
        }
        await sessions.abandonAll()
    }
}

/// Builds the Hummingbird application: one route collection per area, middleware (problems,
/// logs, metrics, auth, rate limits), and the session reaper and background work as services in
/// the application's one ServiceGroup, which shuts down on SIGTERM.
public func buildApplication(_ env: ServerEnvironment, logger: Logger) -> some ApplicationProtocol {
    let router = Router(context: TulgaContext.self)
    router.add(middleware: SecurityHeadersMiddleware(agentPort: env.records.settings.portal.agentPort))
    router.add(middleware: RequestLogMiddleware())
    router.add(middleware: MetricsMiddleware())
    router.add(middleware: ProblemMiddleware())
    router.add(middleware: AuthMiddleware(keys: env.records.apiKeys, cache: KeyCache(), failures: env.authFailureLimiter, clock: env.records.clock,
                                         trustForwardedFor: env.config.trustForwardedFor))
    router.add(middleware: KeyRateLimitMiddleware(limiter: env.keyLimiter))
    router.add(middleware: AppSessionMiddleware(env: env))
    router.addRoutes(OperationsRoutes(env: env).collection)
    router.addRoutes(AppPageRoutes().collection)
    router.addRoutes(AppAPIRoutes(env: env).collection, atPath: "/app/api")
    router.addRoutes(VerificationRoutes(env: env).collection, atPath: "/v1/verifications")
    router.addRoutes(IssuanceRoutes(env: env).collection, atPath: "/v1")
    router.addRoutes(SignInRoutes(env: env).collection, atPath: "/v1/signin")
    router.addRoutes(PKIRoutes(env: env).collection, atPath: "/pki")
    router.addRoutes(ModerationRoutes(env: env).collection, atPath: "/v1")
    router.addRoutes(DigitalIDRoutes(env: env).collection, atPath: "/v1/digital-id")
    router.addRoutes(OperatorRoutes(env: env).collection, atPath: "/v1/operator")
    let background: [any Service] = BackgroundWork.services(env.records, settings: env.background, files: env.files, logger: logger)
    return Application(
        router: router,
        server: .http1(configuration: .init(idleTimeout: .seconds(Int64(env.config.idleTimeoutSeconds)))),
        configuration: .init(address: .hostname(env.config.host, port: env.config.port), serverName: "tulga"),
        services: [SessionReaper(sessions: env.sessions)] + background,
        logger: logger)
}
