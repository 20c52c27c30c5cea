import Foundation
import Logging
import NIOCore
import NIOSSL
import NIOPosix
import PostgresNIO
import Synchronization

/// PostgreSQL through postgres-nio, for several service nodes sharing one database.
///
/// Transaction bodies are synchronous (the same code runs on SQLite); each one runs on a
/// dispatch thread outside Swift's cooperative pool and waits on postgres-nio's futures, with
/// one pooled connection held from BEGIN to COMMIT. `lock(_:)` takes a transaction-scoped
/// advisory lock.
public final class PostgresDatabase: SQLDatabase {
    private let connections: Mutex<[PostgresConnection]>
    private let available: DispatchSemaphore
    private let all: [PostgresConnection]
    /// Always ``SQLDialect/postgres``.
    public var dialect: SQLDialect { .postgres }

    /// Connects `poolSize` connections, over TLS as the URL's `sslmode` says.
    ///
    /// `sslmode` is one of libpq's: `disable`, `prefer` (TLS if offered, unverified), `require` (TLS,
    /// unverified unless `sslrootcert` is given), `verify-ca` (the chain is checked) or `verify-full`
    /// (the chain and the host name). Without it a loopback host (127.0.0.1, ::1, localhost) is
    /// `prefer` and any other host `verify-full`. `sslrootcert` is a PEM file of the CAs to trust;
    /// without it the system's trust roots are used.
    ///
    /// - Parameters:
    ///   - url: `postgres://user[:password]@host[:port]/database[?sslmode=MODE&sslrootcert=PATH]`;
    ///     the port defaults to 5432.
    ///   - poolSize: how many connections to hold, at least 1.
    /// - Throws: ``DatabaseFailure`` if the URL cannot be read (an unknown parameter or mode, an unreadable
    ///   `sslrootcert`: checked before connecting), or a connection or its TLS handshake fails.
    public init(url: String, poolSize: Int = 4) async throws {
        let target = try PostgresURL(url)
        let configuration = try target.configuration()
        var opened: [PostgresConnection] = []
        let logger = Logger(label: "tulga.postgres")
        do {
            for id in 0..<max(1, poolSize) {
                opened.append(try await PostgresConnection.connect(
                    on: MultiThreadedEventLoopGroup.singleton.next(), configuration: configuration, id: id, logger: logger).get())
            }
        } catch {
            for c in opened { try? await c.close() }
            throw DatabaseFailure("cannot connect to PostgreSQL at \(target.endpoint) (sslmode=\(target.sslMode.rawValue)): \(Self.describe(error, connecting: target))")
        }
        all = opened
        connections = Mutex(opened)
        available = DispatchSemaphore(value: opened.count)
    }

    /// Runs `body` between `BEGIN` and `COMMIT` on one pooled connection; a thrown error sends `ROLLBACK`.
    ///
    /// - Parameter body: the statements, synchronous; its result is returned.
    /// - Returns: What `body` returned.
    /// - Throws: ``DatabaseFailure`` from PostgreSQL, or whatever `body` throws.
    public func transaction<T: Sendable>(_ body: @escaping @Sendable (any SQLSession) throws -> T) async throws -> T {
        try await withSession { session in
            try session.execute("BEGIN")
            do {
                let result = try body(session)
                try session.execute("COMMIT")
                return result
            } catch {
                try? session.execute("ROLLBACK")
                throw error
            }
        }
    }

    /// Runs one statement outside any transaction (CREATE DATABASE and the like).
    ///
    /// - Parameter sql: the statement.
    /// - Throws: ``DatabaseFailure`` if PostgreSQL refuses it.
    public func autocommit(_ sql: String) async throws {
        try await withSession { try $0.execute(sql) }
    }

