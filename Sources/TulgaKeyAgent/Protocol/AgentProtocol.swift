// The key agent's protocol, pure: reading a request, checking its params, writing an answer, and
// the error codes. No networking, and no key store but its types (README, "The key agent").
public import Foundation
public import TulgaCore
public import TulgaPKI
public import TulgaKeyStore
import TulgaIdentity

/// The agent's error codes, as the page reads them in `error.code`.
public enum AgentErrorCode: String, ErrorCode, CaseIterable {
    /// Malformed JSON, or a missing or wrong-typed field or param.
    case badRequest = "bad_request"
    /// A method the agent does not know.
    case unknownMethod = "unknown_method"
    /// A message over ``AgentLimits/maximumMessage`` bytes.
    case tooLarge = "too_large"
    /// A wrong password or token PIN, or none given.
    case password
    /// The folder or token cannot be used.
    case storage
    /// `generate` would make keys over keys the storage holds already.
    case keysExist = "keys_exist"
    /// Nothing to install into or sign with, or no pending requests.
    case noKeys = "no_keys"
    /// A certificate is not PEM, is not the purpose it is given for, does not chain to the chain given
    /// on the agent's clock, certifies another key than the storage's of its purpose, or names another IIN.
    case certificate
    /// The agent runs with `--ca-root` and the chain given ends at another root CA: not the CA it trusts.
    case certificateUntrusted = "certificate_untrusted"
    /// `signIn`'s audience is not the origin of the page that asked.
    case audience
    /// The agent's own fault.
    case `internal`

    /// Problem kinds for completeness; the agent answers over its socket, not HTTP.
    public var kind: ProblemKind {
        switch self {
        case .badRequest: .malformed
        case .unknownMethod, .noKeys: .notFound
        case .tooLarge: .tooLarge
        case .password: .unauthorized
        case .storage: .unavailable
        case .keysExist: .conflict
        case .certificate: .invalid
        case .certificateUntrusted: .forbidden
        case .audience: .forbidden
        case .internal: .internalError
        }
    }
}

/// A refusal the agent answers with: a code and an English sentence.
public typealias AgentError = CodedError<AgentErrorCode>

/// The agent's fixed numbers.
public enum AgentLimits {
    /// The longest message (one text frame, or the fragments of one message), in bytes.
    public static let maximumMessage = 64 * 1024
    /// The protocol version `hello` reports.
    public static let protocolVersion = 1
    /// The NCALayer port, the default.
    public static let defaultPort = 13579
    /// The default page origin: `tulga serve`'s default address.
    public static let defaultOrigin = "http://127.0.0.1:8080"
    /// The longest challenge (hex digits) and audience accepted.
    static let maximumChallenge = 128, maximumAudience = 256
    /// The deepest nesting of arrays and objects read (requests need three).
    static let maximumNesting = 8
    /// Ids as JavaScript numbers hold them exactly.
    static let maximumID: Int64 = 9_007_199_254_740_991
}

/// One call, its params checked.
public enum AgentCall: Sendable, Equatable {
    /// Who is listening.
    case hello
    /// Make both key pairs and their requests.
    case generate(iin: String, algorithm: KeyAlgorithm)
    /// Put the two certificates next to their keys.
    case install(certificates: [KeyPurpose: String], chain: String)
    /// Sign a sign-in challenge with the installed AUTH key.
    case signIn(challenge: String, audience: String)
    /// The requests of the keys made and not installed, to file again.
    case pending

    /// The method's name on the wire.
    public var method: String {
        switch self {
        case .hello: "hello"
        case .generate: "generate"
        case .install: "install"
        case .signIn: "signIn"
        case .pending: "pending"
        }
    }
}

/// A request read from one text message.
///
/// ```swift
/// switch AgentRequest.read(Data(#"{"id":1,"method":"hello","params":{}}"#.utf8)) {
/// case .success(let request): request.call          // .hello
/// case .failure(let refusal): refusal.answer        // {"id":…,"error":{…}}
/// }
/// ```
public struct AgentRequest: Sendable, Equatable {
    /// The page's id, echoed in the answer.
    public let id: Int64
    /// The method with its params.
    public let call: AgentCall

