public import Hummingbird
import Foundation
import HTTPTypes
import Logging
import Synchronization
import TulgaCrypto
public import TulgaAPIKeys
public import TulgaPortal
import TulgaIssuance
import TulgaCore
import TulgaFlow
import TulgaConfig
import TulgaAttempts
import TulgaPolicy
import TulgaModeration

/// The request context: the authenticated API key, once the auth middleware has run; for the
/// browser portal (`/app/api/…`), its session and the cookie's credential instead.
public struct TulgaContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public var apiKey: APIKeyRecord?
    /// The browser's portal session, once ``AppSessionMiddleware`` has found it.
    public var portal: PortalSession?
    /// The cookie's credential the session was found with (its CSRF token checked).
    var portalCredential: PortalCredential?
    /// The peer's IP address (failed authentication is limited per address); "unknown" in-process.
    public let clientAddress: String

    public init(source: Source) {
        coreContext = .init(source: source)
        apiKey = nil
        portal = nil
        portalCredential = nil
        clientAddress = source.channel.remoteAddress?.ipAddress ?? "unknown"
    }

    /// JSON bodies; frame and clip routes collect their own, larger limits.
    public var maxUploadSize: Int { 64 * 1024 }
}

public enum Scope: String, Sendable, CaseIterable {
    case kiosk, issuance, moderation, admin
    /// A service centre's desk (`/v1/operator/…`).
    case operatorDesk = "operator"
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
    /// The key family that owns what this request creates (verification sessions): another key sees
    /// none of it; a rotated key keeps its family's.
    var owner: String { apiKey?.owner ?? portal.map { Caller.portal($0.id).ownerTag } ?? "" }

    /// Who the request comes from, for limits: the TCP peer, or behind a trusted proxy the last
    /// `X-Forwarded-For` hop; an IPv6 address stands for its /64.
    func clientAddress(trustingForwardedFor trusted: Bool, _ headers: HTTPFields) -> String {
        var address = clientAddress
        if trusted, let forwarded = headers[HTTPField.Name("X-Forwarded-For")!],
           let last = forwarded.split(separator: ",").last?.trimmingCharacters(in: .whitespaces), !last.isEmpty {
            address = last
        }
        guard address.contains(":") else { return address }
        return address.split(separator: ":", omittingEmptySubsequences: false).prefix(4).joined(separator: ":") + "::/64"
    }

    /// Who the key speaks for: an admin key is staff and sees every application; any other key is
    /// a calling system that sees only its own.
    var caller: Caller {
        if apiKey == nil, let portal { return .portal(portal.id) }
        guard let key = apiKey else { return .system("") }
        return key.scopes.contains(Scope.admin.rawValue) ? .staff("admin:" + key.id) : .system(key.owner)
    }
}

/// Verified keys, by the SHA-256 of the presented key, for a few seconds: a revocation, expiry or
/// scope change reaches every node within ``ttlSeconds``.
final class KeyCache: Sendable {
    private let verified = Mutex<[String: (record: APIKeyRecord, at: Double)]>([:])
    let ttlSeconds: Double
    init(ttlSeconds: Double = 5) { self.ttlSeconds = ttlSeconds }
    func get(_ digest: String, now: Double) -> APIKeyRecord? {
        verified.withLock { all in
            guard let entry = all[digest] else { return nil }
            guard now - entry.at < ttlSeconds, now >= entry.at, entry.record.isUsable(at: now) else {
                all[digest] = nil
                return nil
            }
            return entry.record
        }
    }
    func put(_ digest: String, _ record: APIKeyRecord, now: Double) {
        verified.withLock { all in
            if all.count > 10_000 { all.removeAll() }   // bounded: many keys in a few seconds is not normal use
            all[digest] = (record, now)
        }
    }
}

