import Foundation
import Hummingbird
import HTTPTypes
import TulgaCore
import TulgaCrypto
import TulgaFlow
import TulgaIssuance
import TulgaPortal
import TulgaPKI
import TulgaDigitalID
import TulgaConfig
import TulgaFace

/// `/app/`: the applicant's page, plain HTML, CSS and JavaScript from the server's resources,
/// read once at start-up; only those files are served.
struct AppPageRoutes {
    /// The page's files by name, with their content types.
    static let files: [String: (type: String, data: ByteBuffer)] = {
        guard let folder = Bundle.module.url(forResource: "app", withExtension: nil),
              let names = try? FileManager.default.contentsOfDirectory(atPath: folder.path) else { return [:] }
        let types = ["html": "text/html; charset=utf-8", "js": "text/javascript; charset=utf-8", "css": "text/css; charset=utf-8",
                     "svg": "image/svg+xml"]
        var files: [String: (type: String, data: ByteBuffer)] = [:]
        for name in names {
            guard let type = types[(name as NSString).pathExtension], name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "." || $0 == "-" }),
                  let data = FileManager.default.contents(atPath: folder.appendingPathComponent(name).path) else { continue }
            files[name] = (type, ByteBuffer(bytes: data))
        }
        return files
    }()

    static func file(_ name: String) throws -> Response {
        guard let file = files[name] else { throw Problem(.notFound, "not_found", "no such resource") }
        return Response(status: .ok, headers: [.contentType: file.type, .cacheControl: "no-cache"], body: .init(byteBuffer: file.data))
    }

    var collection: RouteCollection<TulgaContext> {
        let routes = RouteCollection(context: TulgaContext.self)
        // `/app` and `/app/` are one route to the router: the bare one is sent to the folder, so the page's relative URLs hold.
        routes.get("/app") { request, _ in
            request.uri.path.hasSuffix("/") ? try Self.file("index.html") : Response(status: .movedPermanently, headers: [.location: "/app/"])
        }
        routes.get("/app/{file}") { _, context in try Self.file(try context.parameters.require("file")) }
        return routes
    }
}

/// `/app/api/…`: the portal's own routes, on the page's origin, authenticated by the session
/// cookie (``AppSessionMiddleware``), never by an API key. Each browser session is its own owner
/// (`portal:<id>`): its verification sessions, SMS codes, phone confirmations and applications are
/// its alone, and another session gets 404 for them even knowing their numbers. The IIN is given
/// once, with the SMS code's request, and bound to the session by the code; every later step acts
/// for that IIN. After a sign-in with the AUTH key and a 1414 code the session also reads that
/// IIN's applications and their history, and nothing else.
struct AppAPIRoutes {
    let env: ServerEnvironment

    struct BeginBody: Decodable {}
    struct SMSBody: Decodable { let iin: String; let language: String? }
    struct CodeBody: Decodable { let code: String }
    struct StartBody: Decodable { let language: String? }
    struct PINBody: Decodable { let pin: String }
    struct ConsentBody: Decodable { let pin: String; let days: Int? }
    struct ApplyBody: Decodable {
        let pin: String; let agreement: String?; let template: String?; let storage: String?; let authRequest: String; let signRequest: String
        let bin: String?; let email: String?
    }
    struct SignInBody: Decodable { let challenge: String; let certificate: String; let signature: String; let language: String? }
    struct ConfirmSignInBody: Decodable { let login: String; let code: String }

    /// What the page learns about its session (never the cookie, never a sign-in token).
    struct SessionView: Encodable {
        struct SignedIn: Encodable { let iin: String; let serial: String; let expiresAt: Double }
        /// A sign-in's answer: the session's secret was rotated, this is its new CSRF token.
        struct Opened: Encodable { let iin: String; let serial: String; let expiresAt: Double; let csrf: String }
        /// The session's CSRF token, for the `X-CSRF-Token` header of every state-changing call.
        let csrf: String
        let expiresAt: Double
        /// The IIN confirmed by SMS, and the one a code was asked for.
        let iin: String?
        let pendingIIN: String?
        let signedIn: SignedIn?
    }

    struct Settings: Encodable {
        let agentPort: Int
        let languages: [String]
        let smsValidSeconds: Double
        let smsResendAfterSeconds: Double
        let templates: [String]
        /// The largest document photo the service takes (`server.documentMaxBytes`): the page checks a file against it before sending.
        let documentMaxBytes: Int
    }

