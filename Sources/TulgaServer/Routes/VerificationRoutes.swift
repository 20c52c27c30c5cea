import Foundation
import Hummingbird
import TulgaFace
import HTTPTypes
import TulgaCore
import TulgaFlow
import TulgaIssuance
import TulgaConfig
import TulgaAttempts
import TulgaPolicy
import TulgaModeration

/// `/v1/verifications`: a session per attempt: a selfie photo (optional, retaken at will), then
/// frames or a clip, then finished.
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
            let chosen = try language(input.language)
            return try json(try await env.sessions.create(iin: iin, language: chosen, owner: context.owner, runBy: context.caller.ownerTag), status: .created)
        }
        Self.addSessionRoutes(to: routes, env: env) { context in try context.require(.kiosk, .issuance) }
        // A recorded clip instead of frames: the API's alone (the page streams frames).
        routes.post("/{id}/clip") { request, context in
            try context.require(.kiosk, .issuance)
            let (limits, maxBytes, clock, temporaryFolder) = (env.frameLimits, env.config.clipMaxBytes, env.records.clock, env.temporaryFolder)
            return try json(try await env.sessions.feed(try context.parameters.require("id"), owner: context.owner,
                                                        body: { try await Self.read(request, upTo: maxBytes) }) { data, notBefore in
                try Clip(data, limits: limits, receivedMs: clock.nowMs(), notBeforeMs: notBefore, folder: temporaryFolder)
            })
        }
        return routes
    }

    /// The routes of one verification session, under `prefix` (`/{id}` then, for the API's `/v1/verifications`;
    /// `/verifications` for the portal's `/app/api`): its state, the selfie, frames, the finish, and the
    /// identity-document step after it. The API and the portal differ only in `check`, the guard each route
    /// runs first (the API key's scope, or the portal session's bound IIN); the session's owner is the
    /// context's either way, so another key or browser gets 404.
    static func addSessionRoutes(to routes: RouteCollection<TulgaContext>, env: ServerEnvironment, prefix: String = "",
                                 guard check: @escaping @Sendable (TulgaContext) throws -> Void) {
        let path = prefix + "/{id}"
        routes.get(RouterPath(path)) { _, context in
            try check(context)
            return try json(try await env.sessions.sessionState(try context.parameters.require("id"), owner: context.owner))
        }
        routes.post(RouterPath(path + "/selfie")) { request, context in
            try check(context)
            let (limits, maxBytes) = (env.frameLimits, env.config.frameMaxBytes)
            return try json(try await env.sessions.takeSelfie(try context.parameters.require("id"), owner: context.owner,
                                                              body: { try await Self.read(request, upTo: maxBytes) }) { data in
                try Self.still(data, limits: limits, maxBytes: maxBytes)
            })
        }
        routes.post(RouterPath(path + "/frames")) { request, context in
            try check(context)
            let (limits, maxBytes, clock) = (env.frameLimits, env.config.frameMaxBytes, env.records.clock)
            // Looked up (404 for another owner) before a byte is read, claimed before decoding, decoded outside the sessions actor.
            return try json(try await env.sessions.feed(try context.parameters.require("id"), owner: context.owner,
                                                        body: { try await Self.read(request, upTo: maxBytes) }) { data, _ in
                SingleFrame(try Self.still(data, limits: limits, maxBytes: maxBytes), stampMs: clock.nowMs())
            })
        }
        routes.post(RouterPath(path + "/finish")) { _, context in
            try check(context)
            return try json(try await env.sessions.finish(try context.parameters.require("id"), owner: context.owner))
        }
        // The identity-document step, after the video check and the PIN: the sides as raw image bodies
        // (the kind as ?kind=id-card|passport with the first), the recognised data, the confirmation.
        for side in [DocumentSide.front, .back] {
            routes.post(RouterPath(path + "/document/\(side.rawValue)")) { request, context in
                try check(context)
                let kind = request.uri.queryParameters["kind"].map(String.init)
                let (limits, maxBytes) = (env.documentLimits, env.config.documentMaxBytes)
                return try json(try await env.sessions.documentPhoto(try context.parameters.require("id"), owner: context.owner, side: side, kind: kind,
                                                                     body: { try await Self.read(request, upTo: maxBytes) }) { data in
                    try Image(decoding: data, limits: limits)
                })
            }
        }
        routes.get(RouterPath(path + "/document")) { _, context in
            try check(context)
            return try json(try await env.sessions.documentView(try context.parameters.require("id"), owner: context.owner))
        }
        routes.post(RouterPath(path + "/document/confirm")) { _, context in
            try check(context)
            return try json(try await env.sessions.confirmDocument(try context.parameters.require("id"), owner: context.owner))
        }
    }

    static func read(_ request: Request, upTo maxBytes: Int) async throws -> Data {
        var request = request
        return Data(try await request.collectBody(upTo: maxBytes).readableBytesView)
    }

    /// A posted still (frame or selfie): the header checked against the frame limit before decoding.
    /// `FaceError` becomes 413 / 422 in the problem middleware.
    static func still(_ data: Data, limits: FrameLimits, maxBytes: Int) throws -> Image {
        let image = try Image(decoding: data, limits: limits.decodeLimits(maxBytes: maxBytes))
        try limits.check(image)
        return image
    }
}
