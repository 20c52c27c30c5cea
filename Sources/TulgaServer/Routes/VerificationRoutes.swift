import Foundation
import Hummingbird
import TulgaFace
import HTTPTypes
import TulgaCore
import TulgaFlow
import TulgaConfig
import TulgaAttempts
import TulgaPolicy
import TulgaModeration

/// `/v1/verifications`: a session per attempt, fed frames or a clip, then finished.
struct VerificationRoutes {
    let env: ServerEnvironment

    struct CreateSession: Decodable { let iin: String; let language: String? }

    var collection: RouteCollection<TulgaContext> {
        let routes = RouteCollection(context: TulgaContext.self)
        routes.post { request, context in
            try context.require(.kiosk, .issuance)
            let input = try await body(request, CreateSession.self)
            let iin = try validIIN(input.iin)
            try env.sessionLimiter.take("sessions:" + context.owner)
            try env.iinLimiter.take("iin:" + iin)
            let language = try sessionLanguage(input.language)
            return try json(try await env.sessions.create(iin: iin, language: language, owner: context.owner), status: .created)
        }
        routes.get("/{id}") { _, context in
            try context.require(.kiosk, .issuance)
            return try json(try await env.sessions.state(try context.parameters.require("id"), owner: context.owner))
        }
        routes.post("/{id}/frames") { request, context in
            try context.require(.kiosk, .issuance)
            let id = try context.parameters.require("id")
            _ = try await env.sessions.state(id, owner: context.owner)   // 404 before reading or decoding anything
            var request = request
            let bytes = try await request.collectBody(upTo: env.config.frameMaxBytes)
            let image = try Image(decoding: Data(bytes.readableBytesView), limits: env.decodeLimits)   // FaceError → invalid_image (ProblemMiddleware)
            return try json(try await env.sessions.feed(id, owner: context.owner, frames: SingleFrame(image, stampMs: env.records.clock.nowMs())))
        }
        routes.post("/{id}/clip") { request, context in
            try context.require(.kiosk, .issuance)
            let id = try context.parameters.require("id")
            _ = try await env.sessions.state(id, owner: context.owner)   // 404 before buffering the clip
            var request = request
            let bytes = try await request.collectBody(upTo: env.config.clipMaxBytes)
            let clip = try Clip(Data(bytes.readableBytesView), maxFrames: env.config.clipMaxFrames, startMs: env.records.clock.nowMs())
            return try json(try await env.sessions.feed(id, owner: context.owner, frames: clip))
        }
        routes.post("/{id}/finish") { _, context in
            try context.require(.kiosk, .issuance)
            return try json(try await env.sessions.finish(try context.parameters.require("id"), owner: context.owner))
        }
        return routes
    }
}