/// Authenticates `X-API-Key` for every route except the public ones; 401 for a missing or bad key.
/// Failed authentications are limited per client address (429 with `Retry-After` once spent);
/// a key costs one HMAC and one indexed read, never a KDF.
struct AuthMiddleware: RouterMiddleware {
    typealias Context = TulgaContext
    let keys: APIKeyRecords
    let cache: KeyCache
    let failures: RateLimiter
    let clock: any WallClock
    /// Take the client from the last `X-Forwarded-For` hop (only behind a proxy that sets it).
    let trustForwardedFor: Bool
    static let publicPaths: Set<String> = ["/health", "/health/live", "/health/ready", "/metrics", "/openapi.yaml", "/app"]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        // Relying parties fetch the CRL and ask OCSP without a key; the browser portal (`/app/`)
        // holds no key: its API authenticates by the session cookie (AppSessionMiddleware).
        let path = request.uri.path
        // Dot segments are never let through unauthenticated, whatever a router might make of them.
        let plain = !path.split(separator: "/").contains { $0 == ".." || $0 == "." }
        if Self.publicPaths.contains(path) || plain && (path.hasPrefix("/pki/") || path.hasPrefix("/app/")) { return try await next(request, context) }
        // Failed keys are limited per client address; a valid key never waits for them, so nobody
        // can lock out the kiosks behind one proxy by sending bad keys.
        let address = "auth-fail:" + context.clientAddress(trustingForwardedFor: trustForwardedFor, request.headers)
        guard let key = request.headers[HTTPField.Name("X-API-Key")!], !key.isEmpty, key.count <= 256 else {
            try failures.take(address)
            throw Problem(.unauthorized, "unauthorized", "missing or invalid X-API-Key")
        }
        let digest = sha256Hex(key), now = clock.now()
        var record = cache.get(digest, now: now)
        if record == nil {
            try failures.check(address)   // an address that keeps failing gets no more lookups for a while
            if let found = try await keys.authenticate(key) {
                cache.put(digest, found, now: now)
                record = found
            }
        }
        guard let record else {
            try failures.take(address)
            throw Problem(.unauthorized, "unauthorized", "missing or invalid X-API-Key")
        }
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

    /// The tokens a bucket holds at `now`, refilled at `perMinute` up to `perMinute`.
    private func tokens(_ b: Bucket, now: Double) -> Double { min(perMinute, b.tokens + (now - b.at) * perMinute / 60) }
    /// Seconds until a bucket holding `tokens` has one.
    private func wait(_ tokens: Double) -> Double { (1 - tokens) / (perMinute / 60) }

    /// Throws 429 when `key` has no token left, without taking one.
    func check(_ key: String) throws {
        let now = clock.now()
        let wait: Double? = buckets.withLock { all in
            guard let b = all[key] else { return nil }
            let left = tokens(b, now: now)
            return left >= 1 ? nil : self.wait(left)
        }
        if let wait { throw Self.limited(wait) }
    }

    static func limited(_ wait: Double) -> Problem {
        var problem = Problem(.tooManyRequests, "rate_limited", "too many requests; retry in \(Int(wait.rounded(.up))) s")
        problem.headers[.retryAfter] = "\(Int(wait.rounded(.up)))"
        return problem
    }

    /// Takes a token for `key`, or throws 429 with the seconds to wait.
    func take(_ key: String) throws {
        let now = clock.now()
        let wait: Double? = buckets.withLock { all in
            if all.count > 100_000 {
                // Bounded memory: buckets that have refilled hold nothing worth keeping; a flood of
                // new addresses cannot empty the buckets of those being limited.
                all = all.filter { tokens($0.value, now: now) < perMinute }
                if all.count > 100_000 { return self.wait(0) }   // still full: refuse until buckets refill
            }
            var b = all[key] ?? Bucket(tokens: perMinute, at: now)
            b.tokens = tokens(b, now: now)
            b.at = now
            defer { all[key] = b }
            if b.tokens >= 1 {
                b.tokens -= 1
                return nil
            }
            return self.wait(b.tokens)
        }
        if let wait { throw Self.limited(wait) }
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