    /// Reads a message: JSON, an object with an integer `id`, a known `method` and its `params`.
    ///
    /// - Parameter message: the text frame's bytes.
    /// - Returns: The request, or the refusal to send back (with the id when it could be read).
    public static func read(_ message: Data) -> Result<AgentRequest, AgentRefusal> {
        guard message.count <= AgentLimits.maximumMessage else {
            return .failure(AgentRefusal(id: nil, AgentError(.tooLarge, "a message is at most \(AgentLimits.maximumMessage) bytes")))
        }
        // Requests nest three deep; a deeper message is refused before any recursive parser sees it.
        guard nesting(message) <= AgentLimits.maximumNesting, let parsed = try? JSONDecoder().decode(JSONValue.self, from: message) else {
            return .failure(AgentRefusal(id: nil, AgentError(.badRequest, "the message is not JSON")))
        }
        guard case .object(let object) = parsed else {
            return .failure(AgentRefusal(id: nil, AgentError(.badRequest, "a request is a JSON object")))
        }
        guard case .integer(let id) = object["id"], abs(id) <= AgentLimits.maximumID else {
            return .failure(AgentRefusal(id: nil, AgentError(.badRequest, "a request needs an integer id")))
        }
        do { return .success(AgentRequest(id: id, call: try call(object))) }
        catch { return .failure(AgentRefusal(id: id, error)) }
    }

