import Foundation
import Hummingbird
import HTTPTypes
import TulgaCore
import TulgaFlow
import TulgaIssuance
import TulgaDigitalID
import TulgaModeration
import TulgaPolicy
import TulgaAttempts

/// `/v1/digital-id/…`: the applicant's Digital ID through the portal (a key with the issuance
/// scope). The IIN, PINs and codes travel in JSON bodies only, never in the URL. Every step needs the
/// phone confirmed by SMS through the same key moments before; all but the first PIN need the PIN.
struct DigitalIDRoutes {
    let env: ServerEnvironment

    struct ShowBody: Decodable { let iin: String; let pin: String? }
    struct PINBody: Decodable { let iin: String; let pin: String }
    struct ChangeBody: Decodable { let iin: String; let pin: String; let newPin: String }
    struct ConsentBody: Decodable { let iin: String; let pin: String; let scope: String?; let days: Int? }
    struct RevokeBody: Decodable { let iin: String; let pin: String; let consentId: String }

    var collection: RouteCollection<TulgaContext> {
        let routes = RouteCollection(context: TulgaContext.self)
        let issuance = env.records.issuance
        routes.post("/show") { request, context in
            try context.require(.issuance)
            let input = try await body(request, ShowBody.self)
            let iin = try validIIN(input.iin)
            return try json(try await IssuanceRoutes.guardingPIN(env, context) {
                try await issuance.digitalID(iin: iin, pin: input.pin, caller: context.caller)
            })
        }
        routes.post("/pin") { request, context in
            try context.require(.issuance)
            let input = try await body(request, PINBody.self)
            try await issuance.setPIN(iin: try validIIN(input.iin), pin: input.pin, caller: context.caller)
            return try json(["status": "pin_set"])
        }
        routes.post("/pin/change") { request, context in
            try context.require(.issuance)
            let input = try await body(request, ChangeBody.self)
            let iin = try validIIN(input.iin)
            try await IssuanceRoutes.guardingPIN(env, context) {
                try await issuance.changePIN(iin: iin, pin: input.pin, newPIN: input.newPin, caller: context.caller)
            }
            return try json(["status": "pin_changed"])
        }
        routes.post("/consents") { request, context in
            try context.require(.issuance)
            let input = try await body(request, ConsentBody.self)
            let iin = try validIIN(input.iin), days = input.days ?? 30
            guard (1...366).contains(days) else { throw Problem(.unprocessableContent, "invalid_days", "days must be a whole number in 1...366") }
            let scope = input.scope ?? Consent.caIdentityScope
            return try json(try await IssuanceRoutes.guardingPIN(env, context) {
                try await issuance.grantConsent(iin: iin, pin: input.pin, scope: scope, days: Double(days), caller: context.caller)
            }, status: .created)
        }
        routes.post("/consents/revoke") { request, context in
            try context.require(.issuance)
            let input = try await body(request, RevokeBody.self)
            let iin = try validIIN(input.iin)
            try await IssuanceRoutes.guardingPIN(env, context) {
                try await issuance.revokeConsent(iin: iin, pin: input.pin, consent: input.consentId, caller: context.caller)
            }
            return try json(["status": "revoked"])
        }
        return routes
    }
}

/// `/v1/operator/…`: a service centre's desk, with the operator's own account (role `operator`,
/// or a supervisor) in X-Operator-Id / X-Operator-Secret on top of a key with the operator scope.
/// Nobody acts on their own IIN.
struct OperatorRoutes {
    let env: ServerEnvironment

    struct IINBody: Decodable { let iin: String }
    struct PhoneBody: Decodable { let iin: String; let phone: String }

    static let idHeader = HTTPField.Name("X-Operator-Id")
    static let secretHeader = HTTPField.Name("X-Operator-Secret")

    /// The operator named by the headers, allowed to operate, not acting on their own IIN.
    func desk(_ request: Request, _ context: TulgaContext, for iin: String) async throws -> Moderator {
        try context.require(.operatorDesk)
        guard let idName = Self.idHeader, let secretName = Self.secretHeader,
              let id = request.headers[idName], let secret = request.headers[secretName] else {
            throw Problem(.unauthorized, "unauthorized", "the operator's desk needs X-Operator-Id and X-Operator-Secret")
        }
        let account = try await env.records.moderation.authenticate(id: id, secret: secret)
        try env.records.moderation.authorize(account, .operate)
        guard account.iin != iin else { throw Problem(.forbidden, "own_iin", "nobody acts on their own IIN at the desk") }
        return account
    }

    var collection: RouteCollection<TulgaContext> {
        let routes = RouteCollection(context: TulgaContext.self)
        routes.post("/in-person") { request, context in
            let input = try await body(request, IINBody.self)
            let iin = try validIIN(input.iin)
            let account = try await desk(request, context, for: iin)
            try await env.records.attempts.acceptInPerson(iin: iin, operator: account.id)
            return try json(["status": "accepted"])
        }
        routes.post("/phones") { request, context in
            let input = try await body(request, PhoneBody.self)
            let iin = try validIIN(input.iin)
            let account = try await desk(request, context, for: iin)
            try await env.records.issuance.registerPhone(iin: iin, phone: input.phone, actor: "operator:" + account.id)
            return try json(["status": "registered"])
        }
        return routes
    }
}
