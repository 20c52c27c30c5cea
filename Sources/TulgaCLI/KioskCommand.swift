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
import TulgaDocument

struct Kiosk: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kiosk",
        abstract: "A service-centre kiosk: guide the person at the camera, take the selfie, run the liveness prompts, and decide against the registry.",
        discussion: """
        With --iin, one attempt through the same attempt runner as the server: the registry photo, the
        attempt counted, a Digital ID created on a pass, a moderation case in the review band, the
        outcome shown in the chosen language. --reference FILE instead is an offline demonstration:
        no records, nothing counted.

        With --document id-card|passport, a pass goes on to the identity-document step: the PIN (set
        here from $TULGA_PIN or standard input when the Digital ID has none), then each side held to
        the camera (or read from --document-source: a folder of frames or a video) with guidance
        (document in the frame, hold still, too dark, glare) until it is taken, the recognised data
        shown for confirmation (--confirm-document, or "y" on standard input), and the comparison
        with the registry and the selfie: done, or sent to a moderator.

        Exit codes: 0 pass (and the document step done, with --document), 1 fail or the data not
        confirmed, 2 sent to a moderator (with --iin), a document refused, or an unusable reference
        photo, 3 usage, refusal (e.g. no attempts left) or internal error, 4 no camera.
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

    @Option(help: "After a pass, the identity-document step with this document: id-card or passport (with --iin).")
    var document: String?

    @Option(help: "The document's frames: a folder of images or a video (default: the --camera).")
    var documentSource: String?

    @Flag(help: "Confirm the recognised document data without asking.")
    var confirmDocument = false

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
        if let document {
            guard DocumentKind(rawValue: document) != nil else { throw ValidationError("--document must be id-card or passport, got '\(document)'") }
            guard iin != nil else { throw ValidationError("--document needs --iin: the step completes a Digital ID") }
            guard documentSource != nil || camera != nil else { throw ValidationError("--document needs --document-source or --camera") }
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
            var selfie: (attemptID: String, embedding: Embedding?, jpeg: Data?) = ("", nil, nil)
            let report = try await runner.run(iin: iin, source: frames, engine: engine, streamTimeIsRelative: false, prompts: prompts,
                                              language: language == .kk ? .kk : .ru, guided: true, issuedAtMs: 0,
                                              onHints: { display.guidance($0) }, onStatus: { status, _ in display.show(status) },
                                              onSelfie: { selfie = ($0, $1, $2) })
            display.finish(report)
            code = switch report.outcome { case .pass: Exit.match; case .fail: Exit.noMatch; case .review: Exit.unusable }
            guard let kind = document.flatMap(DocumentKind.init(rawValue:)), report.outcome == .pass else {
                if store.common.json { try printJSON(report) }
                return
            }
            let outcome = try await documentStep(iin: iin, kind: kind, selfie: selfie, records: records, configuration: configuration,
                                                 engine: engine, language: language, display: display)
            if store.common.json { try printJSON(KioskDocumentResult(attempt: report, document: outcome.result)) }
            code = outcome.code
        }
        throw ExitCode(code)
    }

    /// The identity-document step at the kiosk, after a pass: the PIN, each side taken with guidance, the data
    /// confirmed, then the registry and the selfie decide. Returns what it did and the exit code.
    func documentStep(iin: String, kind: DocumentKind, selfie: (attemptID: String, embedding: Embedding?, jpeg: Data?), records: Records,
                      configuration: Configuration, engine: FaceEngine, language: Language,
                      display: KioskDisplay) async throws -> (result: KioskDocumentResult.Document, code: Int32) {
        let step = DocumentStep(records: records, bands: configuration.policy.bands)
        guard step.required else {
            display.line("the identity-document step is not required (policy.documentStepRequired)")
            return (.init(state: "not_required"), Exit.match)
        }
        // The PIN first (seed 001's order): typed here when the Digital ID has none; this kiosk ran the verification.
        if try await records.digitalIDs.record(iin)?.hasPIN == false {
            let pin = try readSecret(env: "TULGA_PIN", what: "PIN")
            try await records.digitalIDs.setPIN(iin: iin, pin: pin) { $0 == nil }
        }
        try await step.checkOpen(iin: iin)
        let limits = FrameLimits(maxLongSide: 4096, maxShortSide: 3072)
        let source: any FrameSource
        do {
            if let documentSource {
                var isFolder: ObjCBool = false
                source = FileManager.default.fileExists(atPath: documentSource, isDirectory: &isFolder) && isFolder.boolValue
                    ? try ImageFolderSource(folder: documentSource, limits: limits) : try VideoFileSource(videoFile: documentSource, limits: limits)
            } else {
                source = try CaptureSource(camera: camera ?? "", width: 1920, height: 1080, limits: limits)
            }
        } catch { throw fail(error.reason) }
        var photos: [Image] = []
        var capture = DocumentCapture()
        let sides: [MessageKey] = kind == .idCard ? [.documentShowFront, .documentShowBack] : [.documentShowPassport]
        display.line(Message(sides[0]).text(language))
        while photos.count < sides.count, let frame = try source.next() {
            let taken = capture.observe(DocumentFrameMeasure.measure(frame.image))
            display.documentHints(capture.hints)
            guard taken else { continue }
            photos.append(frame.image)
            capture.nextSide()
            display.line(Message(.documentCaptured).text(language))
            if photos.count < sides.count { display.line(Message(sides[photos.count]).text(language)) }
        }
        guard photos.count == sides.count else {
            display.line(Message(.documentInFrame).text(language))
            return (.init(state: "not_captured", refusal: DocumentRefusal(code: "document_not_captured", reason: "the frames ended before every side was taken")),
                    Exit.unusable)
        }
        let reading = DocumentStep.read(photos, kind: kind, engine: engine, ocr: try MRZReader(), clock: records.clock)
        if let refusal = reading.refusal {
            display.line("\(refusal.code): \(refusal.reason)")
            return (.init(state: "refused", data: reading.data, refusal: refusal), Exit.unusable)
        }
        if let data = reading.data { display.recognised(data) }
        display.line(Message(.documentConfirm).text(language))
        guard confirmDocument || ["y", "yes", "д", "да", "и", "иә"].contains(readLine()?.lowercased().trimmingCharacters(in: .whitespaces) ?? "") else {
            return (.init(state: "not_confirmed", data: reading.data), Exit.noMatch)
        }
        let outcome = try await step.confirm(iin: iin, attemptID: selfie.attemptID, reading: reading, selfie: selfie.embedding, selfieJPEG: selfie.jpeg,
                                             front: try photos.first?.jpegData(quality: 92), back: try photos.dropFirst().first?.jpegData(quality: 92))
        display.line(Message(outcome.state == .done ? .documentDone : .documentReview).text(language))
        for check in outcome.comparison where !check.passed { display.line("\(check.name): \(check.detail)") }
        return (.init(state: outcome.state.rawValue, data: reading.data, comparison: outcome.comparison, caseID: outcome.caseID),
                outcome.state == .done ? Exit.match : Exit.unusable)
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

/// `--json` with --document: the attempt and the document step.
struct KioskDocumentResult: Encodable {
    struct Document: Encodable {
        var state: String
        var data: RecognisedDocument?
        var comparison: [DocumentCheck]?
        var caseID: String?
        var refusal: DocumentRefusal?
    }
    var attempt: AttemptReport
    var document: Document
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

    /// One line, always (not redrawn).
    func line(_ text: String) {
        if interactive { print("") }
        write(text)
        lastLine = ""
    }

    /// Guidance while a side of the document is held to the camera.
    func documentHints(_ hints: [DocumentHint]) {
        guard !hints.isEmpty else { return }
        emit(hints.map { Message($0.message).text(language) }.joined(separator: "; "))
    }

    /// The data read from the document, for the person to check.
    func recognised(_ d: RecognisedDocument) {
        if interactive { print("") }
        for line in ["\(d.kind.rawValue) \(d.documentCode) \(d.issuingState) \(d.documentNumber)", "\(d.surname), \(d.givenNames)",
                     "\(d.birthDate) \(d.sex)  \(d.expiryDate)", d.iin ?? ""] where !line.isEmpty { write(line) }
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
