import Foundation
import Testing
import TulgaMail
import TulgaTestSupport
import TulgaConfig
import TulgaCore
import TulgaFlow
import TulgaRegistry
import TulgaModeration
import TulgaAttempts
import TulgaDigitalID
import TulgaFace
import TulgaPolicy
import TulgaEvaluation
import TulgaIssuance

enum CLI {
    static let root = RepositoryPaths.root
    static let photos = root + "/Fixtures/photos/"

    /// The `tulga` binary next to the test bundle.
    static var binary: String {
        let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for candidate in [bundle.appendingPathComponent("tulga").path, root + "/.build/debug/tulga"]
        where FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        return root + "/.build/debug/tulga"
    }

    struct Result { let status: Int32; let stdout: String; let stderr: String }

    /// Runs `tulga` in `directory` (the repository unless given; a workspace's own folder, so its
    /// `var/` defaults — checkpoints, review PNGs, temporary files — stay its own).
    static func run(_ arguments: [String], environment: [String: String] = [:], directory: String = root) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        var env = ProcessInfo.processInfo.environment
        env.merge(environment) { $1 }
        process.environment = env
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
    }
}

@Suite("tulga verify and detect", .serialized)
struct VerifyCommandTests {
    @Test("match exits 0 and prints score, threshold and decision")
    func match() throws {
        let r = try CLI.run(["verify", "--reference", CLI.photos + "obama.jpg", "--probe", CLI.photos + "obama2.jpg"])
        #expect(r.status == 0)
        #expect(r.stdout.contains("decision   match"))
        #expect(r.stdout.contains("threshold  0.3630"))
    }

    @Test("no match exits 1; --json is machine readable")
    func noMatch() throws {
        let r = try CLI.run(["verify", "--reference", CLI.photos + "obama.jpg", "--probe", CLI.photos + "biden.jpg", "--json"])
        #expect(r.status == 1)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        #expect(json["decision"] as? String == "no_match")
        let score = try #require(json["score"] as? Double)
        #expect(score < 0.363)
    }

    @Test("unusable input exits 2 with a reason")
    func unusable() throws {
        let junk = FileManager.default.temporaryDirectory.appendingPathComponent("junk-\(UUID()).jpg")
        try Data("not a picture".utf8).write(to: junk)
        defer { try? FileManager.default.removeItem(at: junk) }
        let r = try CLI.run(["verify", "--reference", CLI.photos + "obama.jpg", "--probe", junk.path])
        #expect(r.status == 2)
        #expect(r.stdout.contains("not a JPEG or PNG"))
    }

    @Test("usage errors and a bad config exit 3")
    func usage() throws {
        #expect(try CLI.run(["verify", "--reference", "x.jpg"]).status == 3)
        #expect(try CLI.run(["verify", "--reference", "a", "--probe", "b", "--threshold", "7"]).status == 3)
        let bad = FileManager.default.temporaryDirectory.appendingPathComponent("bad-\(UUID()).json")
        try Data("{ not json".utf8).write(to: bad)
        defer { try? FileManager.default.removeItem(at: bad) }
        let r = try CLI.run(["verify", "--reference", CLI.photos + "obama.jpg", "--probe", CLI.photos + "obama2.jpg", "--config", bad.path])
        #expect(r.status == 3)
        #expect(r.stderr.contains("not valid JSON"))
        let noModels = try CLI.run(["verify", "--reference", CLI.photos + "obama.jpg", "--probe", CLI.photos + "obama2.jpg", "--models", "/nonexistent"])
        #expect(noModels.status == 3)
        #expect(noModels.stderr.contains("model not found"))
    }

    @Test("detect lists faces with landmarks and quality")
    func detect() throws {
        let r = try CLI.run(["detect", CLI.photos + "obama.jpg", "--json"])
        #expect(r.status == 0)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let faces = try #require(json["faces"] as? [[String: Any]])
        #expect(faces.count == 1)
        let face = try #require(faces.first?["face"] as? [String: Any])
        #expect((face["landmarks"] as? [Any])?.count == 5)
        #expect(faces.first?["quality"] != nil)
    }

    @Test("help documents the exit codes")
    func help() throws {
        let r = try CLI.run(["verify", "--help"])
        #expect(r.status == 0)
        #expect(r.stdout.contains("2 unusable input"))
    }
}

