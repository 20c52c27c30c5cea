public import TulgaFace
import TulgaFaceModel
public import TulgaLiveness
import Crypto
import Foundation

/// SHA-256 of a frame's pixels, hex.
///
/// The same pixels always give the same hash; the replay guard compares these.
///
/// - Parameter image: the decoded frame.
/// - Returns: 64 lower-case hex characters.
/// - Throws: ``FaceError`` if the image's pixels cannot be read.
public func frameHash(_ image: Image) throws(FaceError) -> String {
    SHA256.hash(data: try image.bgrBytes()).map { String(format: "%02x", $0) }.joined()
}

/// A finished session: its report and the frame that became the session's selfie.
public struct LivenessRun: Sendable {
    /// The session's report, passed or failed.
    public let report: LivenessReport
    /// The frame the session's selfie embedding came from; `nil` if no selfie was taken.
    public let selfie: Image?
}

/// The imperative shell around `LivenessSession`: reads frames, runs the face engine, embeds
/// sampled frames, and reports each status change.
///
/// ```swift
/// let runner = LivenessRunner(engine: engine)
/// var session = LivenessSession(config: config, nonce: makeNonce(), prompts: prompts, issuedAtMs: clock.nowMs())
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

    /// Turns one frame into an observation, embedding and hashing it when the session asks.
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
        if session.wantsSample(o), let face = analysis.faces.first {
            o.embedding = try engine.embed(face.face, in: frame.image)
            o.frameHash = try frameHash(frame.image)
        }
        if session.wantsEyes, let eyes, analysis.faces.count == 1, let face = analysis.faces.first {
            o.openEyes = try? eyes.openEyes(face.face.scaled(by: 1 / Double(frame.image.decodeScale)), in: frame.image)
        }
        return o
    }

    /// The guidance phase over `source`: hints for each frame until one needs none. Returns the
    /// time the challenge may be issued at (on the source's clock), or nil if the source ended first.
    ///
    /// - Parameters:
    ///   - guidance: the guidance machine; holds ``Guidance/readyAtMs`` afterwards.
    ///   - source: the frames to read.
    ///   - onHints: called with each frame's hints, for a display.
    /// - Returns: The ready time in milliseconds, or `nil` if the source ended first.
    /// - Throws: ``FaceError`` from the frame source or the face engine.
    public func guide(_ guidance: inout Guidance, source: any FrameSource, onHints: ([Hint]) -> Void = { _ in }) throws -> Double? {
        while guidance.readyAtMs == nil, let frame = try source.next() {
            let analysis = try engine.analyze(frame.image)
            let observation = FrameObservation(index: frame.index, timestampMs: frame.timestampMs, frameWidth: analysis.width,
                                               frameHeight: analysis.height,
                                               faces: analysis.faces.map { ObservedFace(face: $0.face, quality: $0.quality) })
            onHints(guidance.observe(observation))
        }
        return guidance.readyAtMs
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
        var selfieImage: Image?
        while session.phase == .baseline || session.phase == .prompting {
            guard let frame = try source.next() else {
                session.endOfStream()
                break
            }
            let time = streamTimeIsRelative ? session.issuedAtMs + frame.timestampMs : frame.timestampMs
            let observation = try observe(frame, timestampMs: time, for: session)
            let status = session.observe(observation)
            if selfieImage == nil, session.selfieFrame == frame.index { selfieImage = frame.image }
            onStatus(status, observation)
        }
        try await replay.check(&session)
        return LivenessRun(report: session.report, selfie: selfieImage)
    }
}
