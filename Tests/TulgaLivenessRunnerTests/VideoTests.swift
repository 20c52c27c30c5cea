import Foundation
import Testing
import TulgaTestSupport
import TulgaFace
import TulgaLiveness
import TulgaFaceModel
import TulgaLivenessRunner
import TulgaCore
import TulgaEvaluation

enum Fixture {
    static let root = RepositoryPaths.root
    static let video = root + "/../shared/fixtures/video/lin_manuel_miranda_head_turns.mp4"
    static let photos = root + "/Fixtures/photos/"
    static let config = FaceConfig(modelsDirectory: root + "/Models")

    /// One engine per test (engines are single-threaded; tests run in parallel).
    static func runner() throws -> LivenessRunner { LivenessRunner(engine: try FaceEngine(config: config)) }

    static func run(_ prompts: [Prompt], source: any FrameSource, replay: any ReplayGuard = InMemoryReplayGuard(),
                    selfiePhoto: Embedding? = nil) async throws -> LivenessReport {
        var session = LivenessSession(config: LivenessConfig(), prompts: prompts, issuedAtMs: 1_000_000, selfiePhoto: selfiePhoto)
        return try await runner().run(&session, source: source, streamTimeIsRelative: true, replay: replay).report
    }

    /// A flat-photo attack, as the accuracy report makes it.
    static func flatPhotoClip(_ name: String) throws -> MemoryFrameSource { try Presentations.flatPhoto(try Image(contentsOf: photos + name)) }
}

@Suite("Liveness on the real video and on flat-photo attacks")
struct VideoTests {
    @Test("the fixture video passes 'turn right' (the subject's right)")
    func turnRightPasses() async throws {
        let report = try await Fixture.run([.turnRight], source: VideoFileSource(videoFile: Fixture.video))
        #expect(report.passed, "\(report.reasons)")
        let record = try #require(report.prompts.first)
        #expect(record.prompt == .turnRight && record.passed)
        #expect(record.evidenceFrames.count == 3)
        let peak = record.evidenceFrames[1]
        #expect((30...55).contains(peak), "peak at frame \(peak); the fixture turns strongly at 30-55")
        #expect((report.yawMax ?? 0) > 35)
        #expect(report.sampledFrames.count >= 3)
    }

    @Test("the same clip fails 'turn left': it only turns slightly that way")
    func turnLeftFails() async throws {
        let report = try await Fixture.run([.turnLeft], source: VideoFileSource(videoFile: Fixture.video))
        #expect(!report.passed)
        #expect(report.failure == .streamEnded || report.failure == .promptTimeout)
        #expect((report.yawMin ?? 0) > -25)
    }

    @Test("the same frames cannot pass two sessions")
    func replay() async throws {
        let guardian = InMemoryReplayGuard()
        let first = try await Fixture.run([.turnRight], source: VideoFileSource(videoFile: Fixture.video), replay: guardian)
        #expect(first.passed)
        let second = try await Fixture.run([.turnRight], source: VideoFileSource(videoFile: Fixture.video), replay: guardian)
        #expect(!second.passed)
        #expect(second.failure == .replayed)
    }

    @Test("the video matches a selfie photo of the same person and not another's")
    func referenceIdentity() async throws {
        let engine = try FaceEngine(config: Fixture.config)
        func embedding(_ path: String) throws -> Embedding {
            let image = try Image(contentsOf: path)
            let face = try #require(try engine.analyze(image).faces.first)
            return try engine.embed(face.face, in: image)
        }
        let lin = try embedding(Fixture.root + "/../shared/fixtures/faces/lin_manuel_miranda_f095.png")
        let ok = try await Fixture.run([.turnRight], source: VideoFileSource(videoFile: Fixture.video), selfiePhoto: lin)
        #expect(ok.passed && ok.selfieMismatch == nil, "\(ok.reasons)")
        let other = try embedding(Fixture.photos + "obama.jpg")
        let bad = try await Fixture.run([.turnRight], source: VideoFileSource(videoFile: Fixture.video), selfiePhoto: other)
        #expect(bad.passed && bad.selfieMismatch != nil, "the prompts pass; the mismatch is recorded for a moderator")
    }

    @Test("a flat photo moved in 2D fails every turn and look prompt",
          arguments: [Prompt.turnLeft, .turnRight, .lookUp, .lookDown])
    func flatPhoto(prompt: Prompt) async throws {
        for photo in ["obama.jpg", "biden.jpg"] {
            let report = try await Fixture.run([prompt], source: Fixture.flatPhotoClip(photo))
            #expect(!report.passed, "\(photo) passed \(prompt)")
            #expect(report.baseline != nil, "\(photo): the attack should reach the prompt, so the prompt is what fails")
            #expect(report.failure == .promptTimeout, "\(photo): \(report.reasons)")
            let base = try #require(report.baseline)
            let deviation = max(abs((report.yawMax ?? 0) - base.yaw), abs((report.yawMin ?? 0) - base.yaw))
            #expect(deviation < LivenessConfig().turnDegrees, "\(photo): yaw deviation \(deviation)")
        }
    }

    @Test("a second face entering the real video fails the session")
    func secondFaceEnters() async throws {
        let video = try VideoFileSource(videoFile: Fixture.video)
        let intruder = try Image(contentsOf: Fixture.photos + "biden.jpg").resized(width: 120, height: 272)
        var frames: [Frame] = []
        while let frame = try video.next() {
            var image = frame.image
            if frame.index >= 20 {
                image = try frame.image.sideBySide(with: intruder, height: frame.image.height)
            }
            frames.append(Frame(image: image, index: frame.index, timestampMs: frame.timestampMs))
        }
        let report = try await Fixture.run([.turnRight], source: MemoryFrameSource(frames: frames))
        #expect(report.failure == .anotherFace)
        #expect(report.reasons.first?.hasPrefix("another face in the frame") == true)
    }

    @Test("the Haar eye cascade is too unsteady for blink by default")
    func blinkReliability() throws {
        let engine = try FaceEngine(config: Fixture.config)
        let eyes = try EyeDetector()
        let video = try VideoFileSource(videoFile: Fixture.video)
        var bothEyes = 0, frames = 0
        while let frame = try video.next() {
            guard let face = try engine.analyze(frame.image).faces.first else { continue }
            frames += 1
            if try eyes.openEyes(face.face, in: frame.image) == 2 { bothEyes += 1 }
        }
        let rate = Double(bothEyes) / Double(frames)
        print("eye cascade found both open eyes in \(bothEyes)/\(frames) frames (\(Int(rate * 100))%)")
        // The subject keeps his eyes open; a detector that misses them this often would see blinks that never happened.
        #expect(rate < 0.9)
        #expect(!LivenessConfig().promptPool.contains(.blink))
    }
}
