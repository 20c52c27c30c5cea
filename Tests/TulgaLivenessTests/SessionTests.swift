import Foundation
import Testing
import TulgaFaceModel
import TulgaCore
import TulgaLiveness


/// Synthetic observations for the pure state machine.
struct Script {
    var config = LivenessConfig()
    var index = 0
    var time = 0.0
    var step = 100.0  // ms per frame

    static let stats = PixelStats(brightness: 120, darkFraction: 0, brightFraction: 0, contrast: 40, sharpness: 100)

    static func face(yaw: Double = 0, pitch: Double = 0, size: Double = 120, x: Double = 320, y: Double = 240) -> ObservedFace {
        let box = Rect(x: x - size / 2, y: y - size / 2, width: size, height: size * 1.2)
        let detected = DetectedFace(box: box, landmarks: Array(repeating: Point(x: x, y: y), count: 5), score: 0.9)
        return ObservedFace(face: detected, quality: FaceQuality(sizePixels: size, ovalDistance: 0, pixels: stats,
                                                                  pose: HeadPose(yaw: yaw, pitch: pitch), faceCount: 1))
    }

    mutating func next(_ faces: [ObservedFace], embedding: Embedding? = nil, eyes: Int? = nil) -> FrameObservation {
        defer { index += 1; time += step }
        return FrameObservation(index: index, timestampMs: time, frameWidth: 640, frameHeight: 480, faces: faces,
                                embedding: embedding, perceptualHash: embedding.map { _ in UInt64(index) }, openEyes: eyes)
    }

    /// Feeds frames through `session`, embedding whenever it asks.
    mutating func feed(_ session: inout LivenessSession, _ faces: [ObservedFace], embedding: Embedding = Embedding([1, 0, 0]),
                       eyes: Int? = nil) -> LivenessStatus {
        var o = next(faces, eyes: eyes)
        if session.wantsSample(o) { o.embedding = embedding; o.perceptualHash = UInt64(o.index) }
        return session.observe(o)
    }

    mutating func baseline(_ session: inout LivenessSession) {
        for _ in 0..<config.baselineFrames { _ = feed(&session, [Self.face()]) }
    }
}

@Suite("Liveness state machine")
struct SessionTests {
    func session(_ prompts: [Prompt], config: LivenessConfig = LivenessConfig(), issuedAt: Double = 0,
                 selfiePhoto: Embedding? = nil) -> LivenessSession {
        LivenessSession(config: config, prompts: prompts, issuedAtMs: issuedAt, selfiePhoto: selfiePhoto)
    }

    @Test func baselineThenTurnRightAndBack() {
        var script = Script()
        var s = session([.turnRight])
        script.baseline(&s)
        #expect(s.phase == .prompting)
        #expect(s.currentPrompt == .turnRight)
        for yaw in [5.0, 15, 30, 40, 32] { _ = script.feed(&s, [Script.face(yaw: yaw)]) }
        #expect(s.phase == .prompting, "no return yet")
        let status = script.feed(&s, [Script.face(yaw: 3)])
        #expect(status.phase == .passed)
        #expect(status.progress == 1)
        let report = s.report
        #expect(report.passed)
        #expect(report.prompts.first?.evidenceFrames == [7, 8, 10])
        #expect(report.yawMax == 40)
        #expect(report.baseline?.frames == [0, 1, 2, 3, 4])
    }

    @Test("a turn the other way, or without a return, does not count")
    func wrongDirection() {
        var script = Script()
        var s = session([.turnLeft])
        script.baseline(&s)
        for yaw in [10.0, 30, 40, 5, 0] { _ = script.feed(&s, [Script.face(yaw: yaw)]) }
        #expect(s.phase == .prompting)
        for yaw in [-10.0, -30, -35] { _ = script.feed(&s, [Script.face(yaw: yaw)]) }
        #expect(s.phase == .prompting)
        s.endOfStream()
        #expect(s.phase == .failed && s.failure == .streamEnded)
        #expect(s.report.prompts.first?.passed == false)
    }

    @Test func looksAndCloser() {
        var script = Script()
        var s = session([.lookUp, .lookDown, .moveCloser])
        script.baseline(&s)
        for pitch in [20.0, 0, -20, 0] { _ = script.feed(&s, [Script.face(pitch: pitch)]) }
        #expect(s.currentPrompt == .moveCloser)
        for size in [130.0, 145, 160] { _ = script.feed(&s, [Script.face(size: size)]) }
        #expect(s.phase == .passed)
        #expect(s.report.prompts.map(\.prompt) == [.lookUp, .lookDown, .moveCloser])
    }

    @Test("a prompt that times out fails")
    func promptTimeout() {
        var script = Script()
        var s = session([.turnRight])
        script.baseline(&s)
        for _ in 0..<55 { _ = script.feed(&s, [Script.face(yaw: 2)]) }
        #expect(s.phase == .failed)
        #expect(s.failure == .promptTimeout)
        #expect(s.report.reasons.first?.contains("not completed in time") == true)
    }

