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

struct Detect: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "detect",
        abstract: "List the faces in an image with box, landmarks, score and quality.")

    @Argument(help: "A JPEG or PNG file.")
    var image: String

    @OptionGroup var common: CommonOptions

    func run() async throws {
        let configuration = try common.loadConfiguration()
        let engine: FaceEngine
        let photo: Image
        do {
            engine = try FaceEngine(config: configuration.face)
        } catch { throw fail(error.reason) }
        do {
            photo = try Image(contentsOf: image, limits: configuration.face.decode)
        } catch {
            FileHandle.standardError.write(Data("tulga: \(error.reason)\n".utf8))
            throw ExitCode(Exit.unusable)
        }
        let analysis = try engine.analyze(photo)
        if common.json {
            try printJSON(DetectReport(image: image, analysis: analysis, thresholds: configuration.face.quality))
            return
        }
        print("\(image): \(analysis.width)x\(analysis.height), \(analysis.faces.count) face(s)")
        for (i, item) in analysis.faces.enumerated() {
            let b = item.face.box, q = item.quality, p = q.pose
            print("""
              #\(i + 1) score \(format(item.face.score)) box \(Int(b.x)),\(Int(b.y)) \(Int(b.width))x\(Int(b.height))
                 landmarks \(item.face.landmarks.map { "(\(Int($0.x)),\(Int($0.y)))" }.joined(separator: " "))
                 pose yaw \(format(p.yaw, 1))° pitch \(format(p.pitch, 1))° roll \(format(p.roll, 1))°
                 brightness \(format(q.pixels.brightness, 1)) sharpness \(format(q.pixels.sharpness, 1)) oval distance \(format(q.ovalDistance, 2))
                 issues: \(q.issues(configuration.face.quality).map(\.explanation).joined(separator: ", ").nonEmpty ?? "none")
            """)
        }
    }
}

struct DetectReport: Encodable {
    struct Item: Encodable {
        var face: DetectedFace
        var quality: FaceQuality
        var issues: [QualityIssue]
    }
    var image: String
    var width: Int
    var height: Int
    var faces: [Item]

    init(image: String, analysis: FrameAnalysis, thresholds: QualityThresholds) {
        self.image = image
        width = analysis.width
        height = analysis.height
        faces = analysis.faces.map { Item(face: $0.face, quality: $0.quality, issues: $0.quality.issues(thresholds)) }
    }
}

struct Verify: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Compare the face in a probe photo with the face in a reference photo.",
        discussion: "Exit codes: 0 match, 1 no match, 2 unusable input, 3 usage or internal error.")

    @Option(help: "The reference photo (as in the registry).")
    var reference: String

    @Option(help: "The photo to check.")
    var probe: String

    @Flag(help: "Use the largest face when the reference photo holds several.")
    var largestFace = false

    @Option(help: "Override the configured match threshold (cosine similarity).")
    var threshold: Double?

    @OptionGroup var common: CommonOptions

    func validate() throws {
        if let threshold, !(-1...1).contains(threshold) {
            throw ValidationError("--threshold must lie in -1...1 (cosine similarity), got \(threshold)")
        }
    }

    func run() async throws {
        let configuration = try common.loadConfiguration()
        let engine: FaceEngine
        do { engine = try FaceEngine(config: configuration.face) } catch { throw fail(error.reason) }
        let options = PhotoComparisonOptions(threshold: threshold ?? configuration.face.matchThreshold, largestReferenceFace: largestFace)

        var report = VerifyReport(reference: reference, probe: probe, threshold: options.threshold)
        do {
            let ref = try Image(contentsOf: reference, limits: configuration.face.decode)
            let prb = try Image(contentsOf: probe, limits: configuration.face.decode)
            switch try engine.compare(reference: ref, probe: prb, options: options) {
            case .compared(let comparison, _, _):
                report.score = comparison.score
                report.decision = comparison.decision.rawValue
            case .unusable(let role, let issues):
                report.decision = "unusable"
                report.unusable = role.rawValue
                report.issues = issues.map(\.rawValue)
                report.reason = "\(role.rawValue) photo: " + issues.map(\.explanation).joined(separator: "; ")
            }
        } catch {
            guard error.code != .modelUnavailable, error.code != .internalError else { throw fail(error.reason) }
            report.decision = "unusable"
            report.issues = [error.code.rawValue]
            report.reason = error.reason
        }

        if common.json {
            try printJSON(report)
        } else {
            print("reference  \(reference)")
            print("probe      \(probe)")
            if let score = report.score { print("score      \(format(score, 4))  (cosine similarity)") }
            print("threshold  \(format(report.threshold, 4))")
            print("decision   \(report.decision)")
            if let reason = report.reason { print("reason     \(reason)") }
        }
        switch report.decision {
        case "match": throw ExitCode(Exit.match)
        case "no_match": throw ExitCode(Exit.noMatch)
        default: throw ExitCode(Exit.unusable)
        }
    }
}

struct VerifyReport: Encodable {
    var reference: String
    var probe: String
    var score: Double?
    var threshold: Double
    var decision = ""
    var unusable: String?
    var issues: [String]?
    var reason: String?

    init(reference: String, probe: String, threshold: Double) {
        self.reference = reference
        self.probe = probe
        self.threshold = threshold
    }
}

extension String {
    var nonEmpty: String? { isEmpty ? nil : self }
}
