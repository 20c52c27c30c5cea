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

struct Eval: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Accuracy on every labelled photo here: genuine and impostor scores, ROC and DET, EER, FMR and FNMR at the thresholds.",
        discussion: """
        Photos: the face_recognition sdist (Fixtures/photos), ../shared/fixtures/manifest.json faces, and every --video-step-th frame \
        of its videos. Video frames are paired with the photos only, not with each other (neighbouring frames are near copies). \
        32bit.png is left out: it is obama2.jpg with an alpha channel.
        """)

    @Option(help: "The sdist photos.") var photos = "Fixtures/photos"
    @Option(help: "The shared fixtures.") var shared = "../shared/fixtures"
    @Option(help: "Take every n-th video frame.") var videoStep = 10
    @Option(help: "Where to write the ROC/DET plot.") var plot = "var/eval.png"
    @OptionGroup var common: CommonOptions

    struct Item { let name: String; let identity: String; let image: Image; let video: Bool }
    struct Pair: Encodable { let a: String; let b: String; let genuine: Bool; let score: Double }
    struct Report: Encodable {
        struct AtThreshold: Encodable { let name: String; let threshold: Double; let fmr: Double; let fnmr: Double }
        let images: Int
        let identities: Int
        let notEnrolled: [String]
        let genuinePairs: Int
        let impostorPairs: Int
        let genuineMin: Double
        let impostorMax: Double
        let eer: Double
        let eerThreshold: Double
        let thresholds: [AtThreshold]
        let pairs: [Pair]
        let plot: String
    }

    func validate() throws { guard videoStep > 0 else { throw ValidationError("--video-step must be positive") } }

    func run() async throws {
        let configuration = try common.loadConfiguration()
        let engine: FaceEngine
        do { engine = try FaceEngine(config: configuration.face) } catch { throw fail(error.reason) }
        let items = try collect(configuration.face.decode)
        var embedded: [(Item, Embedding)] = []
        var notEnrolled: [String] = []
        for (i, item) in items.enumerated() {
            FileHandle.standardError.write(Data("\r[\(i + 1)/\(items.count)] \(item.name)\u{1B}[K".utf8))
            do {
                let analysis = try engine.analyze(item.image)
                guard let face = analysis.faces.max(by: { $0.face.box.area < $1.face.box.area }) else { notEnrolled.append(item.name); continue }
                embedded.append((item, try engine.embed(face.face, in: item.image)))
            } catch { notEnrolled.append(item.name) }
        }
        FileHandle.standardError.write(Data("\n".utf8))
        var pairs: [Pair] = []
        for i in embedded.indices {
            for j in embedded.indices where j > i && !(embedded[i].0.video && embedded[j].0.video) {
                let (a, ea) = embedded[i], (b, eb) = embedded[j]
                pairs.append(Pair(a: a.name, b: b.name, genuine: a.identity == b.identity, score: ea.cosine(eb)))
            }
        }
        let evaluation = ScoreEvaluation(genuine: pairs.filter(\.genuine).map(\.score), impostor: pairs.filter { !$0.genuine }.map(\.score))
        let eer = evaluation.eer
        let policy = configuration.policy
        let points = [("accept", policy.acceptThreshold), ("review", policy.reviewThreshold), ("SFace LFW", 0.363), ("EER", eer.threshold)]
        let path = try drawPlot(evaluation, marks: points)
        let report = Report(
            images: items.count, identities: Set(items.map(\.identity)).count, notEnrolled: notEnrolled,
            genuinePairs: evaluation.genuine.count, impostorPairs: evaluation.impostor.count,
            genuineMin: evaluation.genuine.first ?? 0, impostorMax: evaluation.impostor.last ?? 0, eer: eer.rate, eerThreshold: eer.threshold,
            thresholds: points.map { Report.AtThreshold(name: $0.0, threshold: $0.1, fmr: evaluation.fmr(at: $0.1), fnmr: evaluation.fnmr(at: $0.1)) },
            pairs: pairs, plot: path)
        if common.json { try printJSON(report); return }
        print("images \(report.images) (\(report.identities) identities), not enrolled: \(notEnrolled.isEmpty ? "none" : notEnrolled.joined(separator: ", "))")
        print("genuine pairs \(report.genuinePairs), lowest score \(format(report.genuineMin))")
        print("impostor pairs \(report.impostorPairs), highest score \(format(report.impostorMax))")
        print("EER \(format(eer.rate * 100, 2))% at \(format(eer.threshold))")
        print("")
        print("threshold            value    FMR       FNMR")
        for t in report.thresholds {
            print(t.name.padding(toLength: 20, withPad: " ", startingAt: 0) + " " + format(t.threshold) + "    "
                  + format(t.fmr * 100, 2) + "%    " + format(t.fnmr * 100, 2) + "%")
        }
        print("")
        print("plot \(path)")
    }

    func collect(_ limits: DecodeLimits) throws -> [Item] {
        var items: [Item] = []
        let sdist: [(String, String)] = [("obama.jpg", "obama"), ("obama2.jpg", "obama"), ("obama3.jpg", "obama"),
                                         ("obama_partial_face.jpg", "obama"), ("obama_partial_face2.jpg", "obama"), ("biden.jpg", "biden")]
        for (name, identity) in sdist {
            do { items.append(Item(name: name, identity: identity, image: try Image(contentsOf: photos + "/" + name, limits: limits), video: false)) } catch {
                throw fail("\(error.reason) (run scripts/setup)")
            }
        }
        struct Manifest: Decodable {
            struct Entry: Decodable { let file: String; let identity: String }
            let faces: [Entry]
            let videos: [Entry]
        }
        guard let data = FileManager.default.contents(atPath: shared + "/manifest.json"),
              let manifest = try? JSONDecoder().decode(Manifest.self, from: data) else { throw fail("cannot read \(shared)/manifest.json") }
        for face in manifest.faces {
            do { items.append(Item(name: (face.file as NSString).lastPathComponent, identity: face.identity,
                                   image: try Image(contentsOf: shared + "/" + face.file, limits: limits), video: false)) } catch { throw fail(error.reason) }
        }
        for video in manifest.videos {
            do {
                let source = try VideoFileSource(videoFile: shared + "/" + video.file)
                while let frame = try source.next() {
                    guard frame.index % videoStep == 0 else { continue }
                    items.append(Item(name: "\((video.file as NSString).lastPathComponent)#\(frame.index)", identity: video.identity, image: frame.image, video: true))
                }
            } catch { throw fail(error.reason) }
        }
        return items
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