    @Test("the session has a total time limit")
    func sessionTimeout() {
        var config = LivenessConfig()
        config.sessionTimeoutMs = 1500
        var script = Script(config: config)
        var s = session([.turnRight, .turnLeft], config: config)
        script.baseline(&s)
        for yaw in [30.0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0] { _ = script.feed(&s, [Script.face(yaw: yaw)]) }
        #expect(s.failure == .sessionTimeout)
    }

    @Test("a second face entering the frame fails")
    func secondFace() {
        var script = Script()
        var s = session([.turnRight])
        script.baseline(&s)
        let status = script.feed(&s, [Script.face(), Script.face(x: 100)])
        #expect(status.phase == .failed)
        #expect(s.failure == .anotherFace)
        #expect(s.report.reasons == ["another face in the frame: frame 5"])
    }

    @Test("frames from before the challenge do not count")
    func staleFrames() {
        var script = Script()
        var s = session([.turnRight], issuedAt: 1000)
        for _ in 0..<10 { _ = script.feed(&s, [Script.face()]) }   // t = 0...900
        #expect(s.phase == .baseline)
        #expect(s.report.framesStale == 10 && s.report.framesSeen == 0)
        script.baseline(&s)
        #expect(s.phase == .prompting)
        #expect(s.report.baseline?.frames.first == 10)
    }

    @Test("a jump of the face between frames fails")
    func jump() {
        var script = Script()
        var s = session([.turnRight])
        script.baseline(&s)
        _ = script.feed(&s, [Script.face(x: 500)])
        #expect(s.failure == .faceJumped)
        var t = Script()
        var s2 = session([.turnRight])
        t.baseline(&s2)
        _ = t.feed(&s2, [Script.face(size: 250)])
        #expect(s2.failure == .faceJumped)
    }

    @Test("sampled frames must match the first frontal frame and the selfie photo")
    func identity() {
        var script = Script()
        var s = session([.turnRight])
        script.baseline(&s)
        for _ in 0..<12 { _ = script.feed(&s, [Script.face()], embedding: Embedding([0, 1, 0])) }
        #expect(s.failure == .identityMismatch)

        var t = Script()
        // Against the selfie photo: recorded, not a failure (the prompts still run; a moderator decides).
        var r = session([.turnRight], selfiePhoto: Embedding([0, 0, 1]))
        _ = t.feed(&r, [Script.face()])
        #expect(r.selfieMismatch?.frame == 0 && r.failure == nil && r.phase == .baseline)
        #expect(r.report.selfieMismatch == r.selfieMismatch)
    }

    @Test("the face may leave the frame briefly, not for long")
    func missingFace() {
        var script = Script()
        var s = session([.turnRight])
        script.baseline(&s)
        for _ in 0..<10 { _ = script.feed(&s, []) }
        #expect(s.phase == .prompting)
        #expect(s.status.hints == [.noFace])
        for _ in 0..<10 { _ = script.feed(&s, []) }
        #expect(s.failure == .faceLost)
    }

    @Test("baseline waits for a frontal, centred, lit face and gives hints")
    func baselineHints() {
        var script = Script()
        var s = session([.turnRight])
        var dark = Script.face()
        dark.quality.pixels.brightness = 20
        #expect(script.feed(&s, [dark]).hints == [.moreLight])
        var off = Script.face()
        off.quality.ovalDistance = 1.5
        #expect(script.feed(&s, [off]).hints == [.centreFace])
        #expect(script.feed(&s, [Script.face(yaw: 25)]).hints == [.lookStraight])
        #expect(s.phase == .baseline)
        let twoFaces = FrameObservation(index: 0, timestampMs: 0, frameWidth: 640, frameHeight: 480, faces: [Script.face(), Script.face()])
        #expect(LivenessSession.hints(for: twoFaces, config: LivenessConfig()) == [.otherFaces])
    }

    @Test func blink() {
        var script = Script()
        var s = session([.blink])
        script.baseline(&s)
        #expect(s.wantsEyes)
        for eyes in [2, 2, 0, 0, 2] { _ = script.feed(&s, [Script.face()], eyes: eyes) }
        #expect(s.phase == .passed)
    }

    @Test("prompts are drawn from the pool without repeats, or fixed by config")
    func draw() {
        var generator = SystemRandomNumberGenerator()
        var seen = Set<[Prompt]>()
        for _ in 0..<50 {
            let prompts = LivenessSession.drawPrompts(LivenessConfig(), using: &generator)
            #expect(prompts.count == 3 && Set(prompts).count == 3)
            #expect(!prompts.contains(.blink))
            seen.insert(prompts)
        }
        #expect(seen.count > 5)
        var config = LivenessConfig()
        config.fixedPrompts = [.lookDown]
        #expect(LivenessSession.drawPrompts(config, using: &generator) == [.lookDown])
    }

    @Test func kioskTextsExistInEveryLanguage() {
        for language in Language.allCases {
            for prompt in Prompt.allCases { #expect(!prompt.text(language).isEmpty) }
            for hint in Hint.allCases { #expect(!hint.text(language).isEmpty) }
        }
        #expect(Hint.centreFace.text(.en) == "Put your face in the centre of the oval")
        #expect(Hint.otherFaces.text(.ru) == "Убедитесь, что в кадре нет других лиц")
    }
}
