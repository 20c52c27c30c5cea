import Foundation
import NIOSSL
import PostgresNIO

/// A `postgres://` URL read as libpq reads one, for the settings tulga takes: where to connect,
/// and how (`sslmode`, `sslrootcert`).
///
/// ```swift
/// let url = try PostgresURL("postgres://tulga@db.internal:5432/tulga?sslrootcert=/etc/tulga/db-ca.pem")
/// url.sslMode   // .verifyFull: not a loopback host
/// ```
struct PostgresURL {
    /// libpq's `sslmode` values.
    enum SSLMode: String, CaseIterable {
        /// Plain TCP only.
        case disable
        /// TLS if the server offers it, unverified; plain TCP otherwise.
        case prefer
        /// TLS or nothing, unverified (verified as `verify-ca` when `sslrootcert` is given, as libpq does).
        case require
        /// TLS with the server's chain verified, not its name.
        case verifyCA = "verify-ca"
        /// TLS with the server's chain and name verified (NIOSSL's check: the host among the certificate's DNS
        /// names, or the address connected to among its IP addresses).
        case verifyFull = "verify-full"
    }

    /// The parameters tulga reads; any other is refused.
    static let parameters = ["sslmode", "sslrootcert"]

    let host: String
    let port: Int
    let username: String
    let password: String?
    let database: String?
    /// As given, or by default `prefer` on a loopback host and `verify-full` elsewhere.
    let sslMode: SSLMode
    /// `sslrootcert`, read: the CAs to trust, or `nil` for the system's trust roots.
    let trustRoots: [NIOSSLCertificate]?
    /// `sslrootcert` as given, for messages.
    let rootCertPath: String?

    /// Reads `url`; nothing is connected, but `sslrootcert` is read now.
    ///
    /// - Parameter url: `postgres://user[:password]@host[:port]/database[?sslmode=…&sslrootcert=…]`.
    /// - Throws: ``DatabaseFailure`` naming the parameter that is unknown, repeated or wrong, or the
    ///   `sslrootcert` file that cannot be read. The password is never quoted.
    init(_ url: String) throws {
        guard let components = URLComponents(string: url), var host = components.host, !host.isEmpty else {
            throw DatabaseFailure("cannot read the PostgreSQL URL (expected postgres://user@host:port/database)")
        }
        // An IPv6 literal comes back in its brackets.
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        var given: [String: String] = [:]
        for item in components.queryItems ?? [] {
            guard Self.parameters.contains(item.name) else {
                throw DatabaseFailure("the PostgreSQL URL has an unknown parameter '\(item.name)' (tulga reads \(Self.parameters.joined(separator: " and ")))")
            }
            guard given[item.name] == nil else { throw DatabaseFailure("the PostgreSQL URL gives \(item.name) twice") }
            guard let value = item.value, !value.isEmpty else { throw DatabaseFailure("the PostgreSQL URL gives \(item.name) no value") }
            given[item.name] = value
        }
        if let mode = given["sslmode"] {
            guard let known = SSLMode(rawValue: mode) else {
                throw DatabaseFailure("the PostgreSQL URL's sslmode '\(mode)' is unknown (use \(SSLMode.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            sslMode = known
        } else {
            sslMode = ["127.0.0.1", "::1", "localhost"].contains(host.lowercased()) ? .prefer : .verifyFull
        }
        rootCertPath = given["sslrootcert"]
        trustRoots = try rootCertPath.map(Self.certificates(at:))
        let path = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        self.host = host
        port = components.port ?? 5432
        username = components.user ?? "postgres"
        password = components.password
        database = path.isEmpty ? nil : path
    }

    /// `host:port/database`, for messages.
    var endpoint: String { "\(host):\(port)/\(database ?? "")" }

    /// The connection settings, with a TLS context made for ``sslMode``.
    ///
    /// - Throws: ``DatabaseFailure`` if the TLS context cannot be made (the system's trust roots missing, say).
    func configuration() throws -> PostgresConnection.Configuration {
        PostgresConnection.Configuration(host: host, port: port, username: username, password: password, database: database, tls: try tls())
    }

    private func tls() throws -> PostgresConnection.Configuration.TLS {
        var tls = TLSConfiguration.makeClientConfiguration()
        switch sslMode {
        case .disable: return .disable
        case .prefer: tls.certificateVerification = .none
        // libpq: with a root certificate given, `require` verifies the chain.
        case .require: tls.certificateVerification = trustRoots == nil ? .none : .noHostnameVerification
        case .verifyCA: tls.certificateVerification = .noHostnameVerification
        case .verifyFull: tls.certificateVerification = .fullVerification
        }
        if let trustRoots { tls.trustRoots = .certificates(trustRoots) }
        let context: NIOSSLContext
        do { context = try NIOSSLContext(configuration: tls) } catch {
            throw DatabaseFailure("cannot set up TLS for PostgreSQL (sslmode=\(sslMode.rawValue)): \(error)")
        }
        return sslMode == .prefer ? .prefer(context) : .require(context)
    }

    /// The PEM certificates in `path`.
    private static func certificates(at path: String) throws -> [NIOSSLCertificate] {
        guard let data = FileManager.default.contents(atPath: path) else {
            let reason = FileManager.default.fileExists(atPath: path) ? "cannot be read" : "does not exist"
            throw DatabaseFailure("the PostgreSQL URL's sslrootcert \(path) \(reason)")
        }
        guard let certificates = try? NIOSSLCertificate.fromPEMBytes([UInt8](data)), !certificates.isEmpty else {
            throw DatabaseFailure("the PostgreSQL URL's sslrootcert \(path) holds no PEM certificate")
        }
        return certificates
    }
}
