internal import Foundation
internal import Hummingbird
internal import HTTPTypes
internal import TulgaCore
internal import TulgaFlow
internal import TulgaConfig
internal import TulgaAttempts
internal import TulgaPolicy
internal import TulgaModeration
internal import CoreMetrics
internal import Prometheus

/// `/health`, `/openapi.yaml`, `/metrics`: public, no key.
struct OperationsRoutes {
    let env: ServerEnvironment

    var collection: RouteCollection<TulgaContext> {
        let routes = RouteCollection(context: TulgaContext.self)
        routes.get("/health") { _, _ in try json(["status": "ok"]) }
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
