import Foundation
import Hummingbird
import HTTPTypes
import TulgaCore
import TulgaFlow
import TulgaIssuance
import TulgaPKI

/// `/v1/signin/…`: signing in with the issued AUTH key, then the 1414 SMS code (the portal's backend,
/// scope `issuance`). Each step belongs to the API key that began it. The session token travels in
/// the `X-Session-Token` header, never in a URL.
struct SignInRoutes {
    let env: ServerEnvironment

    struct CertificateBody: Decodable { let challenge: String; let certificate: String; let signature: String; let language: String? }
    struct ConfirmBody: Decodable { let login: String; let code: String }

    static let tokenHeader = HTTPField.Name("X-Session-Token")!

    /// The session token from its header: 64 hex digits, else refused as no session.
    static func token(_ request: Request) throws -> String {
        guard let token = request.headers[tokenHeader], token.count == 64, token.allSatisfy(\.isHexDigit) else {
            throw SignInError(.session, "send the session token in the X-Session-Token header")
        }
        return token
    }

    var collection: RouteCollection<TulgaContext> {
        let routes = RouteCollection(context: TulgaContext.self)
        let issuance = env.records.issuance
        routes.post("/challenge") { _, context in
            try context.require(.issuance)
            return try json(try await issuance.signInChallenge(caller: context.caller), status: .created)
        }
        routes.post("/certificate") { request, context in
            try context.require(.issuance)
            let input = try await body(request, CertificateBody.self)
            guard input.challenge.count <= 128, input.signature.count <= 2 * HolderProof.maximumLength,
                  let signature = Data(base64Encoded: input.signature), !signature.isEmpty else {
                throw Problem(.unprocessableContent, "invalid_signature", "the challenge (hex) and the signature (base64) made by tulga keys sign-challenge")
            }
            let pending = try await issuance.signIn(challenge: input.challenge, certificatePEM: input.certificate, signature: signature,
                                                    language: try language(input.language), caller: context.caller)
            return try json(pending, status: .accepted)
        }
        routes.post("/confirm") { request, context in
            try context.require(.issuance)
            let input = try await body(request, ConfirmBody.self)
            guard input.login.count <= 128 else { throw SignInError(.pending, "this sign-in is unknown: sign in again") }
            return try json(try await issuance.confirmSignIn(login: input.login, code: input.code, caller: context.caller), status: .created)
        }
        routes.get("/session") { request, context in
            try context.require(.issuance)
            return try json(try await issuance.session(token: try Self.token(request), caller: context.caller))
        }
        routes.post("/signout") { request, context in
            try context.require(.issuance)
            try await issuance.signOut(token: try Self.token(request), caller: context.caller)
            return try json(["status": "signed_out"])
        }
        return routes
    }
}
