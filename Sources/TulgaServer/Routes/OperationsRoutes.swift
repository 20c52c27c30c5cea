import Foundation
import Hummingbird
import HTTPTypes
import TulgaCore
import TulgaFlow
import TulgaConfig
import TulgaAttempts
import TulgaPolicy
import TulgaModeration
import CoreMetrics
import Prometheus

/// `/health/live`, `/health/ready`, `/openapi.yaml`, `/metrics`: public, no key.
struct OperationsRoutes {
    let env: ServerEnvironment

    /// `/health/ready`'s body: each check `ok` or `failing` (the reasons go to the log, not to anonymous callers).
    struct ReadyBody: Encodable {
        let status: String
        let checks: [String: String]
    }

    var collection: RouteCollection<TulgaContext> {
        let routes = RouteCollection(context: TulgaContext.self)
        // Live: the process answers HTTP. Ready: it can do the work (Readiness), else 503 naming the failing checks.
        let live: @Sendable (Request, TulgaContext) async throws -> Response = { _, _ in try json(["status": "live"]) }
        routes.get("/health/live", use: live)
        routes.get("/health", use: live)   // earlier builds' probe path: as cheap as it was
        routes.get("/health/ready") { _, context in
            let checks = await env.readiness.run(env, logger: context.logger)
            let failed = checks.contains { $0.problem != nil }
            return try json(ReadyBody(status: failed ? "not ready" : "ready",
                                      checks: Dictionary(uniqueKeysWithValues: checks.map { ($0.name, $0.problem == nil ? "ok" : "failing") })),
                            status: failed ? .serviceUnavailable : .ok)
        }
        routes.get("/openapi.yaml") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/yaml"], body: .init(byteBuffer: ByteBuffer(string: OpenAPI.document)))
        }
        routes.get("/metrics") { _, _ in
            env.queueGauge.record(Double(try await env.records.moderation.queueDepth()))
            env.sessionsGauge.record(Double(await env.sessions.count))
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                            body: .init(byteBuffer: ByteBuffer(bytes: env.registry.emitToBuffer())))
        }
        return routes
    }
}
