import Foundation
import Testing

/// `keys --server` speaks HTTP/1.1 over SwiftNIO (ServiceClient.swift): https with the certificate
/// verified, plain http only to this machine. The plain path is exercised against a real
/// `tulga serve` in IssuanceCLITests; here, TLS against `openssl s_server` on loopback.
@Suite("the key store's HTTP client", .serialized)
struct ServiceClientTests {
    @Test("https to a server whose certificate no trusted root signed fails in the handshake, before any request")
    func untrustedCertificate() throws {
        let folder = NSTemporaryDirectory() + "tulga-tls-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let made = Process()
        made.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        made.arguments = ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1",
                          "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                          "-keyout", folder + "/key.pem", "-out", folder + "/cert.pem"]
        made.standardError = FileHandle.nullDevice
        try made.run()
        made.waitUntilExit()
        #expect(made.terminationStatus == 0)
        let port = Int.random(in: 20000...40000)
        let server = Process()
        server.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        server.arguments = ["s_server", "-accept", "127.0.0.1:\(port)", "-cert", folder + "/cert.pem", "-key", folder + "/key.pem",
                            "-www", "-naccept", "1"]
        let out = Pipe()
        server.standardOutput = out
        server.standardError = out
        try server.run()
        defer { server.terminate(); server.waitUntilExit() }
        #expect(waitFor("ACCEPT", in: out.fileHandleForReading))
        let r = try CLI.run(["keys", "renew", "00000000000000", "--folder", folder + "/keys", "--server", "https://127.0.0.1:\(port)"],
                            environment: ["TULGA_API_KEY": String(repeating: "k", count: 40), "TULGA_KEY_PASSWORD": "Str0ng#Pass"])
        #expect(r.status != 0)
        #expect(r.stderr.contains("TLS") && r.stderr.contains("CERTIFICATE_VERIFY_FAILED"), "\(r.stderr)")
        #expect(!r.stderr.contains(String(repeating: "k", count: 40)))
    }

    @Test("plain http to another machine is refused before connecting")
    func plainHTTPElsewhere() throws {
        for server in ["http://example.org", "http://10.example.org:8080", "ftp://127.0.0.1"] {
            let r = try CLI.run(["keys", "renew", "00000000000000", "--folder", NSTemporaryDirectory() + "none", "--server", server],
                                environment: ["TULGA_API_KEY": String(repeating: "k", count: 40)])
            #expect(r.status != 0 && r.stderr.contains("must be https"), "\(server): \(r.stderr)")
        }
    }
}
