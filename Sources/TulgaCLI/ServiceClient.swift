import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// One HTTP/1.1 exchange with a running tulga service over SwiftNIO: https (NIOSSL, the certificate
/// and host name verified against the system's roots), or plain http to this machine only. It
/// replaces `URLSession`, whose FoundationNetworking brings libcurl and some 25 libraries into every
/// start of `tulga`, `--help` included. One connection per call (`Connection: close`); the answer is
/// bounded in size and the whole exchange in time.
///
/// ```swift
/// let answer = try await ServiceClient.exchange(url, method: "GET", headers: [("X-API-Key", key)], body: nil)
/// ```
enum ServiceClient {
    /// An answer: its status code and body.
    struct Answer {
        var status: Int
        var body: Data
    }

    /// A refusal or failure, in words that carry no secret.
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// The largest answer read (the service's JSON answers are a few KiB).
    static let maxBody = 8 << 20

    /// Hosts plain http may go to: this machine.
    static let loopback: Set<String> = ["127.0.0.1", "localhost", "::1"]

    /// Where `url` connects (`dial`), the name it is known by (`host`: the Host header and TLS's
    /// name), and whether through TLS; nil for anything but https, or http to this machine.
    /// `localhost` is dialled as 127.0.0.1: a name lookup could send plain http elsewhere.
    static func endpoint(_ url: URL) -> (host: String, dial: String, port: Int, tls: Bool)? {
        guard let scheme = url.scheme?.lowercased(), var host = url.host, !host.isEmpty else { return nil }
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        let dial = host.lowercased() == "localhost" ? "127.0.0.1" : host
        switch scheme {
        case "https": return (host, dial, url.port ?? 443, true)
        case "http" where loopback.contains(host.lowercased()): return (host, dial, url.port ?? 80, false)
        default: return nil
        }
    }

    /// `text` (a refusal's body from the service) as one line fit for a terminal: control and
    /// format characters (escape sequences, bidirectional overrides, line breaks) become spaces,
    /// at most `limit` characters are kept.
    static func printable(_ text: String, limit: Int = 300) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            guard out.unicodeScalars.count < limit else { out += "…"; break }
            switch scalar.properties.generalCategory {
            case .control, .format, .lineSeparator, .paragraphSeparator, .surrogate, .privateUse, .unassigned: out += " "
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// What a refusal says: the RFC 9457 problem's code and detail when the body is one, else the
    /// body's start; always ``printable(_:limit:)``.
    static func refusal(_ body: Data) -> String {
        struct Problem: Decodable { let code: String?; let detail: String? }
        if let problem = try? JSONDecoder().decode(Problem.self, from: body.prefix(64 << 10)), problem.code != nil || problem.detail != nil {
            return printable([problem.code, problem.detail].compactMap { $0 }.joined(separator: ": "))
        }
        return printable(String(decoding: body.prefix(2000), as: UTF8.self))
    }

    /// One path segment (an application number from the command line) percent-encoded: only
    /// RFC 3986's unreserved characters stay as they are, so `/`, `?`, `#` and `..` cannot steer the request.
    static func segment(_ value: String) -> String {
        var allowed = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_~")
        if value != "." && value != ".." { allowed.insert(".") }
        return value.addingPercentEncoding(withAllowedCharacters: allowed) ?? ""
    }

    /// Sends one request and reads the whole answer.
    ///
    /// - Parameters:
    ///   - url: https, or http to this machine (``endpoint(_:)``).
    ///   - method: the HTTP method.
    ///   - headers: added to Host, Content-Length and Connection.
    ///   - body: the request's body, if any.
    ///   - timeout: for connecting, and again for the whole exchange.
    /// - Returns: The status and the body.
    /// - Throws: ``Failure`` for a refused URL, a failed connection or TLS handshake, a time-out, or an answer over ``maxBody``.
    static func exchange(_ url: URL, method: String, headers: [(String, String)], body: Data?, timeout: TimeAmount = .seconds(60)) async throws -> Answer {
        guard let place = endpoint(url) else {
            throw Failure(description: "--server must be https (plain http only to this machine): the API key and your requests must not travel in clear")
        }
        let (host, dial, port, secure) = place
        let tls: NIOSSLContext?
        if secure {
            var configuration = TLSConfiguration.makeClientConfiguration()
            configuration.minimumTLSVersion = .tlsv12
            do { tls = try NIOSSLContext(configuration: configuration) } catch { throw Failure(description: "TLS cannot be set up: \(error)") }
        } else {
            tls = nil
        }
        // An IP address is checked against the certificate's IP entries; a name also goes in SNI.
        let name = (try? SocketAddress(ipAddress: host, port: 0)) == nil ? host : nil
        let channel: NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>
        do {
            channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(timeout)
                .connect(host: dial, port: port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let pipeline = channel.pipeline.syncOperations
                        if let tls { try pipeline.addHandler(try NIOSSLClientHandler(context: tls, serverHostname: name)) }
                        try pipeline.addHTTPClientHandlers()
                        return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(wrappingChannelSynchronously: channel)
                    }
                }
        } catch {
            throw Failure(description: "cannot connect to \(host):\(port): \(describe(error))")
        }
        // However slowly the service answers, the exchange ends.
        let deadline = channel.channel.eventLoop.scheduleTask(in: timeout) { [channel = channel.channel] in channel.close(promise: nil) }
        defer { deadline.cancel() }
        var head = HTTPRequestHead(version: .http1_1, method: HTTPMethod(rawValue: method), uri: target(url))
        head.headers.add(name: "Host", value: url.port.map { "\(hostHeader(host)):\($0)" } ?? hostHeader(host))
        head.headers.add(name: "Connection", value: "close")
        head.headers.add(name: "Content-Length", value: "\(body?.count ?? 0)")
        for (field, value) in headers { head.headers.add(name: field, value: value) }
        do {
            return try await channel.executeThenClose { inbound, outbound in
                try await outbound.write(.head(head))
                if let body, !body.isEmpty { try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: body)))) }
                try await outbound.write(.end(nil))
                var status: Int?
                var data = Data()
                for try await part in inbound {
                    switch part {
                    case .head(let response):
                        status = Int(response.status.code)
                    case .body(var buffer):
                        guard data.count + buffer.readableBytes <= maxBody else { throw Failure(description: "the service's answer is over \(maxBody) bytes") }
                        data.append(contentsOf: buffer.readBytes(length: buffer.readableBytes) ?? [])
                    case .end:
                        guard let status else { throw Failure(description: "the service ended its answer without a status") }
                        return Answer(status: status, body: data)
                    }
                }
                throw Failure(description: "the service closed the connection before its answer ended (or it took over \(timeout.nanoseconds / 1_000_000_000) s)")
            }
        } catch let failure as Failure {
            throw failure
        } catch {
            throw Failure(description: "the exchange with \(host):\(port) failed: \(describe(error))")
        }
    }

    /// The request target: the URL's path (percent-encoded as given) and query.
    static func target(_ url: URL) -> String {
        let components = URLComponents(url: url, resolvingAgainstBaseURL: false)
        let path = components?.percentEncodedPath ?? "/"
        let query = components?.percentEncodedQuery.map { "?" + $0 } ?? ""
        return (path.isEmpty ? "/" : path) + query
    }

    static func hostHeader(_ host: String) -> String { host.contains(":") ? "[\(host)]" : host }

    /// NIO's and NIOSSL's descriptions carry no secrets.
    static func describe(_ error: any Error) -> String {
        if let error = error as? NIOSSLError { return "TLS: \(error)" }
        if let error = error as? BoringSSLError { return "TLS: \(error)" }
        return "\(error)"
    }
}
