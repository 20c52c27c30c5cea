import Foundation
import Testing
import TulgaTestSupport

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

    /// A loopback HTTP server (Python's http.server) that writes each request line to `log` and
    /// answers 418 with `body`, once. It prints READY once listening.
    static func hostileServer(port: Int, body: String, log: String) throws -> (Process, Pipe) {
        try python("""
            import http.server, sys
            port, body, log = int(sys.argv[1]), sys.argv[2].encode(), sys.argv[3]
            class H(http.server.BaseHTTPRequestHandler):
                def do_GET(self):
                    open(log, "a").write(self.requestline + "\\n")
                    self.send_response(418); self.send_header("Content-Length", str(len(body))); self.end_headers()
                    self.wfile.write(body)
                def log_message(self, *a): pass
            s = http.server.HTTPServer(("127.0.0.1", port), H)
            print("READY", flush=True)
            s.handle_request()
            """, [String(port), body, log])
    }

    /// `python3 -c script args…`, its standard output on the pipe.
    static func python(_ script: String, _ arguments: [String]) throws -> (Process, Pipe) {
        let server = Process()
        server.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        server.arguments = ["python3", "-c", script] + arguments
        let out = Pipe()
        server.standardOutput = out
        try server.run()
        return (server, out)
    }

    @Test("an application number is one escaped path segment; the refusal's body reaches the terminal without control characters")
    func hostileAnswers() throws {
        let folder = NSTemporaryDirectory() + "tulga-hostile-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let escape = "\u{1B}]0;pwned\u{07}\u{1B}[2J\u{202E}"
        // The problem's detail carries its escapes as JSON escapes; the plain body carries them raw.
        let bodies = ["{\"code\":\"teapot\",\"detail\":\"no\\u001b]0;pwned\\u0007\\u001b[2J\\u202esuch\\napplication\"}", "plain \(escape) text\r\nX-Injected: 1"]
        for (index, body) in bodies.enumerated() {
            let port = Int.random(in: 20000...40000), log = folder + "/requests-\(index)"
            let (server, out) = try Self.hostileServer(port: port, body: body, log: log)
            // SIGKILL: a child may inherit a mask that blocks SIGTERM.
            defer { kill(server.processIdentifier, SIGKILL); server.waitUntilExit() }
            #expect(waitFor("READY", in: out.fileHandleForReading))
            // localhost over plain http is dialled as 127.0.0.1 (where the server listens).
            let r = try CLI.run(["keys", "renew", "../../v1/x?y=1#z", "--folder", folder + "/keys", "--server", "http://localhost:\(port)"],
                                environment: ["TULGA_API_KEY": String(repeating: "k", count: 40)])
            #expect(r.status != 0)
            #expect(r.stderr.contains("answered 418"), "\(r.stderr)")
            #expect(!r.stderr.unicodeScalars.contains { $0 == "\u{1B}" || $0 == "\u{07}" || $0 == "\u{202E}" || $0 == "\r" }, "\(r.stderr.debugDescription)")
            #expect(r.stderr.split(separator: "\n").filter { $0.contains("X-Injected") || $0.contains("application") }.count <= 1)
            if index == 0 { #expect(r.stderr.contains("teapot: no") && r.stderr.contains("such"), "\(r.stderr)") }
            let line = try String(contentsOfFile: log, encoding: .utf8)
            #expect(line.hasPrefix("GET /v1/applications/..%2F..%2Fv1%2Fx%3Fy%3D1%23z HTTP/1.1"), "\(line)")
        }
    }

    /// A loopback HTTP server that answers one POST with 200 and `body` (JSON). It prints READY once listening.
    static func answeringServer(port: Int, body: String) throws -> (Process, Pipe) {
        try python("""
            import http.server, sys
            port, body = int(sys.argv[1]), sys.argv[2].encode()
            class H(http.server.BaseHTTPRequestHandler):
                def do_POST(self):
                    self.rfile.read(int(self.headers.get("Content-Length") or 0))
                    self.send_response(200); self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body))); self.end_headers()
                    self.wfile.write(body)
                def log_message(self, *a): pass
            s = http.server.HTTPServer(("127.0.0.1", port), H)
            print("READY", flush=True)
            s.handle_request()
            """, [String(port), body])
    }

    @Test("keys install --server: a chain with an ENCRYPTED PEM block is refused by name, and nothing asks for a pass phrase (no terminal, a line waiting on standard input)")
    func encryptedChain() throws {
        let folder = NSTemporaryDirectory() + "tulga-encrypted-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        func certificate(_ name: String, _ extensions: [String]) throws -> String {
            let made = try openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1", "-subj", "/CN=\(name)",
                                    "-keyout", folder + "/\(name).key", "-out", folder + "/\(name).pem"] + extensions.flatMap { ["-addext", $0] })
            #expect(made.status == 0, "\(made.out)")
            return try String(contentsOfFile: folder + "/\(name).pem", encoding: .utf8)
        }
        let auth = try certificate("auth", ["keyUsage=critical,digitalSignature", "extendedKeyUsage=clientAuth"])
        let sign = try certificate("sign", ["keyUsage=critical,digitalSignature,nonRepudiation"])
        // RFC 1421 headers: OpenSSL's default callback would ask for this block's pass phrase.
        let encrypted = auth.replacingOccurrences(of: "-----BEGIN CERTIFICATE-----\n",
                                                  with: "-----BEGIN CERTIFICATE-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00112233445566778899AABBCCDDEEFF\n\n")
        let body = String(decoding: try JSONSerialization.data(withJSONObject: ["number": "00000000000001", "auth": auth, "sign": sign, "chain": encrypted,
                                                                                "status": "installed"]), as: UTF8.self)
        let port = Int.random(in: 20000...40000)
        let (server, out) = try Self.answeringServer(port: port, body: body)
        defer { kill(server.processIdentifier, SIGKILL); server.waitUntilExit() }
        #expect(waitFor("READY", in: out.fileHandleForReading))
        // setsid: no controlling terminal, so a prompt would go to standard error and read standard input.
        let install = Process()
        install.executableURL = URL(fileURLWithPath: "/usr/bin/setsid")
        install.arguments = ["-w", CLI.binary, "keys", "install", "00000000000001", "--folder", folder + "/keys", "--server", "http://127.0.0.1:\(port)"]
        install.environment = ProcessInfo.processInfo.environment.merging(["TULGA_API_KEY": String(repeating: "k", count: 40), "TULGA_KEY_PASSWORD": "Str0ng#Pass"]) { $1 }
        let input = Pipe(), err = Pipe()
        (install.standardInput, install.standardError, install.standardOutput) = (input, err, FileHandle.nullDevice)
        try install.run()
        input.fileHandleForWriting.write(Data("guess\n".utf8))
        try input.fileHandleForWriting.close()
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        install.waitUntilExit()
        #expect(install.terminationStatus != 0)
        #expect(stderr.contains("the chain holds a block that is not a plain PEM certificate"), "\(stderr)")
        #expect(!stderr.lowercased().contains("pass phrase"), "\(stderr)")
        #expect(!(try FileManager.default.contentsOfDirectory(atPath: folder + "/keys").contains { $0.hasSuffix(".p12") }))
    }
}
