import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A real SMTP server (aiosmtpd, `scripts/smtp-test-server`) on a free loopback port, writing
/// each message it accepts to ``folder``. Every wait is bounded; ``stop()`` uses SIGKILL (a
/// child of a test process may inherit a blocked SIGTERM).
///
/// ```swift
/// let server = try await SMTPTestServer.start(tls: true, auth: ("tulga", "s3cret"))
/// defer { server.stop() }
/// // … deliver to 127.0.0.1:server.port, trusting server.certificate …
/// let received = try server.received()
/// ```
public final class SMTPTestServer: @unchecked Sendable {
    /// The port it listens on, at 127.0.0.1.
    public let port: Int
    /// Where accepted messages are written, one `.eml` each.
    public let folder: String
    /// The server's self-signed certificate (PEM), when it offers STARTTLS.
    public let certificate: String?
    let process: Process
    let exited = DispatchSemaphore(value: 0)

    /// Starts a server; the first start in a checkout may install aiosmtpd (bounded at 300 s).
    ///
    /// - Parameters:
    ///   - tls: offer STARTTLS with a throwaway certificate for 127.0.0.1 (and require it).
    ///   - auth: require AUTH with this login, only after STARTTLS.
    ///   - refuse: `"550"` or `"451"` to refuse every message.
    public init(tls: Bool = false, auth: (user: String, password: String)? = nil, refuse: String? = nil) throws {
        let dir = Temp.dir("tulga-smtp")
        folder = dir + "/in"
        certificate = tls ? dir + "/cert.pem" : nil
        var arguments = ["--folder", folder, "--port", "0"]
        if tls { arguments += ["--tls-cert", dir + "/cert.pem", "--tls-key", dir + "/key.pem"] }
        if let auth { arguments += ["--auth", "\(auth.user):\(auth.password)"] }
        if let refuse { arguments += ["--refuse", refuse] }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: RepositoryPaths.root + "/scripts/smtp-test-server")
        p.arguments = arguments
        let out = Pipe()
        p.standardOutput = out
        _ = FileManager.default.createFile(atPath: dir + "/server.log", contents: nil)
        p.standardError = FileHandle(forWritingAtPath: dir + "/server.log")
        p.standardInput = FileHandle.nullDevice
        let exited = exited
        p.terminationHandler = { _ in exited.signal() }
        try p.run()
        process = p
        // No "ready" within the bound: killed, which ends the read below with EOF.
        let watchdog = DispatchWorkItem { kill(p.processIdentifier, SIGKILL) }
        DispatchQueue.global().asyncAfter(deadline: .now() + 300, execute: watchdog)
        let line = Self.firstLine(out.fileHandleForReading.fileDescriptor)
        watchdog.cancel()
        guard line.hasPrefix("ready "), let port = Int(line.dropFirst(6)) else {
            kill(p.processIdentifier, SIGKILL)
            _ = exited.wait(timeout: .now() + 10)
            let log = (try? String(contentsOfFile: dir + "/server.log", encoding: .utf8)) ?? ""
            throw SMTPTestServerError(reason: "scripts/smtp-test-server did not start: \(line) \(log.suffix(2000))")
        }
        self.port = port
    }

    /// ``init(tls:auth:refuse:)`` on a thread of its own: its blocking wait for "ready" must not hold one of
    /// Swift's few cooperative threads, which the NIO client's reads (on demand) wait for.
    public static func start(tls: Bool = false, auth: (user: String, password: String)? = nil, refuse: String? = nil) async throws -> SMTPTestServer {
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Result { try SMTPTestServer(tls: tls, auth: auth, refuse: refuse) }) }.start()
        }
    }

    /// Reads up to a newline or EOF, at most 200 bytes.
    static func firstLine(_ fd: Int32) -> String {
        var bytes: [UInt8] = [], byte: UInt8 = 0
        while bytes.count < 200, read(fd, &byte, 1) == 1, byte != 0x0A { bytes.append(byte) }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Kills the server (SIGKILL) and waits for it at most 10 s.
    public func stop() {
        kill(process.processIdentifier, SIGKILL)
        _ = exited.wait(timeout: .now() + 10)
    }

    deinit { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }

    /// The messages accepted so far, oldest first.
    public func received() throws -> [ReceivedMail] {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter { $0.hasSuffix(".eml") && !$0.hasPrefix(".") }.sorted()
        return try names.map { ReceivedMail(try String(contentsOfFile: folder + "/" + $0, encoding: .utf8)) }
    }
}

/// A message as the test server wrote it: its `X-Test-*` envelope headers, then the message.
public struct ReceivedMail: Sendable {
    /// The whole file.
    public let raw: String
    let headers: [(String, String)]
    let rawBody: String

    init(_ raw: String) {
        self.raw = raw
        let text = raw.replacingOccurrences(of: "\r\n", with: "\n")
        let parts = text.components(separatedBy: "\n\n")
        var headers: [(String, String)] = []
        for line in (parts.first ?? "").components(separatedBy: "\n") {
            if line.hasPrefix(" ") || line.hasPrefix("\t"), let last = headers.popLast() {
                headers.append((last.0, last.1 + "\n" + line.dropFirst()))
            } else if let colon = line.firstIndex(of: ":") {
                headers.append((String(line[..<colon]).lowercased(), String(line[line.index(after: colon)...]).trimmingCharacters(in: .whitespaces)))
            }
        }
        self.headers = headers
        rawBody = parts.dropFirst().joined(separator: "\n\n")
    }

    /// The first header of that name (case-insensitive), unfolded as it was written.
    public func header(_ name: String) -> String? { headers.first { $0.0 == name.lowercased() }?.1 }

    /// The subject, RFC 2047 words decoded.
    public var subject: String {
        (header("subject") ?? "").components(separatedBy: "\n").map { word -> String in
            guard word.hasPrefix("=?UTF-8?B?"), word.hasSuffix("?="), let data = Data(base64Encoded: String(word.dropFirst(10).dropLast(2))) else { return word }
            return String(decoding: data, as: UTF8.self)
        }.joined()
    }

    /// The body, base64 decoded when so encoded.
    public var body: String {
        guard header("content-transfer-encoding")?.lowercased() == "base64" else { return rawBody }
        let data = Data(base64Encoded: rawBody.components(separatedBy: .whitespacesAndNewlines).joined()) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }
}

/// The test server could not be started.
public struct SMTPTestServerError: Error, CustomStringConvertible {
    public let reason: String
    public var description: String { reason }
}
