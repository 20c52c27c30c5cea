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
        abstract: "Guide a person at a kiosk camera, run the liveness prompts, and compare with the reference photo.",
        discussion: """
        Exit codes: 0 passed, 1 liveness failed or the face does not match, 2 unusable reference photo,
        3 usage or internal error, 4 no camera.
        """)

    @Option(help: "V4L2 camera device.")
    var camera: String?

    @Option(help: "A recorded video (or a folder of images) instead of a camera.")
    var source: String?

    @Option(help: "The reference photo from the registry.")
    var reference: String

    @Option(help: "Language of prompts and hints: ru, kk or en.")
    var lang = "ru"

    @Option(help: "Comma-separated prompts instead of a random draw (turn_left, turn_right, look_up, look_down, move_closer, blink).")
    var prompts: String?

    @OptionGroup var common: CommonOptions

    static let noCameraExit: Int32 = 4

    func validate() throws {
        guard (camera == nil) != (source == nil) else { throw ValidationError("give exactly one of --camera or --source") }
        guard Language(rawValue: lang) != nil else { throw ValidationError("--lang must be ru, kk or en, got '\(lang)'") }
        if let prompts {
            for name in prompts.split(separator: ",") where Prompt(rawValue: String(name)) == nil {
                throw ValidationError("unknown prompt '\(name)'; use \(Prompt.allCases.map(\.rawValue).joined(separator: ", "))")
            }
        }
    }

    func openSource() throws(FaceError) -> any FrameSource {
        if let camera { return try CaptureSource(camera: camera) }
        return try openFrameSource(source ?? "")
    }

    func run() async throws {
        let language = Language(rawValue: lang) ?? .ru
        var configuration = try common.loadConfiguration()
        if let prompts { configuration.liveness.fixedPrompts = prompts.split(separator: ",").compactMap { Prompt(rawValue: String($0)) } }
        let engine: FaceEngine
        do { engine = try FaceEngine(config: configuration.face) } catch { throw fail(error.reason) }

        let frames: any FrameSource
        do {
            frames = try openSource()
        } catch where error.code == .noCamera {
            FileHandle.standardError.write(Data("tulga: \(error.reason)\n".utf8))
            throw ExitCode(Self.noCameraExit)
        } catch {
            throw fail(error.reason)
        }

        let referenceEmbedding: Embedding
        do {
            let photo = try Image(contentsOf: reference, limits: configuration.face.decode)
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

        let display = KioskDisplay(language: language, interactive: isatty(STDOUT_FILENO) == 1 && !common.json, toStandardError: common.json)
        // Guidance, then the prompts: the attempt runner's liveness stage (no records at a bare kiosk).
        let (session, _) = try await AttemptRunner.runLiveness(
            config: configuration.liveness, source: frames, engine: engine, reference: referenceEmbedding, guided: true, issuedAtMs: 0,
            streamTimeIsRelative: false, replay: InMemoryReplayGuard(), onHints: { display.guidance($0) }, onStatus: { status, _ in display.show(status) })
        let report = session.report

        var comparison: Comparison?
        if report.passed, let selfie = session.selfie {
            comparison = Comparison(score: selfie.cosine(referenceEmbedding), threshold: configuration.face.matchThreshold)
        }
        let passed = report.passed && comparison?.decision == .match
        display.finish(report: report, comparison: comparison, passed: passed)
        if common.json { try printJSON(KioskResult(passed: passed, liveness: report, score: comparison?.score, threshold: comparison?.threshold)) }
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