    /// The session's bound IIN, or 403 `iin_not_confirmed`.
    static func boundIIN(_ context: TulgaContext) throws -> String {
        guard let iin = context.portal?.iin else { throw PortalError(.noIIN, "confirm your phone with the SMS code first") }
        return iin
    }

    static func session(_ context: TulgaContext) throws -> PortalSession {
        guard let session = context.portal else { throw PortalError(.session, "no portal session: open the page again") }
        return session
    }

    /// Whom to act as for application `number`: the portal session of the bound IIN that filed it (this one or an
    /// earlier one of the same applicant, ended since), else this session (which then finds only its own).
    func filer(_ number: String, _ context: TulgaContext) async throws -> Caller {
        if let iin = context.portal?.iin, let filer = try await env.records.issuance.portalFiler(number, iin: iin) { return filer }
        return context.caller
    }

    /// The session as the page sees it; a sign-in shows only while it is still open.
    func view(_ session: PortalSession, _ credential: PortalCredential) async throws -> SessionView {
        var signedIn: SessionView.SignedIn?
        if let hash = session.signInHash, let open = try? await env.records.issuance.session(tokenHash: hash, caller: .portal(session.id)) {
            signedIn = .init(iin: open.iin, serial: open.serial, expiresAt: open.expiresAt)
        }
        return SessionView(csrf: credential.csrf, expiresAt: env.records.portal.rules.expiresAt(session), iin: session.iin,
                           pendingIIN: session.pendingIIN, signedIn: signedIn)
    }

    func cookie(_ request: Request, secret: String, maxAge: Int) -> String {
        AppCookie.setCookie(secret, maxAge: maxAge, secure: AppCookie.secure(request, settings: env.records.settings.portal,
                                                                             trustForwarded: env.config.trustForwardedFor))
    }

    /// Rotates the session's secret (on binding an IIN and on a sign-in): the new credential and its `Set-Cookie`.
    func rotate(_ request: Request, _ session: PortalSession) async throws -> (PortalCredential, String) {
        let credential = try await env.records.portal.rotate(session.id)
        return (credential, cookie(request, secret: credential.secret, maxAge: Int(env.records.settings.portal.sessionLifetimeSeconds)))
    }

    /// Ends a session: its sign-in is signed out too.
    func end(_ session: PortalSession) async throws {
        if let hash = session.signInHash { try? await env.records.issuance.signOut(tokenHash: hash, caller: .portal(session.id)) }
        try await env.records.portal.apply(.ended, to: session.id)
    }