    static func call(_ object: [String: JSONValue]) throws(AgentError) -> AgentCall {
        guard case .string(let method) = object["method"] else { throw AgentError(.badRequest, "a request needs a method (a string)") }
        let params: [String: JSONValue]
        switch object["params"] {
        case nil, .null: params = [:]
        case .object(let given): params = given
        default: throw AgentError(.badRequest, "params is an object")
        }
        switch method {
        case "hello":
            return .hello
        case "generate":
            let iin = try string(params, "iin", limit: 12)
            do { _ = try IIN(iin) } catch { throw AgentError(.badRequest, "iin is not an IIN: \(error.reason)") }
            guard let algorithm = KeyAlgorithm(rawValue: try string(params, "algorithm", limit: 16)) else {
                throw AgentError(.badRequest, "algorithm is rsa2048 or p256")
            }
            return .generate(iin: iin, algorithm: algorithm)
        case "install":
            guard case .object(let given) = params["certificates"] else {
                throw AgentError(.badRequest, "certificates is an object with the AUTH and SIGN certificates")
            }
            var certificates: [KeyPurpose: String] = [:]
            for purpose in KeyPurpose.allCases {
                let pem = try string(given, purpose.rawValue, limit: AgentLimits.maximumMessage, in: "certificates")
                let certificate: IssuedCertificate
                do { certificate = try IssuedCertificate(pem: pem) } catch {
                    throw AgentError(.certificate, "the \(purpose.rawValue) certificate is not a PEM certificate with an RSA or P-256 key")
                }
                guard certificate.isAuthentication == (purpose == .auth) else {
                    throw AgentError(.certificate, purpose == .auth ? "the AUTH certificate is not an authentication certificate (clientAuth)"
                                                                    : "the SIGN certificate is an authentication certificate, not a signing one")
                }
                certificates[purpose] = pem
            }
            let chain = try string(params, "chain", limit: AgentLimits.maximumMessage)
            guard chainIsPEM(chain) else { throw AgentError(.certificate, "the chain is not PEM certificates (the issuing and root CA)") }
            return .install(certificates: certificates, chain: chain)
        case "signIn":
            let challenge = try string(params, "challenge", limit: AgentLimits.maximumChallenge)
            guard !challenge.isEmpty, challenge.allSatisfy({ $0.isASCII && $0.isHexDigit }) else {
                throw AgentError(.badRequest, "challenge is hex digits, as the service gave it")
            }
            let audience = try string(params, "audience", limit: AgentLimits.maximumAudience)
            // The audience is one line of the signed text: no line breaks or other control characters.
            guard !audience.isEmpty, !audience.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
                throw AgentError(.badRequest, "audience is the service's origin, as the challenge came with it")
            }
            return .signIn(challenge: challenge, audience: audience)
        case "pending":
            return .pending
        default:
            throw AgentError(.unknownMethod, "no method \(method.prefix(64)): the agent knows hello, generate, pending, install and signIn")
        }
    }

    /// The deepest nesting of arrays and objects, outside strings; stops counting past the limit.
    static func nesting(_ message: Data) -> Int {
        var depth = 0, deepest = 0, inString = false, escaped = false
        for byte in message {
            if inString {
                if escaped { escaped = false } else if byte == UInt8(ascii: "\\") { escaped = true } else if byte == UInt8(ascii: "\"") { inString = false }
                continue
            }
            switch byte {
            case UInt8(ascii: "\""): inString = true
            case UInt8(ascii: "["), UInt8(ascii: "{"):
                depth += 1
                deepest = max(deepest, depth)
                if deepest > AgentLimits.maximumNesting { return deepest }
            case UInt8(ascii: "]"), UInt8(ascii: "}"): depth -= 1
            default: break
            }
        }
        return deepest
    }

    /// A string param of at most `limit` bytes.
    static func string(_ params: [String: JSONValue], _ name: String, limit: Int, in parent: String = "params") throws(AgentError) -> String {
        guard case .string(let value) = params[name] else { throw AgentError(.badRequest, "\(parent).\(name) is missing or not a string") }
        guard value.utf8.count <= limit else { throw AgentError(.badRequest, "\(parent).\(name) is longer than \(limit) bytes") }
        return value
    }

    /// One or more PEM certificates and nothing else but whitespace.
    static func chainIsPEM(_ chain: String) -> Bool {
        let end = "-----END CERTIFICATE-----"
        let parts = chain.components(separatedBy: end)
        guard parts.count >= 2, parts.last?.allSatisfy(\.isWhitespace) == true else { return false }
        return parts.dropLast().allSatisfy { part in
            guard let begin = part.range(of: "-----BEGIN CERTIFICATE-----"), part[..<begin.lowerBound].allSatisfy(\.isWhitespace) else { return false }
            return (try? IssuedCertificate(pem: String(part[begin.lowerBound...]) + end)) != nil
        }
    }
}

/// A JSON value, read and written with Foundation's coders: booleans, integers and other numbers
/// stay apart (an id of `true` or `1.5` is no id).
public enum JSONValue: Codable, Sendable, Equatable {
    case null
    case bool(Bool)
    case integer(Int64)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() { self = .null }
        else if let value = try? container.decode(Bool.self) { self = .bool(value) }
        else if let value = try? container.decode(Int64.self) { self = .integer(value) }
        else if let value = try? container.decode(Double.self) { self = .number(value) }
        else if let value = try? container.decode(String.self) { self = .string(value) }
        else if let value = try? container.decode([JSONValue].self) { self = .array(value) }
        else { self = .object(try container.decode([String: JSONValue].self)) }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .integer(let value): try container.encode(value)
        case .number(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }
}

/// A request refused before or while it ran: the id (when it could be read) and the error.
public struct AgentRefusal: Error, Sendable, Equatable {
    /// The request's id, or `nil` when the message had none.
    public let id: Int64?
    /// Why.
    public let error: AgentError

    /// A refusal of the request `id`.
    public init(id: Int64?, _ error: AgentError) { (self.id, self.error) = (id, error) }

    /// `{"id": …, "error": {"code": …, "message": …}}`.
    public var answer: Data { AgentAnswer.error(id: id, error) }
}