@Suite("tulga eval --report", .serialized)
struct EvalCommandTests {
    @Test("writes report.md, the README's Accuracy section within rounding, and report.json; shows progress")
    func report() throws {
        let out = NSTemporaryDirectory() + "tulga-eval-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: out) }
        let run = try CLI.run(["eval", "--report", "--out", out, "--plot", out + "/eval.png"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr.contains("liveness: the fixture video, as recorded, turn_right: accepted"))
        let markdown = try String(contentsOfFile: out + "/report.md", encoding: .utf8)
        let readme = try String(contentsOfFile: CLI.root + "/README.md", encoding: .utf8)
        let begin = try #require(readme.range(of: "<!-- accuracy:begin")), end = try #require(readme.range(of: "<!-- accuracy:end -->"))
        let committed = readme[begin.upperBound..<end.lowerBound].drop { $0 != "\n" }.dropFirst()
        #expect(FigureComparison.difference(String(committed), markdown) == nil)
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/report.json"))) as? [String: Any]
        #expect(json?["schema"] as? Int == AccuracyReport.currentSchema)
        #expect(run.stdout.contains("| presentations | metric | trials | errors | rate |"))
    }

    @Test("a missing fixtures folder and a zero step are refused with the reason")
    func badInputs() throws {
        let missing = try CLI.run(["eval", "--shared", "/nonexistent/fixtures"])
        #expect(missing.status != 0)
        #expect(missing.stderr.contains("cannot read /nonexistent/fixtures/manifest.json"), "\(missing.stderr)")
        let zero = try CLI.run(["eval", "--video-step", "0"])
        #expect(zero.status != 0 && zero.stderr.contains("--video-step must be positive"))
    }
}

@Suite("Configuration")
struct ConfigurationTests {
    @Test func overridesApplyOverDefaults() throws {
        let config = try Configuration.decode(Data(#"{"face": {"matchThreshold": 0.5, "detection": {"longSide": 640}}}"#.utf8))
        #expect(config.face.matchThreshold == 0.5)
        #expect(config.face.detection.longSide == 640)
        #expect(config.face.detection.nmsThreshold == 0.3)
    }

    @Test func malformedJSON() {
        #expect(throws: ConfigurationError.self) { try Configuration.decode(Data("{".utf8)) }
        #expect(throws: ConfigurationError.self) { try Configuration.decode(Data("[1]".utf8)) }
    }

    @Test func wrongTypeAndUnknownKey() {
        do {
            _ = try Configuration.decode(Data(#"{"face": {"matchThreshold": "high"}}"#.utf8))
            Issue.record("expected an error")
        } catch { #expect("\(error)".contains("face.matchThreshold")) }
        do {
            _ = try Configuration.decode(Data(#"{"face": {"treshold": 1}}"#.utf8))
            Issue.record("expected an error")
        } catch { #expect("\(error)".contains("unknown setting face.treshold")) }
    }

    @Test("an attempt's lease must outlive its session")
    func leaseCoversSession() throws {
        #expect(throws: ConfigurationError.self) { try Configuration.decode(Data(#"{"policy": {"attemptLeaseMinutes": 2}}"#.utf8)) }
        #expect(try Configuration.decode(Data(#"{"policy": {"attemptLeaseMinutes": 4}}"#.utf8)).recordSettings.attempts.leaseSeconds == 240)
    }

    @Test("the mail section: refused when enabled without a sender, or with credentials but no STARTTLS")
    func mailSection() throws {
        #expect(try Configuration.decode(Data(#"{"mail": {"host": ""}}"#.utf8)).mail.enabled == false)
        do {
            _ = try Configuration.decode(Data(#"{"mail": {"enabled": true, "host": "smtp.example.kz"}}"#.utf8))
            Issue.record("expected an error")
        } catch { #expect("\(error)".contains("mail.from must be an e-mail address")) }
        do {
            _ = try Configuration.decode(Data(#"{"mail": {"enabled": true, "from": "noreply@example.kz", "username": "u", "passwordFile": "p", "starttls": false}}"#.utf8))
            Issue.record("expected an error")
        } catch { #expect("\(error)".contains("credentials are never sent without TLS")) }
        #expect(try Configuration.decode(Data(#"{"mail": {"enabled": true, "from": "noreply@example.kz", "port": 25, "starttls": false}}"#.utf8)).mail.port == 25)
    }

    @Test("the CA's public URL, when not set, derives from the configuration with $TULGA_HOST/$TULGA_PORT, the same for every command")
    func derivedPublicBaseURL() throws {
        let file = try Configuration.decode(Data(#"{"server": {"host": "10.0.0.5", "port": 9000}}"#.utf8))
        var plain = file
        try plain.applyAddressEnvironment(["TULGA_CONFIG": "x", "TULGA_HOST": "", "TULGA_PORT": ""])
        #expect(plain.caSettings.publicBaseURL == "http://10.0.0.5:9000/pki")
        var moved = file
        try moved.applyAddressEnvironment(["TULGA_HOST": "tulga.internal", "TULGA_PORT": "9443"])
        #expect(moved.caSettings.publicBaseURL == "http://tulga.internal:9443/pki")
        var portOnly = Configuration()
        try portOnly.applyAddressEnvironment(["TULGA_PORT": "18080"])
        #expect(portOnly.caSettings.publicBaseURL == "http://127.0.0.1:18080/pki")
        for bad in ["http", "-1", "65536", "80a"] {
            var refused = Configuration()
            #expect(throws: ConfigurationError.self) { try refused.applyAddressEnvironment(["TULGA_PORT": bad]) }
        }
        // Set explicitly, it is neither derived nor moved.
        var set = try Configuration.decode(Data(#"{"ca": {"publicBaseURL": "https://tulga.example.kz/pki"}}"#.utf8))
        try set.applyAddressEnvironment(["TULGA_PORT": "9443"])
        #expect(set.caSettings.publicBaseURL == "https://tulga.example.kz/pki")
    }

    @Test("tulga serve warns when its --host/--port make another origin than every other command derives, or the host is a wildcard; not when they agree or publicBaseURL is set")
    func publicBaseURLWarning() throws {
        var configured = Configuration()
        try configured.applyAddressEnvironment(["TULGA_PORT": "9000"])
        var serving = configured
        #expect(Configuration.publicBaseURLWarning(configured: configured, serving: serving) == nil)
        serving.server.port = 9100
        let moved = try #require(Configuration.publicBaseURLWarning(configured: configured, serving: serving))
        #expect(moved.contains("http://127.0.0.1:9100") && moved.contains("http://127.0.0.1:9000") && moved.contains("set ca.publicBaseURL"), "\(moved)")
        for wildcard in ["0.0.0.0", "::"] {
            var open = configured
            open.server.host = wildcard
            // Even when every command reads the same wildcard: the derived loopback address reaches this machine only.
            let warning = try #require(Configuration.publicBaseURLWarning(configured: open, serving: open))
            #expect(warning.contains("wildcard address (\(wildcard))") && warning.contains("set ca.publicBaseURL"), "\(warning)")
        }
        var set = serving
        set.ca.publicBaseURL = "https://tulga.example.kz/pki"
        #expect(Configuration.publicBaseURLWarning(configured: configured, serving: set) == nil)
    }
}

@Suite("tulga kiosk with the recorded-video source", .serialized)
struct KioskCommandTests {
    static let video = CLI.root + "/../shared/fixtures/video/lin_manuel_miranda_head_turns.mp4"
    static let reference = CLI.root + "/../shared/fixtures/faces/lin_manuel_miranda_f095.png"

    @Test("shows prompts, a progress bar and the result in English; passes turn right")
    func english() throws {
        let r = try CLI.run(["kiosk", "--source", Self.video, "--reference", Self.reference, "--prompts", "turn_right", "--lang", "en"])
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        #expect(r.stdout.contains("Getting ready: keep your face in the oval"))
        #expect(r.stdout.contains("50% Slowly turn your head to the right (1/1)"))
        #expect(r.stdout.contains("[####################] 100% Check passed"))
        #expect(r.stdout.contains("The face matches the registry photo"))
    }

    @Test("Kazakh texts; turn left fails with a reason and exit 1")
    func kazakh() throws {
        let r = try CLI.run(["kiosk", "--source", Self.video, "--reference", Self.reference, "--prompts", "turn_left", "--lang", "kk"])
        #expect(r.status == 1)
        #expect(r.stdout.contains("Басыңызды баяу солға бұрыңыз (1/1)"))
        #expect(r.stdout.contains("Тексеруден өтпеді"))
    }

    @Test("Russian hints during guidance and a JSON report")
    func russianJSON() throws {
        let r = try CLI.run(["kiosk", "--source", Self.video, "--reference", Self.reference, "--prompts", "turn_right", "--json"])
        #expect(r.status == 0)
        #expect(r.stderr.contains("Медленно поверните голову вправо"))
        let json = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        #expect(json["passed"] as? Bool == true)
        let liveness = try #require(json["liveness"] as? [String: Any])
        #expect((liveness["prompts"] as? [Any])?.count == 1)
        #expect(liveness["yawMax"] != nil && liveness["issuedAtMs"] != nil && liveness["nonce"] == nil)
    }

    @Test("a reference of someone else fails")
    func otherPerson() throws {
        let r = try CLI.run(["kiosk", "--source", Self.video, "--reference", CLI.photos + "obama.jpg", "--prompts", "turn_right", "--lang", "en"])
        #expect(r.status == 1)
        #expect(r.stdout.contains("does not match the registry photo"))
    }

    @Test("no camera gives a clear error and its own exit code")
    func noCamera() throws {
        let r = try CLI.run(["kiosk", "--camera", "/dev/video0", "--reference", Self.reference])
        #expect(r.status == 4)
        #expect(r.stderr.contains("no camera at /dev/video0"))
        #expect(try CLI.run(["kiosk", "--reference", Self.reference]).status == 3)
        #expect(try CLI.run(["kiosk", "--source", Self.video, "--reference", Self.reference, "--prompts", "wink"]).status == 3)
    }
}
