import Hummingbird
import HTTPTypes

/// The browser-facing headers on every response, errors included: a Content-Security-Policy
/// that allows only this origin (scripts and styles from files, nothing inline) and the local
/// key agent's WebSocket, no framing, no sniffing, no referrer. The portal's API answers are
/// never cached.
struct SecurityHeadersMiddleware<Context: RequestContext>: RouterMiddleware {
    /// The headers, built once from the agent's port.
    let headers: HTTPFields

    /// - Parameter agentPort: the port of `tulga keys agent` on 127.0.0.1.
    init(agentPort: Int) { headers = Self.headers(agentPort: agentPort) }

    static func headers(agentPort: Int) -> HTTPFields {
        let policy = [
            "default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self'", "font-src 'self'",
            "connect-src 'self' ws://127.0.0.1:\(agentPort)", "media-src 'self'", "object-src 'none'", "base-uri 'none'",
            "form-action 'self'", "frame-ancestors 'none'",
        ].joined(separator: "; ")
        var fields = HTTPFields()
        fields[HTTPField.Name("Content-Security-Policy")!] = policy
        fields[HTTPField.Name("X-Content-Type-Options")!] = "nosniff"
        fields[HTTPField.Name("Referrer-Policy")!] = "no-referrer"
        fields[HTTPField.Name("X-Frame-Options")!] = "DENY"
        fields[HTTPField.Name("Cross-Origin-Opener-Policy")!] = "same-origin"
        fields[HTTPField.Name("Permissions-Policy")!] = "camera=(self), microphone=(), geolocation=()"
        return fields
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response: Response
        do { response = try await next(request, context) } catch let error as any HTTPResponseError {
            response = try error.response(from: request, context: context)
        }
        for field in headers { response.headers[field.name] = field.value }
        if request.uri.path.hasPrefix("/app/api/") { response.headers[.cacheControl] = "no-store" }
        return response
    }
}
