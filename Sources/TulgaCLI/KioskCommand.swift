import ArgumentParser
import Foundation
import TulgaConfig
import TulgaFace
import TulgaLiveness
import TulgaCore
import TulgaFlow
import TulgaRegistry
import TulgaAttempts
import TulgaModeration
import TulgaDigitalID
import TulgaIssuance
import TulgaPolicy
import TulgaStorage
import TulgaFaceModel
import TulgaLivenessRunner
import TulgaAPIKeys

struct Kiosk: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kiosk",
        abstract: "A service-centre kiosk: guide the person at the camera, take the selfie, run the liveness prompts, and decide against the registry.",
        discussion: """
        With --iin, one attempt through the same attempt runner as the server: the registry photo, the
        attempt counted, a Digital ID created on a pass, a moderation case in the review band, the
        outcome shown in the chosen language. --reference FILE instead is an offline demonstration:
        no records, nothing counted.

        Exit codes: 0 pass, 1 fail, 2 sent to a moderator (with --iin) or unusable reference photo,
        3 usage, refusal (e.g. no attempts left) or internal error, 4 no camera.
        """)

    @Option(help: "The applicant's IIN: the attempt is counted and decided against the registry photo.")
    var iin: String?

    @Option(help: "Offline demonstration: compare with this photo instead of the registry; nothing is recorded.")
    var reference: String?

    @Option(help: "V4L2 camera device.")
    var camera: String?

    @Option(help: "A recorded video (or a folder of images) instead of a camera.")
    var source: String?

    @Option(help: "Language of prompts, hints and the outcome: ru, kk or en.")
    var lang = "ru"

    @Option(help: "Comma-separated prompts instead of a random draw (turn_left, turn_right, look_up, look_down, move_closer, blink).")
    var prompts: String?

    @OptionGroup var store: StoreOptions

    static let noCameraExit: Int32 = 4

    func validate() throws {
        guard (camera == nil) != (source == nil) else { throw ValidationError("give exactly one of --camera or --source") }
        guard (iin == nil) != (reference == nil) else { throw ValidationError("give exactly one of --iin (the service) or --reference (a demonstration)") }
        if let iin { _ = try validIIN(iin) }
        guard Language(rawValue: lang) != nil else { throw ValidationError("--lang must be ru, kk or en, got '\(lang)'") }
        if let prompts {
            for name in prompts.split(separator: ",") where Prompt(rawValue: String(name)) == nil {
                throw ValidationError("unknown prompt '\(name)'; use \(Prompt.allCases.map(\.rawValue).joined(separator: ", "))")
            }
        }
    }

    func openSource(_ limits: FrameLimits) throws(FaceError) -> any FrameSource {
        if let camera { return try CaptureSource(camera: camera, limits: limits) }
        return try openFrameSource(source ?? "")
    }

    func run() async throws {
        let language = Language(rawValue: lang) ?? .ru
        var configuration = try store.common.loadConfiguration()
        let fixed = prompts?.split(separator: ",").compactMap { Prompt(rawValue: String($0)) }
        if let fixed { configuration.liveness.fixedPrompts = fixed }
        let engine: FaceEngine
        do { engine = try FaceEngine(config: configuration.face) } catch { throw fail(error.reason) }
        let limits = FrameLimits(maxLongSide: configuration.server.frameMaxLongSide, maxShortSide: configuration.server.frameMaxShortSide)
        let frames: any FrameSource
        do {
            frames = try openSource(limits)
        } catch where error.code == .noCamera {
            FileHandle.standardError.write(Data("tulga: \(error.reason)\n".utf8))
            throw ExitCode(Self.noCameraExit)
        } catch {
            throw fail(error.reason)
        }
        let display = KioskDisplay(language: language, interactive: isatty(STDOUT_FILENO) == 1 && !store.common.json, toStandardError: store.common.json)
        if let iin {
            try await attempt(iin: iin, frames: frames, engine: engine, prompts: fixed, language: language, display: display)
        } else {
            try await demonstrate(frames: frames, engine: engine, configuration: configuration, display: display)
        }
    }

    /// The service: one counted attempt through the attempt runner, as `POST /v1/verifications` does.
    func attempt(iin: String, frames: any FrameSource, engine: FaceEngine, prompts: [Prompt]?, language: Language, display: KioskDisplay) async throws {
        var code = Exit.usageOrInternal
        try await withStore(store) { records, configuration in
            let runner = AttemptRunner(records: records, bands: configuration.policy.bands, liveness: configuration.liveness)
            // Guided: the selfie is the frame at which guidance is satisfied; a camera's and a file's
            // frames are both on their own clock (guidance's ready time is on it too).
            let report = try await runner.run(iin: iin, source: frames, engine: engine, streamTimeIsRelative: false, prompts: prompts,
                                              language: language == .kk ? .kk : .ru, guided: true, issuedAtMs: 0,
                                              onHints: { display.guidance($0) }, onStatus: { status, _ in display.show(status) })
            display.finish(report)
            if store.common.json { try printJSON(report) }
            code = switch report.outcome { case .pass: Exit.match; case .fail: Exit.noMatch; case .review: Exit.unusable }
        }
        throw ExitCode(code)
    }

    /// The offline demonstration: liveness and a comparison with a photo file; nothing recorded.
    func demonstrate(frames: any FrameSource, engine: FaceEngine, configuration: Configuration, display: KioskDisplay) async throws {
        let referenceEmbedding: Embedding
        do {
            let photo = try Image(contentsOf: reference ?? "", limits: configuration.face.decode)
            switch selectFace(try engine.analyze(photo), thresholds: configuration.face.quality, allowSeveral: false) {
            case .success(let face): referenceEmbedding = try engine.embed(face.face, in: photo)
            case .failure(let list):
                FileHandle.standardError.write(Data("tulga: reference photo: \(list.issues.map(\.explanation).joined(separator: "; "))\n".utf8))
                throw ExitCode(Exit.unusable)
            }
        } catch let error as FaceError {
            FileHandle.standardError.write(Data("tulga: \(error.reason)\n".utf8))
            throw ExitCode(Exit.unusable)
        }
        let (session, _, selfiePhoto, _) = try await AttemptRunner.runLiveness(
            config: configuration.liveness, source: frames, engine: engine, guided: true, issuedAtMs: 0,
            streamTimeIsRelative: false, replay: InMemoryReplayGuard(), onHints: { display.guidance($0) }, onStatus: { status, _ in display.show(status) })
        let report = session.report
        var comparison: Comparison?
        if report.passed, let selfie = selfiePhoto ?? session.selfie {
            comparison = Comparison(score: selfie.cosine(referenceEmbedding), threshold: configuration.face.matchThreshold)
        }
        let passed = report.passed && report.selfieMismatch == nil && comparison?.decision == .match
        display.finish(report: report, comparison: comparison, passed: passed)
        if store.common.json { try printJSON(KioskResult(passed: passed, liveness: report, score: comparison?.score, threshold: comparison?.threshold)) }
        throw ExitCode(passed ? Exit.match : Exit.noMatch)
    }
}

