internal import Foundation
public import Hummingbird
public import Logging
internal import Metrics
internal import Prometheus
internal import ServiceLifecycle
public import TulgaFace
public import TulgaIssuance
public import TulgaLiveness
public import TulgaPolicy
public import TulgaStorage

/// HTTP settings (the `server` section of the config).
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

/// Everything routes need, built once.
public struct ServerEnvironment: Sendable {
    let config: ServerConfig
    let store: Store
    let issuance: IssuanceService
    let sessions: VerificationSessions
    let decodeLimits: DecodeLimits
    let iinLimiter: RateLimiter
    let keyLimiter: RateLimiter
    let registry: PrometheusCollectorRegistry
    let queueGauge: Metrics.Gauge
    let sessionsGauge: Metrics.Gauge

    public init(config: ServerConfig, store: Store, ca: LocalCA?, sms: SMSCodePolicy, face: FaceConfig, liveness: LivenessConfig,
                bands: DecisionBands) throws {
        self.config = config
        self.store = store
        issuance = IssuanceService(store: store, ca: ca, sms: sms)
        let pool = try FacePipelinePool(config: face, size: config.pipelines)
        sessions = VerificationSessions(pool: pool, store: store, bands: bands, liveness: liveness, idleSeconds: config.sessionIdleSeconds)
        decodeLimits = face.decode
        iinLimiter = RateLimiter(perMinute: config.rateLimitPerIINPerMinute)
        keyLimiter = RateLimiter(perMinute: config.rateLimitPerKeyPerMinute)
        registry = MetricsBootstrap.registry
        queueGauge = Metrics.Gauge(label: "tulga_moderation_queue_depth")
        sessionsGauge = Metrics.Gauge(label: "tulga_verification_sessions")
    }
}

extension ServerEnvironment {
    /// The issuance service the routes use, for tests that prepare state.
    public var issuanceForTests: IssuanceService { issuance }
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

/// Builds the Hummingbird application: routes, middleware (problems, logs, metrics, auth,
/// rate limits) and the session reaper, all in one ServiceGroup that shuts down on SIGTERM.
public func buildApplication(_ env: ServerEnvironment, logger: Logger) -> some ApplicationProtocol {
    let router = Router(context: TulgaContext.self)
    router.add(middleware: RequestLogMiddleware())
    router.add(middleware: MetricsMiddleware())
    router.add(middleware: ProblemMiddleware())
    router.add(middleware: AuthMiddleware(store: env.store, cache: KeyCache()))
    router.add(middleware: KeyRateLimitMiddleware(limiter: env.keyLimiter))
    Routes(env: env).register(on: router)
    return Application(
        router: router,
        server: .http1(configuration: .init(idleTimeout: .seconds(Int64(env.config.idleTimeoutSeconds)))),
        configuration: .init(address: .hostname(env.config.host, port: env.config.port), serverName: "tulga"),
        services: [SessionReaper(sessions: env.sessions)],
        logger: logger)
}
