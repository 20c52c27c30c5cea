import Foundation
import Hummingbird
import HTTPTypes
import TulgaCore
import TulgaPortal
import TulgaFlow
import TulgaConfig

/// The browser portal's cookie: `tulga_portal`, HttpOnly, SameSite=Strict, scoped to the portal's
/// API path, `Secure` when the page is served over TLS. Its value is the session's secret; the
/// service keeps only its SHA-256 and never logs it.
enum AppCookie {
    static let name = "tulga_portal"
    static let path = "/app/api"
    static let csrfHeader = HTTPField.Name("X-CSRF-Token")!

    /// The `Set-Cookie` value for `secret`, living `maxAge` seconds (0 clears it).
    static func setCookie(_ secret: String, maxAge: Int, secure: Bool) -> String {
        "\(name)=\(secret); Path=\(path); Max-Age=\(maxAge); HttpOnly; SameSite=Strict" + (secure ? "; Secure" : "")
    }

    /// The session's credential from the `Cookie` header(s), when one is well formed.
    static func credential(_ headers: HTTPFields) -> PortalCredential? {
        for header in headers[values: .cookie] {
            for pair in header.split(separator: ";") {
                let parts = pair.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                if parts.count == 2, parts[0] == name, let credential = PortalCredential(cookie: parts[1]) { return credential }
            }
        }
        return nil
    }

    /// Whether the cookie must be `Secure`: always when configured, else when a trusted proxy says the page came over TLS.
    static func secure(_ request: Request, settings: PortalSettings, trustForwarded: Bool) -> Bool {
        if settings.secureCookie { return true }
        guard trustForwarded, let proto = request.headers[HTTPField.Name("X-Forwarded-Proto")!] else { return false }
        return proto.split(separator: ",").last?.trimmingCharacters(in: .whitespaces).lowercased() == "https"
    }
}

/// Authenticates the portal's API by its cookie: 401 `portal_session` without a live session
/// (counted per client address with failed API keys: once spent, 429); 403 `csrf` for a state-changing call without
/// the session's CSRF token (compared in constant time) or from another site; then the per-session
/// request bucket, as the API's per-key one. The routes that need no session (beginning one, the
/// settings and the messages) are let through.
struct AppSessionMiddleware: RouterMiddleware {
    typealias Context = TulgaContext
    let env: ServerEnvironment

    static let open: Set<String> = ["/app/api/session", "/app/api/settings", "/app/api/messages"]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let path = request.uri.path
        // An empty segment (`/app//api/…`) would slip past the prefix below: refused, not routed.
        if path.contains("//") { throw Problem(.notFound, "not_found", "no such resource") }
        guard path.hasPrefix("/app/api/") else { return try await next(request, context) }
        let changes = ![.get, .head].contains(request.method)
        // Fetch metadata, where the browser sends it: a call made by another site's page is refused outright.
        if let site = request.headers[HTTPField.Name("Sec-Fetch-Site")!], !["same-origin", "none"].contains(site) {
            throw PortalError(.csrf, "the portal's API answers its own pages only")
        }
        if Self.open.contains(path) && (path != "/app/api/session" || request.method == .post) { return try await next(request, context) }
        let address = "auth-fail:" + context.clientAddress(trustingForwardedFor: env.config.trustForwardedFor, request.headers)
        guard let credential = AppCookie.credential(request.headers) else {
            // No portal cookie at all (a first visit) is not a failed attempt; a malformed one is.
            if Self.sendsPortalCookie(request.headers) { try env.authFailureLimiter.take(address) }
            throw PortalError(.session, "no portal session: open the page again")
        }
        // A live session never waits for the address's failures (as a verified API key does not).
        let session: PortalSession
        do {
            session = try await env.records.portal.session(credential)
        } catch let error as PortalError {
            try env.authFailureLimiter.take(address)
            throw error
        }
        if changes, !credential.accepts(csrf: request.headers[AppCookie.csrfHeader]) {
            try env.authFailureLimiter.take(address)
            throw PortalError(.csrf, "this call needs the session's X-CSRF-Token header")
        }
        try env.keyLimiter.take("portal:" + session.id)
        var context = context
        context.portal = session
        context.portalCredential = credential
        return try await next(request, context)
    }

    /// Whether any `Cookie` header names the portal's cookie, well formed or not.
    static func sendsPortalCookie(_ headers: HTTPFields) -> Bool {
        headers[values: .cookie].contains { header in
            header.split(separator: ";").contains { $0.split(separator: "=", maxSplits: 1).first?.trimmingCharacters(in: .whitespaces) == AppCookie.name }
        }
    }
}