struct KioskResult: Encodable {
    var passed: Bool
    var liveness: LivenessReport
    var score: Double?
    var threshold: Double?
}

/// Terminal output: one redrawn line on a terminal, one line per change otherwise.
final class KioskDisplay {
    let language: Language
    let interactive: Bool
    let toStandardError: Bool
    private var lastLine = ""

    init(language: Language, interactive: Bool, toStandardError: Bool) {
        self.language = language
        self.interactive = interactive
        self.toStandardError = toStandardError
    }

    private func write(_ line: String) {
        if toStandardError {
            FileHandle.standardError.write(Data((line + "\n").utf8))
        } else {
            print(line)
        }
    }

    func guidance(_ hints: [Hint]) {
        emit(Message(.kioskGuidance).text(language) + (hints.isEmpty ? "" : " | " + hints.map { $0.text(language) }.joined(separator: "; ")))
    }

    func show(_ status: LivenessStatus) {
        let prompt: String = switch status.phase {
        case .passed: Message(.kioskPassed).text(language)
        case .failed: Message(.kioskFailed).text(language)
        default: status.prompt.map { $0.text(language) } ?? Message(.kioskGuidance).text(language)
        }
        let step = status.prompt == nil ? "" : " (\(status.completed + 1)/\(status.total))"
        let hints = status.hints.isEmpty ? "" : " | " + status.hints.map { $0.text(language) }.joined(separator: "; ")
        emit("\(Self.bar(status.progress)) \(prompt)\(step)\(hints)")
    }

    /// The outcome of a counted attempt: what happened and what the person can do next.
    func finish(_ report: AttemptReport) {
        if interactive { print("") }
        let next: Message = switch report.outcome {
        case .pass: Message(.kioskOutcomePass)
        case .review: Message(.kioskOutcomeReview)
        case .fail: report.attemptsLeft > 0 ? Message(.kioskOutcomeRetry, ["left": "\(report.attemptsLeft)"]) : Message(.kioskOutcomeInPerson)
        }
        var lines = [next.text(language)]
        lines += report.reasons
        if let score = report.score { lines.append("score \(format(score)) (accept ≥ \(format(report.acceptThreshold)), review ≥ \(format(report.reviewThreshold)))") }
        for line in lines { write(line) }
    }

    func finish(report: LivenessReport, comparison: Comparison?, passed: Bool) {
        if interactive { print("") }
        var lines = [passed ? Message(.kioskPassed).text(language) : Message(.kioskFailed).text(language)]
        lines += report.reasons
        if let comparison {
            lines.append(Message(comparison.decision == .match ? .kioskMatch : .kioskNoMatch).text(language)
                         + " (score \(format(comparison.score)), threshold \(format(comparison.threshold)))")
        }
        for line in lines { write(line) }
    }

    static func bar(_ progress: Double, width: Int = 20) -> String {
        let filled = Int((progress * Double(width)).rounded())
        return "[" + String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled) + "] "
            + String(format: "%3d%%", Int((progress * 100).rounded()))
    }

    private func emit(_ line: String) {
        guard line != lastLine else { return }
        lastLine = line
        if interactive {
            FileHandle.standardOutput.write(Data(("\r\u{1B}[2K" + line).utf8))
        } else {
            write(line)
        }
    }
}
