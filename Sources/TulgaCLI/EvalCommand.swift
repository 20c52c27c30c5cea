import ArgumentParser
import Foundation
import TulgaConfig
import TulgaFace
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
import TulgaLiveness
import TulgaEvaluation

struct Eval: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Accuracy and attack report: face comparison (EER, FMR and FNMR at the thresholds), the continuity threshold, liveness APCER and BPCER.",
        discussion: """
        Face comparison: the face_recognition sdist (Fixtures/photos), ../shared/fixtures/manifest.json faces, and every \
        --video-step-th frame of its videos; video frames are paired with the photos only (neighbouring frames are near copies). \
        32bit.png is left out: it is obama2.jpg with an alpha channel. Identity continuity: the video's sampled frames against its \
        first frontal frame, and other people's photos against it. Liveness: the fixture video (turn right, whole and each half), \
        flat photos moved in 2D (turn left, turn right, look up, look down) and re-encoded copies of the passed recording. \
        --report writes report.md (README's Accuracy section; scripts/accuracy puts it there) and report.json into --out.
        """)

    @Option(help: "The sdist photos.") var photos = "Fixtures/photos"
    @Option(help: "The shared fixtures.") var shared = "../shared/fixtures"
    @Option(help: "Take every n-th video frame.") var videoStep = 10
    @Option(help: "Where to write the ROC/DET plot.") var plot = "var/eval.png"
    @Flag(help: "Write report.md and report.json into --out.") var report = false
    @Option(help: "The folder --report writes into.") var out = "var/eval"
    @OptionGroup var common: CommonOptions

    func validate() throws { guard videoStep > 0 else { throw ValidationError("--video-step must be positive") } }

    func run() async throws {
        let configuration = try common.loadConfiguration()
        let engine: FaceEngine
        do { engine = try FaceEngine(config: configuration.face) } catch { throw fail(error.reason) }
        let evaluator = Evaluator(engine: engine, inputs: EvaluationInputs(photos: photos, shared: shared, videoStep: videoStep),
                                  accept: configuration.policy.acceptThreshold, review: configuration.policy.reviewThreshold,
                                  liveness: configuration.liveness)
        let result: AccuracyReport
        do {
            result = try await evaluator.run { FileHandle.standardError.write(Data("\r\($0)\u{1B}[K".utf8)) }
        } catch { throw fail(error.reason) }
        FileHandle.standardError.write(Data("\n".utf8))
        let face = result.face
        let path = try drawPlot(ScoreEvaluation(genuine: face.pairs.filter(\.genuine).map(\.score),
                                                impostor: face.pairs.filter { !$0.genuine }.map(\.score)),
                                marks: face.thresholds.map { ($0.name, $0.threshold) })
        if report {
            do {
                try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                try encoder.encode(result).write(to: URL(fileURLWithPath: out + "/report.json"))
                try Data(result.markdown.utf8).write(to: URL(fileURLWithPath: out + "/report.md"))
            } catch { throw fail("cannot write the report into \(out): \(error.localizedDescription)") }
        }
        if common.json { try printJSON(result); return }
        print(result.markdown)
        print("plot \(path)" + (report ? "; report \(out)/report.md and \(out)/report.json" : ""))
    }

    /// ROC (FMR vs verification rate) and DET (FMR vs FNMR, log axes) side by side.
    func drawPlot(_ e: ScoreEvaluation, marks: [(String, Double)]) throws -> String {
        let size = 400, margin = 50.0
        do {
            var canvas = try Image(bgr: [UInt8](repeating: 255, count: size * 2 * size * 3), width: size * 2, height: size)
            let span = Double(size) - 2 * margin
            func roc(_ fmr: Double, _ tar: Double) -> Point { Point(x: margin + fmr * span, y: Double(size) - margin - tar * span) }
            func det(_ fmr: Double, _ fnmr: Double) -> Point {
                func axis(_ v: Double) -> Double { (log10(max(v, 1e-3)) + 3) / 3 }   // 0.001 ... 1
                return Point(x: Double(size) + margin + axis(fmr) * span, y: Double(size) - margin - axis(fnmr) * span)
            }
            let curve = e.curve
            var marksDrawn: [Annotation] = [
                .polyline([roc(0, 0), roc(1, 0), roc(1, 1), roc(0, 1), roc(0, 0)], thickness: 1, color: (0, 0, 0)),
                .polyline([det(1e-3, 1e-3), det(1, 1e-3), det(1, 1), det(1e-3, 1), det(1e-3, 1e-3)], thickness: 1, color: (0, 0, 0)),
                .polyline(curve.map { roc($0.fmr, 1 - $0.fnmr) }, thickness: 2, color: (200, 30, 30)),
                .polyline(curve.map { det($0.fmr, $0.fnmr) }, thickness: 2, color: (30, 30, 200)),
                .text("ROC: FMR (x) vs 1-FNMR (y)", at: Point(x: margin, y: 30), size: 0.5, color: (0, 0, 0)),
                .text("DET: FMR (x) vs FNMR (y), log 0.001-1", at: Point(x: Double(size) + margin, y: 30), size: 0.5, color: (0, 0, 0)),
            ]
            for (i, (name, t)) in marks.enumerated() {
                let p = det(e.fmr(at: t), e.fnmr(at: t))
                marksDrawn.append(.rect(Rect(x: p.x - 3, y: p.y - 3, width: 6, height: 6), color: (0, 140, 0)))
                marksDrawn.append(.text("\(name) \(format(t))", at: Point(x: Double(size) + margin + 5, y: Double(size) - margin - 10 - Double(i) * 16),
                                        size: 0.4, color: (0, 110, 0)))
            }
            canvas = try canvas.annotated(marksDrawn)
            try FileManager.default.createDirectory(atPath: (plot as NSString).deletingLastPathComponent.isEmpty ? "." : (plot as NSString).deletingLastPathComponent,
                                                    withIntermediateDirectories: true)
            try canvas.pngData().write(to: URL(fileURLWithPath: plot))
            return plot
        } catch let error as FaceError {
            throw fail("cannot draw the plot: \(error.reason)")
        }
    }
}
