public import Hummingbird
internal import Foundation
internal import Logging
internal import TulgaFace
internal import TulgaIssuance
internal import TulgaStorage
internal import TulgaVerification

/// An RFC 9457 problem: every error the API returns, as `application/problem+json` with a stable `code`.
public struct Problem: HTTPResponseError, Sendable {
    public let status: HTTPResponse.Status
    public let code: String
    public let detail: String
    public var headers: HTTPFields = [:]

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
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        let body = Body(type: "https://tulga.invalid/problems/\(code)", title: status.reasonPhrase, status: status.code, code: code, detail: detail)
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
        case let e as StoreError:
            let status: HTTPResponse.Status = switch e.code {
            case .notFound: .notFound
            case .attemptsExhausted, .inPersonLocked: .forbidden
            case .unauthorized: .unauthorized
            case .invalidPIN: .unprocessableContent
            case .invalidState, .moderation, .conflict: .conflict
            }
            return Problem(status, e.code.rawValue, e.reason)
        case let e as IssuanceError:
            let status: HTTPResponse.Status = switch e.code {
            case .notFound: .notFound
            case .invalidIdentity, .password: .unprocessableContent
            case .phoneNotRegistered, .digitalID, .consent, .renewal: .forbidden
            case .pin, .code: .forbidden
            case .activeApplication, .state, .headApproval: .conflict
            case .ca: .serviceUnavailable
            }
            return Problem(status, e.code.rawValue, e.reason)
        case let e as VerificationError:
            return Problem(e.code == .notInRegistry ? .notFound : .unprocessableContent, e.code.rawValue, e.reason)
        case let e as FaceError:
            switch e.code {
            case .modelUnavailable, .internalError: return Problem(.internalServerError, "internal", "the face pipeline failed")
            case .tooLarge: return Problem(.contentTooLarge, "image_too_large", e.reason)
            default: return Problem(.unprocessableContent, "invalid_image", e.reason)
            }
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

    static func describe(_ error: any Error) -> String {
        switch error as? DecodingError {
        case .keyNotFound(let key, _): "missing field \(key.stringValue)"
        case .typeMismatch(_, let c), .valueNotFound(_, let c): "wrong type at \(c.codingPath.map(\.stringValue).joined(separator: "."))"
        case .dataCorrupted(let c): c.codingPath.isEmpty ? "malformed JSON" : "bad value at \(c.codingPath.map(\.stringValue).joined(separator: "."))"
        default: "unreadable"
        }
    }
}
