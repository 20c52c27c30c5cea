public import Hummingbird
import Foundation
import Logging
public import TulgaCore
import TulgaFace
import HTTPTypes
import TulgaFlow
import TulgaConfig
import TulgaAttempts
import TulgaPolicy
import TulgaModeration

/// An RFC 9457 problem: every error the API returns, as `application/problem+json` with a stable `code`.
public struct Problem: HTTPResponseError, Sendable {
    public let status: HTTPResponse.Status
    public let code: String
    public let detail: String
    public var headers: HTTPFields = [:]
    /// What the applicant reads, when the refusal is theirs: a catalogue key and its values (the
    /// browser portal renders it in the page's language).
    public var message: Message?

    public init(_ status: HTTPResponse.Status, _ code: String, _ detail: String) {
        self.status = status
        self.code = code
        self.detail = detail
    }

    struct Body: Encodable {
        let type: String
        let title: String
        let status: Int
        let code: String
        let detail: String
        let message: Message?
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        let body = Body(type: "https://tulga.invalid/problems/\(code)", title: status.reasonPhrase, status: status.code, code: code, detail: detail,
                        message: message)
        var fields = headers
        fields[.contentType] = "application/problem+json"
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: try JSONEncoder().encode(body))))
    }
}

/// Maps every error to a problem; unknown ones become 500 with a log line that names the type only.
struct ProblemMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let problem as Problem {
            throw problem
        } catch {
            let problem = Self.problem(for: error)
            if problem.status == .internalServerError {
                context.logger.error("unhandled error", metadata: ["type": "\(type(of: error))", "route": "\(context.endpointPath ?? "-")"])
            }
            throw problem
        }
    }

    static func problem(for error: any Error) -> Problem {
        switch error {
        case let e as FaceError:
            return image(e)
        case let e as any TulgaError:
            // Each module's error says which problem it is; internals never show their reason.
            guard e.kind != .internalError else { return Problem(.internalServerError, "internal", "internal error") }
            var problem = Problem(status(e.kind), e.errorCode, e.reason)
            problem.message = e.message
            return problem
        case is DecodingError:
            return Problem(.badRequest, "invalid_json", "the body is not the JSON this endpoint expects: \(describe(error))")
        case let e as HTTPError:
            switch e.status {
            case .contentTooLarge: return Problem(.contentTooLarge, "payload_too_large", "the body is over this endpoint's size limit")
            case .notFound: return Problem(.notFound, "not_found", "no such resource")
            default: return Problem(e.status, "http_\(e.status.code)", e.body ?? e.status.reasonPhrase)
            }
        case let e as any HTTPResponseError:
            if e.status == .contentTooLarge { return Problem(.contentTooLarge, "payload_too_large", "the body is over this endpoint's size limit") }
            return Problem(e.status, "http_\(e.status.code)", e.status.reasonPhrase)
        default:
            return Problem(.internalServerError, "internal", "internal error")
        }
    }

    static func status(_ kind: ProblemKind) -> HTTPResponse.Status {
        switch kind {
        case .invalid: .unprocessableContent
        case .malformed: .badRequest
        case .unauthorized: .unauthorized
        case .forbidden: .forbidden
        case .notFound: .notFound
        case .conflict: .conflict
        case .tooLarge: .contentTooLarge
        case .rateLimited: .tooManyRequests
        case .unavailable: .serviceUnavailable
        case .internalError: .internalServerError
        }
    }

    /// A posted image that cannot be used: the image codes of the API, not the pipeline's.
    static func image(_ error: FaceError) -> Problem {
        switch error.kind {
        case .tooLarge: Problem(.contentTooLarge, "image_too_large", error.reason)
        case .internalError: Problem(.internalServerError, "internal", "the face pipeline failed")
        default: Problem(.unprocessableContent, "invalid_image", error.reason)
        }
    }

    static func describe(_ error: any Error) -> String {
        switch error as? DecodingError {
        case .keyNotFound(let key, _): "missing field \(key.stringValue)"
        case .typeMismatch(_, let c), .valueNotFound(_, let c): "wrong type at \(c.codingPath.map(\.stringValue).joined(separator: "."))"
        case .dataCorrupted(let c): c.codingPath.isEmpty ? "malformed JSON" : "bad value at \(c.codingPath.map(\.stringValue).joined(separator: "."))"
        default: "unreadable"
        }
    }
}
