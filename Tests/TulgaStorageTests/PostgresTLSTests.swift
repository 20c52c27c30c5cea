import Foundation
import NIOSSL
import PostgresNIO
import Testing
@testable import TulgaStorage
import TulgaTestSupport

@Suite("PostgreSQL over TLS: libpq's sslmode and sslrootcert in the URL")
struct PostgresTLSTests {
    /// The test server's URL with `sslmode` and `sslrootcert` replaced (`nil` drops one).
    static func url(sslmode: String?, sslrootcert: String?, host: String? = nil) throws -> String {
        var components = try #require(URLComponents(string: try Backend.requirePostgresURL()))
        if let host { components.host = host }
        components.queryItems = [("sslmode", sslmode), ("sslrootcert", sslrootcert)].compactMap { name, value in
            value.map { URLQueryItem(name: name, value: $0) }
        }
        return try #require(components.string)
    }

    /// The test server's CA, as `scripts/postgres` printed it.
    static func testCA() throws -> String {
        let items = URLComponents(string: try Backend.requirePostgresURL())?.queryItems ?? []
        return try #require(items.first { $0.name == "sslrootcert" }?.value, "scripts/postgres prints the URL with sslrootcert")
    }

    /// Why connecting to `url` failed; `nil` if it did not.
    static func refusal(_ url: String) async -> String? {
        do {
            let database = try await PostgresDatabase(url: url, poolSize: 1)
            await database.close()
            return nil
        } catch {
            return "\(error)"
        }
    }

    @Test("verify-full against the test CA connects over TLS and runs a query, by IP and by name; fresh test databases keep the settings")
    func verified() async throws {
        let url = try Backend.requirePostgresURL()
        #expect(url.contains("sslmode=verify-full") && url.contains("sslrootcert="))
        for host in ["127.0.0.1", "localhost"] {
            let database = try await PostgresDatabase(url: try Self.url(sslmode: "verify-full", sslrootcert: try Self.testCA(), host: host), poolSize: 1)
            let row = try await database.transaction { try $0.one("SELECT 1 AS one, ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()") }
            #expect(row?["one"].int == 1 && row?["ssl"].int == 1, "\(host)")
            await database.close()
        }
        let fresh = try await Backend.postgres.freshLocation()
        #expect(fresh.contains("?sslmode=verify-full&sslrootcert="), "\(fresh)")
    }

    @Test("a CA that did not sign the server's certificate: verify-full and verify-ca refuse, saying the certificate failed verification",
          arguments: ["verify-full", "verify-ca"])
    func wrongCA(mode: String) async throws {
        let dir = Temp.dir("tulga-pg-ca")
        let made = try openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", dir + "/other.key",
                                "-out", dir + "/other.crt", "-days", "2", "-subj", "/CN=an unrelated CA"])
        #expect(made.status == 0, "\(made.out)")
        let refusal = try #require(await Self.refusal(try Self.url(sslmode: mode, sslrootcert: dir + "/other.crt")))
        #expect(refusal.contains("certificate verify failed: the server's certificate does not chain to the CAs in \(dir)/other.crt"), "\(refusal)")
    }

    @Test("sslmode=disable: the server takes TLS only (hostssl), and the refusal says so")
    func plainRefused() async throws {
        let refusal = try #require(await Self.refusal(try Self.url(sslmode: "disable", sslrootcert: nil)))
        #expect(refusal.contains("no pg_hba.conf entry") && refusal.contains("TLS connections only"), "\(refusal)")
    }

    @Test("require encrypts without a CA to check against; prefer takes TLS when offered")
    func unverified() async throws {
        for mode in ["require", "prefer"] {
            let database = try await PostgresDatabase(url: try Self.url(sslmode: mode, sslrootcert: nil), poolSize: 1)
            let row = try await database.transaction { try $0.one("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()") }
            #expect(row?["ssl"].int == 1, "\(mode)")
            await database.close()
        }
    }

    // Read before connecting: these need no server (port 1 would refuse a connection with other words).

    @Test("sslmode, sslrootcert and other parameters are refused by name before connecting; the password is never quoted",
          arguments: [
              ("?sslmode=allow", "sslmode 'allow' is unknown"),
              ("?sslmode=", "gives sslmode no value"),
              ("?sslmode=require&sslmode=disable", "gives sslmode twice"),
              ("?sslcert=/etc/client.crt", "unknown parameter 'sslcert'"),
              ("?password=s3cr3t-pw", "unknown parameter 'password'"),
              ("?sslmode=verify-full&sslrootcert=/nonexistent/tulga-ca.pem", "sslrootcert /nonexistent/tulga-ca.pem does not exist"),
          ])
    func refusedBeforeConnecting(query: String, words: String) async throws {
        let refusal = try #require(await Self.refusal("postgres://tulga:s3cr3t-pw@127.0.0.1:1/tulga" + query))
        #expect(refusal.contains(words) && !refusal.contains("cannot connect") && !refusal.contains("s3cr3t-pw"), "\(refusal)")
    }

    @Test("an sslrootcert that holds no certificate is named")
    func notPEM() async throws {
        let file = Temp.dir("tulga-pg-ca") + "/ca.pem"
        try Data("not a certificate\n".utf8).write(to: URL(fileURLWithPath: file))
        let refusal = try #require(await Self.refusal("postgres://tulga@db.example:5432/tulga?sslrootcert=" + file))
        #expect(refusal.contains("sslrootcert \(file) holds no PEM certificate"), "\(refusal)")
    }

    @Test("each sslmode: whether TLS is tried or required, and what is verified (require with sslrootcert checks the chain, as libpq)")
    func modes() throws {
        let dir = Temp.dir("tulga-pg-ca")
        #expect(try openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", dir + "/ca.key",
                             "-out", dir + "/ca.crt", "-days", "2", "-subj", "/CN=a CA"]).status == 0)
        let cases: [(String, allowed: Bool, enforced: Bool, CertificateVerification?)] = [
            ("disable", false, false, nil),
            ("prefer", true, false, CertificateVerification.none),
            ("require", true, true, CertificateVerification.none),
            ("require&sslrootcert=\(dir)/ca.crt", true, true, .noHostnameVerification),
            ("verify-ca", true, true, .noHostnameVerification),
            ("verify-full&sslrootcert=\(dir)/ca.crt", true, true, .fullVerification),
        ]
        for (mode, allowed, enforced, verification) in cases {
            let tls = try PostgresURL("postgres://u@db.internal/db?sslmode=" + mode).configuration().tls
            #expect(tls.isAllowed == allowed && tls.isEnforced == enforced && tls.sslContext?.configuration.certificateVerification == verification,
                    "\(mode)")
        }
    }

    @Test("without sslmode: prefer on a loopback host, verify-full on any other", arguments: [
        ("postgres://u@127.0.0.1/db", PostgresURL.SSLMode.prefer),
        ("postgres://u@localhost:5433/db", .prefer),
        ("postgres://u@[::1]:5433/db", .prefer),
        ("postgres://u@db.internal/db", .verifyFull),
        ("postgres://u@10.0.0.5/db", .verifyFull),
        ("postgres://u@127.0.0.1/db?sslmode=verify-ca", .verifyCA),
        ("postgresql://u@db.internal/db?sslmode=disable", .disable),
    ])
    func defaults(url: String, mode: PostgresURL.SSLMode) throws {
        let read = try PostgresURL(url)
        #expect(read.sslMode == mode && read.trustRoots == nil)
        #expect(!read.host.hasPrefix("["))
    }
}
