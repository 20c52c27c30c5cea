import TulgaCore
public import Foundation
import CTulgaPKI

/// An RFC 6960 responder in two steps around the caller's database: parse, look up, respond.
///
/// ```swift
/// let queries = try OCSP.parse(request, issuerPEM: issuing)
/// let statuses = queries.map { $0.ours ? lookUp($0.serialHex) : .unknown }
/// let response = try OCSP.respond(to: request, signer: signer, statuses: statuses, now: now, nextUpdate: later)
/// ```
public enum OCSP {
    /// Most certificates one request may ask about.
    public static let maximumQueries = 32
    /// Longest request accepted, in bytes.
    public static let maximumLength = 16 * 1024

    /// One certificate a request asks about.
    public struct Query: Sendable, Hashable {
        /// The serial, upper-case hex as OpenSSL prints it.
        public var serialHex: String
        /// Whether the CertID names our issuing CA (name and key hash).
        public var ours: Bool
    }

    /// A certificate's status.
    public enum Status: Sendable, Hashable {
        /// Issued by us and not revoked.
        case good
        /// Revoked, when and why.
        case revoked(at: Date, reason: RevocationReason)
        /// Not ours, or no such serial.
        case unknown
    }

    /// The unsigned error statuses of RFC 6960.
    public enum ErrorStatus: Int32, Sendable {
        /// The request cannot be read.
        case malformedRequest = 1
        /// The responder failed.
        case internalError = 2
        /// The responder cannot answer now.
        case tryLater = 3
        /// The responder does not answer for this issuer.
        case unauthorized = 6
    }

    /// The delegated OCSP-signing certificate and its encrypted key.
    public struct Signer: Sendable {
        /// The certificate (extendedKeyUsage OCSPSigning, issued by the issuing CA), PEM.
        public var certificatePEM: String
        /// Its private key, encrypted PKCS#8 PEM.
        public var encryptedKeyPEM: String
        /// The key's password.
        public var password: String
        /// Creates a signer.
        ///
        /// - Parameters: certificatePEM, encryptedKeyPEM, password: as the fields.
        public init(certificatePEM: String, encryptedKeyPEM: String, password: String) {
            (self.certificatePEM, self.encryptedKeyPEM, self.password) = (certificatePEM, encryptedKeyPEM, password)
        }
    }

    /// Reads a DER OCSPRequest.
    ///
    /// - Parameters:
    ///   - request: the request, DER.
    ///   - issuerPEM: our issuing CA's certificate.
    /// - Returns: The certificates asked about, in order.
    /// - Throws: ``PKIError`` for an empty, oversized, malformed or truncated request, or more than ``maximumQueries``.
    public static func parse(_ request: Data, issuerPEM: String) throws -> [Query] {
        guard !request.isEmpty, request.count <= maximumLength else { throw PKIError("an OCSP request has 1 to \(maximumLength) bytes") }
        var queries = [tp_ocsp_query](repeating: tp_ocsp_query(), count: maximumQueries)
        var count: Int32 = 0
        var error = tp_error()
        let ok = request.withUnsafeBytes { bytes in
            queries.withUnsafeMutableBufferPointer {
                tp_ocsp_parse(bytes.bindMemory(to: UInt8.self).baseAddress, bytes.count, issuerPEM, $0.baseAddress, Int32(maximumQueries), &count, &error)
            }
        }
        guard ok == 1 else { throw PKIError(error) }
        return queries.prefix(Int(count)).map { query in
            var copy = query
            let serial = withUnsafeBytes(of: &copy.serial_hex) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
            return Query(serialHex: serial, ours: query.ours == 1)
        }
    }

    /// A signed successful response, one status per query in request order.
    ///
    /// - Parameters:
    ///   - request: the request, DER (its CertIDs and nonce are echoed).
    ///   - signer: the delegated responder.
    ///   - statuses: one per query.
    ///   - now: thisUpdate and producedAt.
    ///   - nextUpdate: when a newer answer will be available.
    /// - Returns: The OCSPResponse, DER.
    /// - Throws: ``PKIError`` if OpenSSL fails.
    public static func respond(to request: Data, signer: Signer, statuses: [Status], now: Date, nextUpdate: Date) throws -> Data {
        let entries = statuses.map { status -> tp_ocsp_status in
            switch status {
            case .good: tp_ocsp_status(status: 0, revoked_at: 0, reason: -1)
            case .revoked(let at, let reason): tp_ocsp_status(status: 1, revoked_at: Int64(at.timeIntervalSince1970), reason: reason.code)
            case .unknown: tp_ocsp_status(status: 2, revoked_at: 0, reason: -1)
            }
        }
        var out: UnsafeMutablePointer<UInt8>?
        var length = 0
        var error = tp_error()
        let ok = request.withUnsafeBytes { bytes in
            entries.withUnsafeBufferPointer {
                tp_ocsp_respond(bytes.bindMemory(to: UInt8.self).baseAddress, bytes.count, signer.certificatePEM, signer.encryptedKeyPEM, signer.password,
                                $0.baseAddress, Int32($0.count), Int64(now.timeIntervalSince1970), Int64(nextUpdate.timeIntervalSince1970),
                                &out, &length, &error)
            }
        }
        defer { tp_free(out) }
        guard ok == 1, let out else { throw PKIError(error) }
        return Data(bytes: out, count: length)
    }

    /// An unsigned error response.
    ///
    /// - Parameter status: which error.
    /// - Returns: The OCSPResponse, DER (empty only if OpenSSL cannot allocate it).
    public static func errorResponse(_ status: ErrorStatus) -> Data {
        var out: UnsafeMutablePointer<UInt8>?
        var length = 0
        var error = tp_error()
        defer { tp_free(out) }
        guard tp_ocsp_error_response(status.rawValue, &out, &length, &error) == 1, let out else { return Data() }
        return Data(bytes: out, count: length)
    }
}