    var collection: RouteCollection<TulgaContext> {
        let routes = RouteCollection(context: TulgaContext.self)
        let issuance = env.records.issuance, portal = env.records.portal
        routes.get("/settings") { _, _ in
            try json(Settings(agentPort: env.records.settings.portal.agentPort, languages: Language.allCases.map(\.rawValue),
                              smsValidSeconds: issuance.sms.validitySeconds, smsResendAfterSeconds: issuance.sms.resendAfterSeconds,
                              templates: Template.allCases.map(\.rawValue), documentMaxBytes: env.config.documentMaxBytes))
        }
        // Every sentence of the catalogue in one language: the page's words are the kiosk's and the SMS's.
        routes.get("/messages") { request, _ in
            let lang = try language(request.uri.queryParameters["lang"].map(String.init))
            return try json(Dictionary(uniqueKeysWithValues: MessageKey.allCases.map { ($0.rawValue, Catalogue.template($0, lang)) }))
        }
        routes.post("/session") { request, context in
            // JSON only: a form on another site cannot send it without a preflight nobody answers.
            guard request.headers[.contentType]?.hasPrefix("application/json") == true else {
                throw PortalError(.csrf, "begin a session with a JSON body")
            }
            _ = try await body(request, BeginBody.self)
            try env.portalSessionLimiter.take("portal-begin:" + context.clientAddress(trustingForwardedFor: env.config.trustForwardedFor, request.headers))
            // A page that begins again ends the session it had (its cookie is replaced anyway).
            if let old = AppCookie.credential(request.headers), let session = try? await portal.session(old) { try? await end(session) }
            let (credential, session) = try await portal.begin()
            var response = try json(try await view(session, credential), status: .created)
            response.headers[.setCookie] = cookie(request, secret: credential.secret, maxAge: Int(env.records.settings.portal.sessionLifetimeSeconds))
            return response
        }
        routes.get("/session") { _, context in
            guard let session = context.portal, let credential = context.portalCredential else { throw PortalError(.session, "no portal session") }
            return try json(try await view(session, credential))
        }
        routes.post("/session/end") { request, context in
            try await end(try Self.session(context))
            var response = try json(["status": "ended"])
            response.headers[.setCookie] = cookie(request, secret: "", maxAge: 0)
            return response
        }

        // 1. The IIN and its SMS code: the code's confirmation binds the IIN to this session.
        routes.post("/sms/request") { request, context in
            let session = try Self.session(context), input = try await body(request, SMSBody.self)
            let iin = try validIIN(input.iin)
            try env.iinLimiter.take("sms:" + iin)
            try await portal.apply(.codeRequested(iin: iin), to: session.id)
            try await issuance.requestCode(iin: iin, language: try language(input.language), caller: context.caller)
            return try json(["status": "sent", "validSeconds": "\(Int(issuance.sms.validitySeconds))",
                             "resendAfterSeconds": "\(Int(issuance.sms.resendAfterSeconds))"], status: .accepted)
        }
        routes.post("/sms/confirm") { request, context in
            let session = try Self.session(context), input = try await body(request, CodeBody.self)
            guard let iin = session.pendingIIN else { throw PortalError(.noCode, "ask for an SMS code first") }
            try await issuance.confirmCode(iin: iin, code: input.code, caller: context.caller)
            try await portal.apply(.codeConfirmed(iin: iin), to: session.id)
            // Bound: a new secret, so a cookie known before the binding opens nothing after it.
            let (credential, setCookie) = try await rotate(request, session)
            var response = try json(["status": "confirmed", "iin": iin, "csrf": credential.csrf])
            response.headers[.setCookie] = setCookie
            return response
        }

        // 2. The verification: the session's IIN only; the frames as the API's.
        routes.post("/verifications") { request, context in
            let iin = try Self.boundIIN(context), input = try await body(request, StartBody.self)
            try env.sessionLimiter.take("sessions:" + context.owner)
            try env.iinLimiter.take("iin:" + iin)
            return try json(try await env.sessions.create(iin: iin, language: try language(input.language), owner: context.owner,
                                                          runBy: context.caller.ownerTag), status: .created)
        }
        // The session's routes as the API's (VerificationRoutes), for this browser's sessions of its bound IIN.
        VerificationRoutes.addSessionRoutes(to: routes, env: env, prefix: "/verifications") { context in _ = try Self.boundIIN(context) }

        // 3. The Digital ID's PIN, the CA's consent, the agreement, the application.
        routes.post("/digital-id/pin") { request, context in
            let iin = try Self.boundIIN(context), input = try await body(request, PINBody.self)
            try await issuance.setPIN(iin: iin, pin: input.pin, caller: context.caller)
            return try json(["status": "pin_set"])
        }
        routes.post("/digital-id/consents") { request, context in
            let iin = try Self.boundIIN(context), input = try await body(request, ConsentBody.self)
            let days = input.days ?? 30
            guard (1...366).contains(days) else { throw Problem(.unprocessableContent, "invalid_days", "days must be a whole number in 1...366") }
            return try json(try await IssuanceRoutes.guardingPIN(env, context) {
                try await issuance.grantConsent(iin: iin, pin: input.pin, scope: Consent.caIdentityScope, days: Double(days), caller: context.caller)
            }, status: .created)
        }
        routes.get("/agreement") { request, _ in
            let lang = try language(request.uri.queryParameters["lang"].map(String.init))
            return try json(["version": UserAgreement.version, "language": lang.rawValue, "text": UserAgreement.text(lang)])
        }
        routes.post("/applications") { request, context in
            let iin = try Self.boundIIN(context), input = try await body(request, ApplyBody.self)
            guard let template = Template(rawValue: input.template ?? "individual") else {
                throw Problem(.unprocessableContent, "invalid_template", "unknown template \(input.template ?? "")")
            }
            let requests = try IssuanceRoutes.requests(auth: input.authRequest, sign: input.signRequest, storage: input.storage)
            let email = try input.email.map { try MailAddress($0).value }
            return try json(try await IssuanceRoutes.guardingPIN(env, context) {
                try await issuance.applyRemote(iin: iin, pin: input.pin, agreement: input.agreement, template: template, requests: requests, bin: input.bin,
                                               caller: context.caller, email: email)
            }, status: .created)
        }

        // 4. The status page: what this session filed, and once signed in, that IIN's applications.
        routes.get("/applications") { _, context in
            let session = try Self.session(context)
            var all = try await issuance.applications(caller: context.caller)
            if let iin = session.iin {   // bound by SMS: that IIN's from every portal session, an ended one's too
                let known = Set(all.map(\.number))
                all += try await issuance.portalApplications(iin: iin).filter { !known.contains($0.number) }
            }
            if let hash = session.signInHash, let theirs = try? await issuance.signedInApplications(tokenHash: hash, caller: context.caller) {
                let known = Set(all.map(\.number))
                all += theirs.filter { !known.contains($0.number) }
            }
            return try json(["applications": all.sorted { ($0.createdAt, $0.number) > ($1.createdAt, $1.number) }])
        }
        routes.get("/applications/{number}") { _, context in
            let session = try Self.session(context), number = try context.parameters.require("number")
            do { return try json(try await issuance.status(number, caller: try await filer(number, context))) } catch let error as IssuanceError where error.code == .notFound {
                guard let hash = session.signInHash,
                      let found = try await issuance.signedInApplications(tokenHash: hash, caller: context.caller).first(where: { $0.number == number }) else {
                    throw error
                }
                return try json(found)
            }
        }
        routes.get("/applications/{number}/history") { _, context in
            let session = try Self.session(context), number = try context.parameters.require("number")
            do { return try json(try await issuance.history(number, caller: try await filer(number, context))) } catch let error as IssuanceError where error.code == .notFound {
                guard let hash = session.signInHash else { throw error }
                return try json(try await issuance.signedInHistory(number, tokenHash: hash, caller: context.caller))
            }
        }
        // The certificates go to the agent through the page; only what the bound IIN filed in the portal (this session or an ended one).
        routes.get("/applications/{number}/certificates") { _, context in
            _ = try Self.boundIIN(context)
            let number = try context.parameters.require("number")
            return try json(try await issuance.certificates(number, caller: try await filer(number, context)))
        }
        routes.post("/applications/{number}/install") { _, context in
            _ = try Self.boundIIN(context)
            let number = try context.parameters.require("number")
            return try json(try await issuance.install(number, caller: try await filer(number, context)))
        }

        // 5. Signing in: a challenge for this session, the agent's signature with the AUTH key, the 1414 code.
        routes.post("/signin/challenge") { _, context in
            _ = try Self.session(context)
            return try json(try await issuance.signInChallenge(caller: context.caller), status: .created)
        }
        routes.post("/signin/certificate") { request, context in
            _ = try Self.session(context)
            let input = try await body(request, SignInBody.self)
            guard input.challenge.count <= 128, input.signature.count <= 2 * HolderProof.maximumLength,
                  let signature = Data(base64Encoded: input.signature), !signature.isEmpty else {
                throw Problem(.unprocessableContent, "invalid_signature", "the challenge (hex) and the signature (base64) the key agent made")
            }
            return try json(try await issuance.signIn(challenge: input.challenge, certificatePEM: input.certificate, signature: signature,
                                                      language: try language(input.language), caller: context.caller), status: .accepted)
        }
        routes.post("/signin/confirm") { request, context in
            let session = try Self.session(context), input = try await body(request, ConfirmSignInBody.self)
            guard input.login.count <= 128 else { throw SignInError(.pending, "this sign-in is unknown: sign in again") }
            let opened = try await issuance.confirmSignIn(login: input.login, code: input.code, caller: context.caller)
            guard let token = opened.token else { throw SignInError(.session, "no session was opened: sign in again") }
            do {
                try await portal.apply(.signedIn(iin: opened.iin, tokenHash: sha256Hex(token)), to: session.id)
            } catch {
                // Bound to another IIN: the sign-in just opened is closed again, never left open unused.
                try? await issuance.signOut(token: token, caller: context.caller)
                throw error
            }
            let (credential, setCookie) = try await rotate(request, session)
            var response = try json(SessionView.Opened(iin: opened.iin, serial: opened.serial, expiresAt: opened.expiresAt, csrf: credential.csrf),
                                    status: .created)
            response.headers[.setCookie] = setCookie
            return response
        }
        return routes
    }
}