    /// Holds one pooled connection for `body`, on a dispatch thread where waiting is allowed.
    private func withSession<T: Sendable>(_ body: @escaping @Sendable (PostgresSession) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            DispatchQueue.global().async { [self] in
                available.wait()
                let connection = connections.withLock { $0.removeLast() }
                defer {
                    connections.withLock { $0.append(connection) }
                    available.signal()
                }
                continuation.resume(with: Result { try body(PostgresSession(connection: connection)) })
            }
        }
    }

    /// Closes every pooled connection.
    public func close() async {
        for connection in all { try? await connection.close() }
    }

    static func describe(_ error: any Error) -> String {
        if let psql = error as? PSQLError {
            if let message = psql.serverInfo?[.message] { return message }
            return "\(psql.code)"
        }
        return "\(error)"
    }

    /// Why a connection failed, with what the TLS layer said when it was TLS.
    static func describe(_ error: any Error, connecting target: PostgresURL) -> String {
        guard let psql = error as? PSQLError else { return "\(error)" }
        if let message = psql.serverInfo?[.message] {
            // pg_hba.conf with `hostssl` lines only refuses plain TCP this way.
            return target.sslMode == .disable && message.contains("no encryption")
                ? message + "; the server takes TLS connections only: remove sslmode=disable" : message
        }
        if psql.code == .sslUnsupported { return "the server does not offer TLS" }
        guard let underlying = psql.underlying else { return "\(psql.code)" }
        let said = "\(underlying)"
        if said.contains("CERTIFICATE_VERIFY_FAILED") {
            let roots = target.rootCertPath.map { "the CAs in \($0)" } ?? "the system's trust roots"
            return "certificate verify failed: the server's certificate does not chain to \(roots) (\(said))"
        }
        if let extra = underlying as? NIOSSLExtraError, extra == .failedToValidateHostname {
            return "certificate verify failed: the server's certificate does not name \(target.host) (sslmode=verify-full checks it): \(said)"
        }
        return underlying is NIOSSLError || underlying is NIOSSLExtraError ? "TLS handshake failed: \(said)" : said
    }
}

struct PostgresSession: SQLSession {
    let connection: PostgresConnection

    func execute(_ sql: String, _ arguments: [SQLValue]) throws { _ = try run(sql, arguments) }

    func query(_ sql: String, _ arguments: [SQLValue]) throws -> [SQLRow] {
        try run(sql, arguments).map { row in
            var columns: [String: SQLValue] = [:]
            for cell in row { columns[cell.columnName] = Self.value(cell) }
            return SQLRow(columns)
        }
    }

    func lock(_ key: String) throws {
        _ = try run("SELECT pg_advisory_xact_lock(hashtext(?))", [.text(key)])
    }

    private func run(_ sql: String, _ arguments: [SQLValue]) throws -> [PostgresRow] {
        let binds: [PostgresData] = arguments.map {
            switch $0 {
            case .null: .null
            case .int(let v): PostgresData(int64: v)
            case .double(let v): PostgresData(double: v)
            case .text(let v): PostgresData(string: v)
            case .blob(let v): PostgresData(bytes: [UInt8](v))
            }
        }
        do {
            return try connection.query(Self.numbered(sql), binds).wait().rows
        } catch {
            throw DatabaseFailure(PostgresDatabase.describe(error), sql: sql)
        }
    }

    /// `?` placeholders become `$1, $2, …` (outside quoted literals).
    static func numbered(_ sql: String) -> String {
        var out = ""
        var n = 0
        var quoted = false
        for ch in sql {
            if ch == "'" { quoted.toggle() }
            if ch == "?" && !quoted {
                n += 1
                out += "$\(n)"
            } else {
                out.append(ch)
            }
        }
        return out
    }

    static func value(_ cell: PostgresCell) -> SQLValue {
        guard cell.bytes != nil else { return .null }
        switch cell.dataType {
        case .int2, .int4, .int8, .oid: return (try? cell.decode(Int64.self)).map { .int($0) } ?? .null
        case .float4, .float8, .numeric: return (try? cell.decode(Double.self)).map { .double($0) } ?? .null
        case .bool: return (try? cell.decode(Bool.self)).map { .int($0 ? 1 : 0) } ?? .null
        case .bytea:
            guard var buffer = cell.bytes else { return .null }
            return .blob(Data(buffer.readBytes(length: buffer.readableBytes) ?? []))
        default: return (try? cell.decode(String.self)).map { .text($0) } ?? .null
        }
    }
}
