import Foundation
import Hummingbird
import HTTPTypes
import TulgaCore
import TulgaFlow
import TulgaIssuance
import TulgaPKI
import TulgaAPIKeys

/// `/v1/sms/…` and `/v1/applications/…`: phone codes, applications filed with the applicant's
/// requests, approvals, certificates, renewal, reissue, revocation. A calling system sees only the
/// applications it created; another's number answers 404.
struct IssuanceRoutes {
    let env: ServerEnvironment

    struct IINBody: Decodable { let iin: String; let language: String? }
    struct ConfirmBody: Decodable { let iin: String; let code: String }
    struct ApplyBody: Decodable {
        let iin: String
        let pin: String
        /// The user agreement's version the applicant accepted.
        let agreement: String?
        let template: String?
        let storage: String?
        let authRequest: String
        let signRequest: String
        let bin: String?
        /// Where the number and status changes are e-mailed.
        let email: String?
    }
    struct RequestsBody: Decodable {
        let pin: String?; let agreement: String?; let storage: String?; let authRequest: String; let signRequest: String; let challenge: String?
        let proof: String?
    }
    struct ApprovalBody: Decodable { let iin: String; let pin: String }
    struct RevokeBody: Decodable { let pin: String; let reason: String? }
    struct RefuseBody: Decodable { let reason: String }

    static func requests(auth: String, sign: String, storage: String?) throws -> KeyRequests {
        guard let kind = KeyStorageKind(rawValue: storage ?? "folder") else {
            throw Problem(.unprocessableContent, "invalid_storage", "storage must be folder or token")
        }
        return try KeyRequests(auth: auth, sign: sign, storage: kind)
    }

    /// Runs a step that checks somebody's PIN, limited per calling system as well as per IIN: a
    /// system whose wrong PINs have used up its allowance waits (429) before trying another, so no
    /// key can go round locking people's PINs.
    static func guardingPIN<T>(_ env: ServerEnvironment, _ context: TulgaContext, _ step: () async throws -> T) async throws -> T {
        let bucket = "pin:" + context.owner
        try env.pinFailureLimiter.check(bucket)
        do { return try await step() } catch let error as IssuanceError where error.code == .pin {
            try? env.pinFailureLimiter.take(bucket)
            throw error
        }
    }

