public import Hummingbird
import Foundation
import HTTPTypes
import Logging
import Synchronization
import TulgaCrypto
public import TulgaAPIKeys
import TulgaIssuance
import TulgaCore
import TulgaFlow
import TulgaConfig
import TulgaAttempts
import TulgaPolicy
import TulgaModeration

/// The request context: the authenticated API key, once the auth middleware has run.
public struct TulgaContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public var apiKey: APIKeyRecord?

    public init(source: Source) {
        coreContext = .init(source: source)
        apiKey = nil
    }

    /// JSON bodies; frame and clip routes collect their own, larger limits.
    public var maxUploadSize: Int { 64 * 1024 }
}

public enum Scope: String, Sendable, CaseIterable {
    case kiosk, issuance, moderation, admin
}

extension TulgaContext {
    /// The key must hold one of `scopes` (admin holds all): 403 otherwise.
    func require(_ scopes: Scope...) throws {
        guard let key = apiKey else { throw Problem(.unauthorized, "unauthorized", "missing or invalid X-API-Key") }
        guard key.scopes.contains(Scope.admin.rawValue) || scopes.contains(where: { key.scopes.contains($0.rawValue) }) else {
            throw Problem(.forbidden, "forbidden", "this API key lacks the \(scopes.map(\.rawValue).joined(separator: " or ")) scope")
        }
    }
}

extension TulgaContext {
    /// Who the key speaks for: an admin key is staff and sees every application; any other key is
    /// a calling system that sees only its own.
    var caller: Caller {
        guard let key = apiKey else { return .system("") }
        return key.scopes.contains(Scope.admin.rawValue) ? .staff("admin:" + key.id) : .system(key.id)
    }
}

/// Verified keys, by the SHA-256 of the presented key, so scrypt runs once per key and process.
final class KeyCache: Sendable {
    private let verified = Mutex<[String: APIKeyRecord]>([:])
    func get(_ digest: String) -> APIKeyRecord? { verified.withLock { $0[digest] } }
    func put(_ digest: String, _ record: APIKeyRecord) { verified.withLock { $0[digest] = record } }
}

/// Authenticates `X-API-Key` for every route except the public ones; 401 for a missing or bad key.
struct AuthMiddleware: RouterMiddleware {
    typealias Context = TulgaContext
    let keys: APIKeyRecords
    let cache: KeyCache
    static let publicPaths: Set<String> = ["/health", "/metrics", "/openapi.yaml"]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        // Relying parties fetch the CRL and ask OCSP without a key.
        if Self.publicPaths.contains(request.uri.path) || request.uri.path.hasPrefix("/pki/") { return try await next(request, context) }
        guard let key = request.headers[HTTPField.Name("X-API-Key")!], !key.isEmpty, key.count <= 256 else {
            throw Problem(.unauthorized, "unauthorized", "missing or invalid X-API-Key")
        }
        let digest = sha256Hex(key)
        var record = cache.get(digest)
        if record == nil, let found = try await keys.authenticate(key) {
            cache.put(digest, found)
            record = found
        }
        guard let record else { throw Problem(.unauthorized, "unauthorized", "missing or invalid X-API-Key") }
        var context = context
        context.apiKey = record
        return try await next(request, context)
    }
}

/// Token buckets: per API key on every request, per IIN where a route names one.
final class RateLimiter: Sendable {
    private struct Bucket { var tokens: Double; var at: Double }
    private let buckets = Mutex<[String: Bucket]>([:])
    let perMinute: Double
    let clock: any WallClock

    init(perMinute: Double, clock: any WallClock) {
        self.perMinute = perMinute
        self.clock = clock
    }

    /// Takes a token for `key`, or throws 429 with the seconds to wait.
    func take(_ key: String) throws {
        let now = clock.now()
        let rate = perMinute / 60
        let wait: Double? = buckets.withLock { all in
            var b = all[key] ?? Bucket(tokens: perMinute, at: now)
            b.tokens = min(perMinute, b.tokens + (now - b.at) * rate)
            b.at = now
            defer { all[key] = b }
            if b.tokens >= 1 {
                b.tokens -= 1
                return nil
            }
            return (1 - b.tokens) / rate
        }
        if let wait {
            var problem = Problem(.tooManyRequests, "rate_limited", "too many requests; retry in \(Int(wait.rounded(.up))) s")
            problem.headers[.retryAfter] = "\(Int(wait.rounded(.up)))"
            throw problem
        }
    }
}

struct KeyRateLimitMiddleware: RouterMiddleware {
    typealias Context = TulgaContext
    let limiter: RateLimiter
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if let key = context.apiKey { try limiter.take("key:" + key.id) }
        return try await next(request, context)
    }
}
