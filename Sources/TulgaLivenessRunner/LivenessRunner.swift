public import TulgaFace
public import TulgaFaceModel
public import TulgaLiveness
import Foundation

/// 64-bit perceptual hashes (DCT hashes) of the region around a face: a square 1.5 times the face
/// box's longer side, in grey averaged down to 32×32; the 8×8 lowest frequencies of its DCT, one
/// bit per coefficient above their median. Re-encoding, rescaling, cropping or padding the frame
/// change few bits; another moment changes many. The variants are the same region turned every 5°
/// up to ±25° (the landmarks do not follow an in-plane turn well enough to level it), each also
/// mirrored, so turned and mirrored copies match too; only a session's own frames need them.
///
/// - Parameters:
///   - image: the decoded frame.
///   - face: the face, in the frame's original pixels.
/// - Returns: The hash, and the turned and mirrored regions' hashes.
/// - Throws: ``FaceError`` if the region cannot be read.
public func perceptualHashes(_ image: Image, around face: DetectedFace) throws(FaceError) -> (plain: UInt64, variants: [UInt64]) {
    let angles: [Double] = [0, -5, 5, -10, 10, -15, 15, -20, 20, -25, 25]
    let hashes = try image.faceHashes(face.scaled(by: 1 / Double(image.decodeScale)), scale: 1.5, angles: angles)
    return (hashes[0], Array(hashes.dropFirst()))
}

/// A finished session: its report and the frame that became the session's selfie.
public struct LivenessRun: Sendable {
    /// The session's report, passed or failed.
    public let report: LivenessReport
    /// The frame the session's selfie embedding came from; `nil` if no selfie was taken.
    public let selfie: Image?
    /// The first sampled frame that did not match the selfie photo, when one did not.
    public let mismatch: Image?
}

/// The imperative shell around `LivenessSession`: reads frames, runs the face engine, embeds
/// sampled frames, and reports each status change.
///
/// ```swift
/// let runner = LivenessRunner(engine: engine)
/// var session = LivenessSession(config: config, prompts: prompts, issuedAtMs: clock.nowMs())
/// let run = try await runner.run(&session, source: try openFrameSource("clip.mp4"),
///                                streamTimeIsRelative: true, replay: InMemoryReplayGuard())
/// print(run.report.passed)
/// ```
public final class LivenessRunner {
    /// Detects, measures and embeds faces.
    public let engine: FaceEngine
    private let eyes: EyeDetector?

    /// Creates a runner.
    ///
    /// - Parameters:
    ///   - engine: the face engine.
    ///   - eyes: the eye detector for blink prompts; without it blink prompts cannot pass.
    public init(engine: FaceEngine, eyes: EyeDetector? = nil) {
        self.engine = engine
        self.eyes = eyes
    }

    /// Turns one frame into an observation: the perceptual hash around a single face, and the
    /// embedding when the session asks.
    ///
    /// - Parameters:
    ///   - frame: the frame to analyse.
    ///   - timestampMs: the frame's time on the session's clock.
    ///   - session: decides whether to sample the frame and count eyes.
    /// - Returns: The frame's observation, ready for ``LivenessSession/observe(_:)``.
    /// - Throws: ``FaceError`` from detection, embedding or hashing.
    public func observe(_ frame: Frame, timestampMs: Double, for session: LivenessSession) throws(FaceError) -> FrameObservation {
        let analysis = try engine.analyze(frame.image)
        var o = FrameObservation(index: frame.index, timestampMs: timestampMs, frameWidth: analysis.width, frameHeight: analysis.height,
                                 faces: analysis.faces.map { ObservedFace(face: $0.face, quality: $0.quality) })
        if analysis.faces.count == 1, let face = analysis.faces.first {
            if let hashes = try? perceptualHashes(frame.image, around: face.face) { (o.perceptualHash, o.hashVariants) = hashes }
            if session.wantsSample(o) { o.embedding = try engine.embed(face.face, in: frame.image) }
        }
        if session.wantsEyes, let eyes, analysis.faces.count == 1, let face = analysis.faces.first {
            o.openEyes = try? eyes.openEyes(face.face.scaled(by: 1 / Double(frame.image.decodeScale)), in: frame.image)
        }
        return o
    }

