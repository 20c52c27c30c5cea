import Foundation
import HTTPTypes
import Hummingbird
import TulgaModeration
import TulgaPolicy
import TulgaCore
import TulgaFlow
import TulgaConfig
import TulgaAttempts

/// `/v1/cases/…` and `/v1/moderation/stats`: a moderator's desk, with the moderator's own
/// credentials on top of a key with the moderation scope.
struct ModerationRoutes {
    let env: ServerEnvironment

    struct ReasonBody: Decodable { let reason: String }
    struct ReassignBody: Decodable { let to: String }
    struct Detail: Encodable {
        let summary: CaseSummary; let selfieJPEG: String?; let referencePhoto: String?; let livenessReport: String?
        /// A document case's photos (base64) and its recognised data with every check (JSON).
        let documentFront: String?; let documentBack: String?; let documentData: String?
    }

    static let idHeader = HTTPField.Name("X-Moderator-Id")
    static let secretHeader = HTTPField.Name("X-Moderator-Secret")

    /// The moderator named by X-Moderator-Id / X-Moderator-Secret.
    func moderator(_ request: Request, _ context: TulgaContext) async throws -> Moderator {
        try context.require(.moderation)
        guard let idName = Self.idHeader, let secretName = Self.secretHeader,
              let id = request.headers[idName], let secret = request.headers[secretName] else {
            throw Problem(.unauthorized, "unauthorized", "moderation needs X-Moderator-Id and X-Moderator-Secret")
        }
        return try await env.records.moderation.authenticate(id: id, secret: secret)
    }

    var collection: RouteCollection<TulgaContext> {
        let routes = RouteCollection(context: TulgaContext.self)
        let cases = env.records.moderation, desk = env.desk
        routes.get("/cases") { request, context in
            let m = try await moderator(request, context)
            let state = try request.uri.queryParameters["state"].map { raw -> CaseState in
                guard let s = CaseState(rawValue: String(raw)) else {
                    throw Problem(.unprocessableContent, "invalid_state", "state must be open, claimed, approved or rejected")
                }
                return s
            }
            return try json(try await cases.list(state: state, as: m))
        }
        routes.get("/cases/{id}") { request, context in
            let m = try await moderator(request, context)
            let detail = try await cases.detail(try context.parameters.require("id"), as: m)
            return try json(Detail(summary: detail.summary, selfieJPEG: detail.selfie?.base64EncodedString(),
                                   referencePhoto: detail.reference?.base64EncodedString(), livenessReport: detail.livenessReport,
                                   documentFront: detail.document?.front?.base64EncodedString(),
                                   documentBack: detail.document?.back?.base64EncodedString(), documentData: detail.document?.data))
        }
        routes.post("/cases/{id}/claim") { request, context in
            let m = try await moderator(request, context)
            return try json(try await cases.claim(try context.parameters.require("id"), as: m))
        }
        for (path, approve) in [("approve", true), ("reject", false)] {
            routes.post("/cases/{id}/\(path)") { request, context in
                let m = try await moderator(request, context)
                let input = try await body(request, ReasonBody.self)
                return try json(try await desk.decide(try context.parameters.require("id"), approve: approve, reason: input.reason, as: m))
            }
        }
        routes.post("/cases/{id}/reassign") { request, context in
            let m = try await moderator(request, context)
            let input = try await body(request, ReassignBody.self)
            return try json(try await cases.reassign(try context.parameters.require("id"), to: input.to, as: m))
        }
        routes.get("/moderation/stats") { request, context in
            let m = try await moderator(request, context)
            return try json(try await cases.stats(as: m))
        }
        return routes
    }
}
