import Foundation
import Testing
import TulgaTestSupport

/// Decompression bombs against `tulga serve`: files under 1 MB whose frames decode to tens of
/// megapixels. Each is refused with 413 or 422 from its headers, and the server's peak resident
/// memory (VmHWM, the kernel's own high-water mark) grows by less than 150 MB over all of them.
@Suite("decompression bombs", .serialized)
struct BombTests {
    /// Builds the bombs with the ffmpeg command (Debian's ffmpeg; the encoder's memory is its own).
    static func bombs(in dir: String) throws -> [(name: String, path: String)] {
        let specs: [(String, [String])] = [
            ("png-48mp.png", ["-f", "lavfi", "-i", "color=black:s=8000x6000", "-frames:v", "1", "-pix_fmt", "monob"]),
            ("apng-49mp.apng", ["-f", "lavfi", "-i", "color=gray:s=7000x7000:r=5", "-frames:v", "6", "-pix_fmt", "gray", "-f", "apng"]),
            ("h264-67mp.mp4", ["-f", "lavfi", "-i", "color=gray:s=8192x8192:r=5", "-frames:v", "10", "-c:v", "libx264", "-preset", "ultrafast",
                               "-pix_fmt", "yuv420p"]),
            // Within every pixel limit, but 3,000 frames in 100 seconds: over the count and duration caps.
            ("long-3000-frames.mp4", ["-f", "lavfi", "-i", "color=gray:s=64x64:r=30", "-frames:v", "3000", "-c:v", "libx264", "-preset", "ultrafast",
                                      "-pix_fmt", "yuv420p"]),
        ]
        return try specs.map { name, args in
            let path = dir + "/" + name
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/ffmpeg")
            p.arguments = ["-v", "error", "-y"] + args + [path]
            try p.run()
            p.waitUntilExit()
            #expect(p.terminationStatus == 0, "ffmpeg could not make \(name)")
            let size = (try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
            #expect(size > 0 && size < 1 << 20, "\(name) is \(size) bytes")
            return (name, path)
        }
    }

    /// The kernel's peak resident set of `pid`, in bytes.
    static func peakRSS(_ pid: Int32) throws -> Int {
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        let line = try #require(status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") })
        return (Int(line.split(separator: " ", omittingEmptySubsequences: true)[1]) ?? 0) * 1024
    }

    /// Starts a verification session; returns its id.
    static func startSession(_ port: Int, key: String, path: String, json: String) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        p.arguments = ["-s", "-H", "X-API-Key: \(key)", "-X", "POST", "http://127.0.0.1:\(port)" + path, "-d", json]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let body = try JSONSerialization.jsonObject(with: out.fileHandleForReading.readDataToEndOfFile()) as? [String: Any]
        p.waitUntilExit()
        return try #require(body?["sessionId"] as? String)
    }

    static func post(_ port: Int, key: String, path: String, file: String) throws -> (code: Int, body: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        p.arguments = ["-s", "-w", "\n%{http_code}", "-H", "X-API-Key: \(key)", "--data-binary", "@" + file, "http://127.0.0.1:\(port)" + path]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        return (Int(lines.last ?? "") ?? 0, lines.dropLast().joined(separator: "\n"))
    }

    @Test("huge PNG, APNG and MP4 (under 1 MB each) and an over-long clip: 413/422, peak memory grows < 150 MB, the session lives on")
    func bombs() throws {
        let w = try Workspace()
        let (server, _, key, port) = try w.kioskServer()
        defer { server.terminate(); server.waitUntilExit() }
        func start(_ iin: String) throws -> String {
            try Self.startSession(port, key: key, path: "/v1/verifications", json: #"{"iin":"\#(iin)"}"#)
        }
        let files = try Self.bombs(in: w.dir)
        // A session, and one genuine frame through the whole pipeline, so the models are resident before the baseline.
        let sid = try start(Workspace.lin)
        #expect(try Self.post(port, key: key, path: "/v1/verifications/\(sid)/frames", file: w.dir + "/photos/lin.png").code == 200)
        let baseline = try Self.peakRSS(server.processIdentifier)

        // To a session that does not exist: 404 before a byte is decoded.
        #expect(try Self.post(port, key: key, path: "/v1/verifications/ver-none/frames", file: files[0].path).code == 404)
        for (name, path) in files {
            for route in ["frames", "clip"] {
                let r = try Self.post(port, key: key, path: "/v1/verifications/\(sid)/\(route)", file: path)
                #expect(r.code == 413 || r.code == 422, "\(name) as \(route): \(r.code) \(r.body)")
                #expect(r.body.contains("\"code\""), "\(name) as \(route): a problem document, got \(r.body)")
            }
        }
        // The 64-megapixel H.264 clip and the long one are refused for what they are, not as unreadable.
        #expect(try Self.post(port, key: key, path: "/v1/verifications/\(sid)/clip", file: files[2].path).body.contains("clip_too_large"))
        #expect(try Self.post(port, key: key, path: "/v1/verifications/\(sid)/clip", file: files[3].path).body.contains("clip_too_large"))
        #expect(try Self.post(port, key: key, path: "/v1/verifications/\(sid)/frames", file: files[0].path).body.contains("too_large"))

        let growth = try Self.peakRSS(server.processIdentifier) - baseline
        print("bombs: the server's peak RSS was \(baseline >> 20) MB after one genuine frame and grew by \(growth >> 20) MB over \(files.count) bombs x 2 routes")
        #expect(growth < 150 << 20, "peak RSS grew by \(growth >> 20) MB")
        // The session is still there and usable.
        #expect(try Self.post(port, key: key, path: "/v1/verifications/\(sid)/frames", file: w.dir + "/photos/lin.png").code == 200)
        // A 712-pixel-wide clip: swscale once wrote past unpadded rows at such widths and corrupted the heap.
        // Its session is made before the clip (a clip may not be longer than the session has existed;
        // `clip_timing` if the clip is ready sooner) and not earlier: on a loaded machine the bombs above
        // can outlast server.sessionIdleSeconds.
        let oddSession = try start(Workspace.obama)
        let odd = w.dir + "/odd-712x514.mp4"
        let ffmpeg = Process()
        ffmpeg.executableURL = URL(fileURLWithPath: "/usr/bin/ffmpeg")
        ffmpeg.arguments = ["-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=712x514:rate=30", "-t", "1", "-pix_fmt", "yuv420p", odd]
        try ffmpeg.run()
        ffmpeg.waitUntilExit()
        let oddClip = try Self.post(port, key: key, path: "/v1/verifications/\(oddSession)/clip", file: odd)
        #expect(oddClip.code == 200 || oddClip.body.contains("clip_timing"), "\(oddClip.code) \(oddClip.body)")
        #expect(server.isRunning)
        #expect(try Self.post(port, key: key, path: "/v1/verifications/\(sid)/frames", file: w.dir + "/photos/lin.png").code == 200)
    }
}