    /// The perceptual hash around the frame's face, when it has exactly one: for frames read after
    /// the check ended, which only the replay ledger keeps.
    ///
    /// - Parameter image: the frame.
    /// - Returns: The hash, or `nil` without exactly one face.
    /// - Throws: ``FaceError`` from detection.
    public func hash(_ image: Image) throws(FaceError) -> UInt64? {
        let analysis = try engine.analyze(image)
        guard analysis.faces.count == 1, let face = analysis.faces.first else { return nil }
        return try? perceptualHashes(image, around: face.face).plain
    }

    /// The guidance phase over `source`: hints for each frame until one needs none. The ready
    /// time (on the source's clock) is then in `guidance.readyAtMs`.
    ///
    /// - Parameters:
    ///   - guidance: the guidance machine; holds ``Guidance/readyAtMs`` afterwards.
    ///   - source: the frames to read.
    ///   - onHints: called with each frame's hints, for a display.
    /// - Returns: The frame that satisfied guidance (the kiosk's selfie), or `nil` if the source ended first.
    /// - Throws: ``FaceError`` from the frame source or the face engine.
    public func guide(_ guidance: inout Guidance, source: any FrameSource, onHints: ([Hint]) -> Void = { _ in }) throws -> Frame? {
        while guidance.readyAtMs == nil, let frame = try source.next() {
            let analysis = try engine.analyze(frame.image)
            let observation = FrameObservation(index: frame.index, timestampMs: frame.timestampMs, frameWidth: analysis.width,
                                               frameHeight: analysis.height,
                                               faces: analysis.faces.map { ObservedFace(face: $0.face, quality: $0.quality) })
            onHints(guidance.observe(observation))
            if guidance.readyAtMs != nil { return frame }
        }
        return nil
    }

    /// Runs `session` over `source` until it passes, fails or the source ends, then checks the
    /// sampled frames against `replay`. A video file's stream time is laid on the session's
    /// clock (`issuedAtMs` + position); a camera's wall-clock timestamps are used as they are.
    ///
    /// - Parameters:
    ///   - session: the session to drive; holds the final state afterwards.
    ///   - source: the frames to read.
    ///   - streamTimeIsRelative: `true` for a file (timestamps from 0), `false` for a camera.
    ///   - replay: the guard the sampled frame hashes are checked against.
    ///   - onStatus: called after each frame with the status and the frame's observation.
    /// - Returns: The report and the selfie frame.
    /// - Throws: ``FaceError`` from the frame source or the face engine; whatever `replay` throws.
    public func run(
        _ session: inout LivenessSession, source: any FrameSource, streamTimeIsRelative: Bool, replay: any ReplayGuard,
        onStatus: (LivenessStatus, FrameObservation) -> Void = { _, _ in }
    ) async throws -> LivenessRun {
        var selfieImage: Image?, mismatchImage: Image?
        while session.phase == .baseline || session.phase == .prompting {
            guard let frame = try source.next() else {
                session.endOfStream()
                break
            }
            let time = streamTimeIsRelative ? session.issuedAtMs + frame.timestampMs : frame.timestampMs
            let observation = try observe(frame, timestampMs: time, for: session)
            let status = session.observe(observation)
            if selfieImage == nil, session.selfieFrame == frame.index { selfieImage = frame.image }
            if mismatchImage == nil, session.selfieMismatch?.frame == frame.index { mismatchImage = frame.image }
            onStatus(status, observation)
        }
        try await replay.check(&session)
        return LivenessRun(report: session.report, selfie: selfieImage, mismatch: mismatchImage)
    }
}
