import Foundation
import HTTPTypes
import Hummingbird
import TulgaCore
import TulgaIdentity
import TulgaFlow
import TulgaConfig
import TulgaAttempts
import TulgaPolicy
import TulgaModeration

/// JSON responses.
func json<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) throws -> Response {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: try encoder.encode(value))))
}

/// Reads a JSON body (64 KiB at most) into `T`.
func body<T: Decodable>(_ request: Request, _ type: T.Type, limit: Int = 64 * 1024) async throws -> T {
    var request = request
    let buffer = try await request.collectBody(upTo: limit)
    guard buffer.readableBytes > 0 else { throw Problem(.badRequest, "invalid_json", "the body is empty; this endpoint expects JSON") }
    return try JSONDecoder().decode(T.self, from: Data(buffer.readableBytesView))
}

func validIIN(_ text: String) throws -> String {
    do { return try IIN(text).value } catch { throw Problem(.unprocessableContent, "invalid_iin", "invalid IIN: \(error)") }
}

/// ru, kk or en (Рус / Қаз / Eng), ru when absent.
func language(_ raw: String?) throws -> Language {
    guard let parsed = Language(rawValue: raw ?? "ru") else {
        throw Problem(.unprocessableContent, "invalid_language", "language must be ru, kk or en")
    }
    return parsed
}

func makeID() -> String { UUID().uuidString.lowercased() }