/// What the agent sends back: one JSON object a message.
public enum AgentAnswer {
    /// `{"id": id, "result": result}`.
    ///
    /// - Parameters:
    ///   - id: the request's id.
    ///   - result: the method's result.
    public static func result(id: Int64, _ result: [String: JSONValue]) -> Data {
        encode(.object(["id": .integer(id), "result": .object(result)]))
    }

    /// `{"id": id or null, "error": {"code": code, "message": sentence}}`.
    ///
    /// - Parameters:
    ///   - id: the request's id; `nil` is written as `null`.
    ///   - error: the refusal.
    public static func error(id: Int64?, _ error: AgentError) -> Data {
        encode(.object(["id": id.map { .integer($0) } ?? .null,
                        "error": .object(["code": .string(error.code.rawValue), "message": .string(error.reason)])]))
    }

    /// `hello`'s result.
    public static func hello(storage: KeyStorageKind) -> [String: JSONValue] {
        ["agent": .string("tulga"), "protocol": .integer(Int64(AgentLimits.protocolVersion)), "storage": .string(storage.rawValue)]
    }

    /// `generate`'s result: the two requests and key ids by purpose.
    public static func generated(_ requests: [GeneratedRequest]) -> [String: JSONValue] {
        ["requests": .object(Dictionary(requests.map { ($0.purpose.rawValue, .string($0.pem)) }) { $1 }),
         "keyIDs": .object(Dictionary(requests.map { ($0.purpose.rawValue, .string($0.keyID)) }) { $1 })]
    }

    /// `pending`'s result: as `generate`'s, with the IIN the requests name.
    public static func pending(_ requests: [GeneratedRequest], iin: String) -> [String: JSONValue] {
        generated(requests).merging(["iin": .string(iin)]) { $1 }
    }

    /// `install`'s result: one line per object written.
    public static func installed(_ lines: [String]) -> [String: JSONValue] { ["installed": .array(lines.map { .string($0) })] }

    /// `signIn`'s result: the AUTH certificate and the signature, base64.
    public static func signedIn(certificate: String, signature: Data) -> [String: JSONValue] {
        ["certificate": .string(certificate), "signature": .string(signature.base64EncodedString())]
    }

    static func encode(_ value: JSONValue) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Strings, integers, arrays and objects only: encoding cannot fail.
        return (try? encoder.encode(value)) ?? Data(#"{"error":{"code":"internal","message":"the answer could not be written"},"id":null}"#.utf8)
    }
}

/// The error a failed operation answers with. Key store errors keep their meaning: a wrong password
/// or PIN is `password`, a storage that cannot be used is `storage`, a missing key `no_keys`, an
/// unreadable certificate `certificate`; anything else is `internal`.
///
/// - Parameter error: what the operation threw.
/// - Returns: The agent's error.
public func agentError(_ error: any Error) -> AgentError {
    switch error {
    case let e as AgentError: return e
    case let e as KeyError:
        switch e.code {
        case .password: return AgentError(.password, e.reason)
        case .keyStore, .token: return AgentError(.storage, e.reason)
        case .noKey: return AgentError(.noKeys, e.reason)
        case .invalidRequest, .weakKey, .untrusted, .mismatch: return AgentError(.certificate, e.reason)
        case .untrustedRoot: return AgentError(.certificateUntrusted, e.reason)
        }
    case let e as PKIError: return AgentError(.internal, "OpenSSL: \(e.reason)")
    default: return AgentError(.internal, "the agent failed")
    }
}

