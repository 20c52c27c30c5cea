import Foundation
import Testing
import TulgaTestSupport
import TulgaFace
import TulgaLiveness
import TulgaFaceModel
import TulgaLivenessRunner

/// The fixture video's frames with one face: the embedding and perceptual hash of each, by index.
struct VideoFaces {
    struct Sample { let index: Int; let yaw: Double; let signature: FrameSignature }
    let samples: [Sample]
    /// The same frames after `transform` (re-encoding, resizing), by index.
    static func read(_ engine: FaceEngine, transform: (Image) throws -> Image = { $0 }) throws -> VideoFaces {
        let source = try VideoFileSource(videoFile: Fixture.video)
        var samples: [Sample] = []
        while let frame = try source.next() {
            let image = try transform(frame.image)
            let analysis = try engine.analyze(image)
            guard analysis.faces.count == 1, let face = analysis.faces.first else { continue }
            samples.append(Sample(index: frame.index, yaw: face.quality.pose.yaw,
                                  signature: FrameSignature(embedding: try engine.embed(face.face, in: image), hash: try perceptualHash(image))))
        }
        return VideoFaces(samples: samples)
    }
    func at(_ index: Int) -> Sample? { samples.first { $0.index == index } }
}

/// The thresholds the liveness check relies on, measured on the real fixture video and faces:
/// each test fails if a threshold no longer separates what it must.
@Suite("Calibration on the fixture video", .serialized)
struct CalibrationTests {
    static let others = ["obama.jpg", "obama2.jpg", "biden.jpg"].map { Fixture.photos + $0 }
        + ["paul_rudd_1.jpeg", "chris_pratt_1.jpeg", "luciano_1.png"].map { Fixture.root + "/../shared/fixtures/faces/" + $0 }

    static func embed(_ engine: FaceEngine, _ path: String) throws -> FrameSignature {
        let image = try Image(contentsOf: path)
        let face = try #require(try engine.analyze(image).faces.max { $0.face.box.width < $1.face.box.width })
        return FrameSignature(embedding: try engine.embed(face.face, in: image), hash: try perceptualHash(image))
    }

    @Test("continuity: every frame the session samples scores above the threshold against the first frontal frame; other people score below")
    func continuity() throws {
        let engine = try FaceEngine(config: Fixture.config)
        let video = try VideoFaces.read(engine)
        let config = LivenessConfig()
        let selfie = try #require(video.samples.first { abs($0.yaw) <= config.baselineMaxYaw })
        // The frames a session may sample: within embedMaxYaw of the (near-zero) baseline.
        let sampled = video.samples.filter { abs($0.yaw - selfie.yaw) <= config.embedMaxYaw }
        let genuine = sampled.map { $0.signature.embedding.cosine(selfie.signature.embedding) }
        let impostors = try Self.others.map { try Self.embed(engine, $0).embedding.cosine(selfie.signature.embedding) }
        let lowestGenuine = try #require(genuine.min()), highestImpostor = try #require(impostors.max())
        print(String(format: "continuity: %d sampled frames, lowest genuine %.3f; %d other people, highest %.3f; threshold %.3f",
                     sampled.count, lowestGenuine, impostors.count, highestImpostor, config.continuityThreshold))
        #expect(sampled.count > 50)
        #expect(lowestGenuine >= config.continuityThreshold, "a genuine frame scored \(lowestGenuine)")
        #expect(highestImpostor < config.continuityThreshold, "another person scored \(highestImpostor)")
    }

    @Test("replay: the video's own re-encodes (JPEG, resized by 5%) match frame by frame; frames half a second apart and other people do not")
    func replay() throws {
        let engine = try FaceEngine(config: Fixture.config)
        let rule = ReplayRule()
        let original = try VideoFaces.read(engine)
        let jpeg = try VideoFaces.read(engine) { try Image(decoding: try $0.jpegData(quality: 75)) }
        let resized = try VideoFaces.read(engine) { image in
            try Image(decoding: try image.resized(width: image.width * 95 / 100, height: image.height * 95 / 100).jpegData(quality: 85))
        }
        var copies: [(distance: Int, cosine: Double)] = []
        for copy in [jpeg, resized] {
            for s in copy.samples {
                guard let o = original.at(s.index) else { continue }
                copies.append(((s.signature.hash ^ o.signature.hash).nonzeroBitCount, s.signature.embedding.cosine(o.signature.embedding)))
            }
        }
        // Another moment of the same recording: the nearest a new genuine recording of the same person comes.
        var apart: [(distance: Int, cosine: Double)] = []
        for s in original.samples {
            guard let later = original.at(s.index + 15) else { continue }
            apart.append(((s.signature.hash ^ later.signature.hash).nonzeroBitCount, s.signature.embedding.cosine(later.signature.embedding)))
        }
        let people = try Self.others.map { try Self.embed(engine, $0) }
        let matchedCopies = copies.filter { $0.distance <= rule.maxHashDistance && $0.cosine >= rule.minCosine }.count
        let matchedApart = apart.filter { $0.distance <= rule.maxHashDistance && $0.cosine >= rule.minCosine }.count
        print(String(format: "replay: copies %d frames, largest distance %d, lowest cosine %.3f, matched %d; half a second apart %d pairs, smallest distance %d, highest cosine %.3f, matched %d",
                     copies.count, copies.map(\.distance).max() ?? -1, copies.map(\.cosine).min() ?? -1, matchedCopies,
                     apart.count, apart.map(\.distance).min() ?? -1, apart.map(\.cosine).max() ?? -1, matchedApart))
        #expect(copies.count > 150)
        #expect(Double(matchedCopies) >= 0.9 * Double(copies.count), "re-encoded frames must match their originals")
        #expect(Double(matchedApart) <= 0.25 * Double(apart.count), "frames half a second apart must mostly not match")
        #expect(!people.contains { p in original.samples.contains { rule.matches(p, $0.signature) } })
        // As sessions: the re-encodes are replays of the original, other people are not.
        let sessionFrames = original.samples.filter { $0.index % 10 == 0 }.map(\.signature)
        for copy in [jpeg, resized] {
            #expect(rule.isReplay(copy.samples.filter { $0.index % 10 == 0 }.map(\.signature), earlier: sessionFrames))
        }
        #expect(!rule.isReplay(people, earlier: sessionFrames))
    }
}