    var collection: RouteCollection<TulgaContext> {
        let routes = RouteCollection(context: TulgaContext.self)
        let issuance = env.records.issuance
        routes.post("/sms/request") { request, context in
            try context.require(.issuance)
            let input = try await body(request, IINBody.self)
            let iin = try validIIN(input.iin)
            try env.iinLimiter.take("sms:" + iin)
            try await issuance.requestCode(iin: iin, language: try language(input.language), caller: context.caller)
            return try json(["status": "sent", "validSeconds": "\(Int(issuance.sms.validitySeconds))"], status: .accepted)
        }
        routes.post("/sms/confirm") { request, context in
            try context.require(.issuance)
            let input = try await body(request, ConfirmBody.self)
            try await issuance.confirmCode(iin: try validIIN(input.iin), code: input.code, caller: context.caller)
            return try json(["status": "confirmed"])
        }
        routes.post("/applications") { request, context in
            try context.require(.issuance)
            let input = try await body(request, ApplyBody.self)
            guard let template = Template(rawValue: input.template ?? "individual") else {
                throw Problem(.unprocessableContent, "invalid_template", "unknown template \(input.template ?? "")")
            }
            let requests = try Self.requests(auth: input.authRequest, sign: input.signRequest, storage: input.storage)
            let iin = try validIIN(input.iin)
            // Refused before the PIN is looked at: a typo in the address costs no PIN try.
            let email = try input.email.map { try MailAddress($0).value }
            let app = try await Self.guardingPIN(env, context) {
                try await issuance.applyRemote(iin: iin, pin: input.pin, agreement: input.agreement, template: template, requests: requests, bin: input.bin,
                                               caller: context.caller, email: email)
            }
            return try json(app, status: .created)
        }
        routes.get("/applications/{number}") { _, context in
            try context.require(.issuance)
            return try json(try await issuance.status(try context.parameters.require("number"), caller: context.caller))
        }
        routes.get("/applications/{number}/history") { _, context in
            try context.require(.issuance)
            return try json(try await issuance.history(try context.parameters.require("number"), caller: context.caller))
        }
        routes.get("/agreement") { request, context in
            try context.require(.issuance)
            let lang = try language(request.uri.queryParameters["lang"].map(String.init))
            return try json(["version": UserAgreement.version, "language": lang.rawValue, "text": UserAgreement.text(lang)])
        }
        routes.get("/applications/{number}/certificates") { _, context in
            try context.require(.issuance)
            return try json(try await issuance.certificates(try context.parameters.require("number"), caller: context.caller))
        }
        routes.post("/applications/{number}/install") { _, context in
            try context.require(.issuance)
            return try json(try await issuance.install(try context.parameters.require("number"), caller: context.caller))
        }
        routes.post("/applications/{number}/approvals/hr") { request, context in
            try context.require(.issuance)
            let input = try await body(request, ApprovalBody.self)
            let number = try context.parameters.require("number"), iin = try validIIN(input.iin)
            return try json(try await Self.guardingPIN(env, context) {
                try await issuance.approveByHR(number, hrIIN: iin, pin: input.pin, caller: context.caller)
            })
        }
        routes.post("/applications/{number}/approvals/head") { request, context in
            try context.require(.issuance)
            let input = try await body(request, ApprovalBody.self)
            let number = try context.parameters.require("number"), iin = try validIIN(input.iin)
            return try json(try await Self.guardingPIN(env, context) {
                try await issuance.approveByHead(number, headIIN: iin, pin: input.pin, caller: context.caller)
            })
        }
        routes.post("/applications/{number}/reissue") { request, context in
            try context.require(.issuance)
            let input = try await body(request, RequestsBody.self)
            guard let pin = input.pin else { throw Problem(.unprocessableContent, "invalid_pin", "a reissue needs the applicant's PIN") }
            let requests = try Self.requests(auth: input.authRequest, sign: input.signRequest, storage: input.storage)
            let number = try context.parameters.require("number")
            return try json(try await Self.guardingPIN(env, context) {
                try await issuance.reissue(number, pin: pin, agreement: input.agreement, requests: requests, caller: context.caller)
            }, status: .created)
        }
        routes.post("/applications/{number}/renewal-challenge") { _, context in
            try context.require(.issuance)
            return try json(try await issuance.renewalChallenge(try context.parameters.require("number"), caller: context.caller), status: .created)
        }
        routes.post("/applications/{number}/renew") { request, context in
            try context.require(.issuance)
            let input = try await body(request, RequestsBody.self)
            let requests = try Self.requests(auth: input.authRequest, sign: input.signRequest, storage: input.storage)
            guard let challenge = input.challenge, challenge.count <= 128, let text = input.proof, text.count <= 2 * HolderProof.maximumLength,
                  let proof = Data(base64Encoded: text) else {
                throw Problem(.unprocessableContent, "invalid_proof", "a renewal needs the challenge and the holder's proof (base64), made by tulga keys renew")
            }
            return try json(try await issuance.renew(try context.parameters.require("number"), requests: requests, challenge: challenge, proof: proof,
                                                     caller: context.caller), status: .created)
        }
        routes.post("/applications/{number}/revoke") { request, context in
            try context.require(.issuance)
            let input = try await body(request, RevokeBody.self)
            guard let reason = RevocationReason(rawValue: input.reason ?? "unspecified"), reason != .cACompromise else {
                throw Problem(.unprocessableContent, "invalid_reason", "reason must be unspecified, keyCompromise, affiliationChanged, superseded or cessationOfOperation")
            }
            let number = try context.parameters.require("number")
            return try json(try await Self.guardingPIN(env, context) {
                try await issuance.revokeByApplicant(number, pin: input.pin, reason: reason, caller: context.caller)
            })
        }
        // Admin: retry issuance left «на подписи» by a CA outage; refuse an application.
        routes.post("/applications/{number}/issue") { _, context in
            try context.require(.admin)
            return try json(try await issuance.issue(try context.parameters.require("number"), admin: context.apiKey?.id ?? "admin"))
        }
        routes.post("/applications/{number}/refuse") { request, context in
            try context.require(.admin)
            let input = try await body(request, RefuseBody.self)
            return try json(try await issuance.refuse(try context.parameters.require("number"), admin: context.apiKey?.id ?? "admin", reason: input.reason))
        }
        return routes
    }
}

/// `/pki/…`, without a key: the issuing CA's certificate, its current CRL, and the OCSP
/// responder (RFC 6960: GET with the base64 request in the path, or POST).
struct PKIRoutes {
    let env: ServerEnvironment

    static func der(_ data: Data, _ type: String) -> Response {
        Response(status: .ok, headers: [.contentType: type, .cacheControl: "max-age=60"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    var collection: RouteCollection<TulgaContext> {
        let routes = RouteCollection(context: TulgaContext.self)
        let issuance = env.records.issuance
        routes.get("/issuing.crl") { _, _ in Self.der(try await issuance.currentCRL(), "application/pkix-crl") }
        routes.get("/issuing.crt") { _, _ in
            guard let ca = issuance.ca else { throw IssuanceError(.ca, "no CA: run tulga ca init") }
            return Self.der(try PKI.der(pem: ca.issuingCertPEM), "application/pkix-cert")
        }
        routes.post("/ocsp") { request, _ in
            var request = request
            let buffer = try await request.collectBody(upTo: OCSP.maximumLength)
            return Self.der(await issuance.ocspResponse(Data(buffer.readableBytesView)), "application/ocsp-response")
        }
        routes.get("/ocsp/**") { _, context in
            // RFC 6960 A.1: the URL-encoded base64 of the DER request follows the responder's URL.
            let encoded = context.parameters.getCatchAll().joined(separator: "/")
            let base64 = encoded.removingPercentEncoding ?? encoded
            guard let request = Data(base64Encoded: base64) else { return Self.der(OCSP.errorResponse(.malformedRequest), "application/ocsp-response") }
            return Self.der(await issuance.ocspResponse(request), "application/ocsp-response")
        }
        return routes
    }
}