/// A refusal's text as the page gets it: the key stores name local paths (the key folder, its files,
/// the PKCS#11 module) for the terminal; the page gets words instead, and the agent's own log the original.
public enum PageText {
    /// `text` with every local path replaced: the key folder itself by "the key folder", a path in it by
    /// "a file in the key folder", any other path (an absolute or relative one with a `/`, not a URL) by
    /// "a local path", and a bare key file name (`.key`, `.csr`, `.p12`, `.wiping`, `.so`) by "a local file".
    ///
    /// - Parameters:
    ///   - text: the refusal's sentence.
    ///   - storage: the agent's storage (its folder and every folder above it, or its module, are known paths, spaces and all).
    /// - Returns: The sentence without them.
    public static func redacted(_ text: String, storage: AgentStorage) -> String {
        let folderMark = "\u{1}", otherMark = "\u{2}"
        var known: [(path: String, mark: String)] = []
        switch storage {
        case .folder(let directory):
            var path = directory
            while path.count > 1, !known.contains(where: { $0.path == path }) {
                known.append((path, path == directory ? folderMark : otherMark))
                path = (path as NSString).deletingLastPathComponent
            }
        case .token(let module, _):
            if !module.isEmpty { known.append((module, otherMark)) }
        }
        var marked = text
        for (path, mark) in known.sorted(by: { $0.path.count > $1.path.count }) { marked = marked.replacingOccurrences(of: path, with: mark) }
        let fileSuffixes = [".key", ".csr", ".p12", ".wiping", ".so"], edges = Set("()[]'\"«»:,;.!?")
        return marked.split(separator: " ", omittingEmptySubsequences: false).map { word -> String in
            let lead = word.prefix { edges.contains($0) && $0 != "." }
            let rest = word.dropFirst(lead.count)
            let trail = rest.reversed().prefix { edges.contains($0) }
            let core = String(rest.dropLast(trail.count))
            let replaced: String
            if core.contains(folderMark) { replaced = core == folderMark ? "the key folder" : "a file in the key folder" }
            else if core.contains(otherMark) || (core.contains("/") && !core.contains("://")) { replaced = "a local path" }
            else if fileSuffixes.contains(where: { core.count > $0.count && core.hasSuffix($0) }) { replaced = "a local file" }
            else { return String(word) }
            return String(lead) + replaced + String(trail.reversed())
        }.joined(separator: " ")
    }
}

/// The page origins the agent accepts, as `--origin` gives them.
public enum AgentOrigins {
    /// Checks one `--origin`: `http` or `https`, a host, an optional port, nothing else (no path, not
    /// even `/`), as browsers send the `Origin` header.
    ///
    /// - Parameter origin: the value.
    /// - Throws: ``AgentError`` `.badRequest` naming what is wrong.
    public static func check(_ origin: String) throws(AgentError) {
        guard let url = URLComponents(string: origin), let scheme = url.scheme, ["http", "https"].contains(scheme),
              let host = url.host, !host.isEmpty else {
            throw AgentError(.badRequest, "an origin is http(s)://host[:port], not \(origin)")
        }
        guard url.path.isEmpty, url.query == nil, url.fragment == nil, url.user == nil, url.password == nil else {
            throw AgentError(.badRequest, "an origin has no path, query or user: \(scheme)://\(host)\(url.port.map { ":\($0)" } ?? "")")
        }
        guard origin == origin.lowercased() else { throw AgentError(.badRequest, "browsers send origins in lower case: \(origin.lowercased())") }
    }

    /// The HTTP status a request to the agent is refused with: 403 unless its `Origin` is allowed
    /// (``admits(_:allowed:)``), then 404 for any path but `/`; `nil` when it may upgrade.
    ///
    /// - Parameters:
    ///   - origins: every `Origin` header value of the request.
    ///   - path: the request target.
    ///   - allowed: the `--origin` values.
    /// - Returns: 403, 404, or `nil`.
    public static func refusal(_ origins: [String], path: String, allowed: [String]) -> Int? {
        !admits(origins, allowed: allowed) ? 403 : path != "/" ? 404 : nil
    }

    /// Whether an upgrade request's `Origin` headers admit it: exactly one, equal to an allowed origin.
    ///
    /// - Parameters:
    ///   - headers: every `Origin` header value of the request.
    ///   - allowed: the `--origin` values.
    /// - Returns: `true` only for one exact match.
    public static func admits(_ headers: [String], allowed: [String]) -> Bool {
        headers.count == 1 && allowed.contains(headers[0])
    }
}
