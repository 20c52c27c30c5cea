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
