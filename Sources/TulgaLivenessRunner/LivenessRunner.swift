public import TulgaFace
import TulgaFaceModel
public import TulgaLiveness
import Foundation

/// A 64-bit perceptual hash of a frame (DCT hash): the grey picture averaged down to 32×32, the
/// 8×8 lowest frequencies of its DCT, one bit per coefficient above their median. Re-encoding and
/// resizing change few bits; a different picture changes about half.
///
/// - Parameter image: the decoded frame.
/// - Returns: The hash.
/// - Throws: ``FaceError`` if the image's pixels cannot be read.
public func perceptualHash(_ image: Image) throws(FaceError) -> UInt64 {
    let bgr = try image.bgrBytes(), w = image.width, h = image.height, n = 32
    var grey = [Double](repeating: 0, count: n * n), counts = [Double](repeating: 0, count: n * n)
    bgr.withUnsafeBufferPointer { p in
        for y in 0..<h {
            let row = y * n / h
            for x in 0..<w {
                let i = (y * w + x) * 3, cell = row * n + x * n / w
                grey[cell] += 0.114 * Double(p[i]) + 0.587 * Double(p[i + 1]) + 0.299 * Double(p[i + 2])
                counts[cell] += 1
            }
        }
    }
    for i in grey.indices where counts[i] > 0 { grey[i] /= counts[i] }
    // The 8 lowest DCT-II frequencies along each axis: rows, then columns.
    let k = 8
    let basis = (0..<k).map { u in (0..<n).map { x in cos(Double.pi * Double(u) * (2 * Double(x) + 1) / Double(2 * n)) } }
    var rows = [Double](repeating: 0, count: n * k)   // rows[y * k + u]
    for y in 0..<n { for u in 0..<k { rows[y * k + u] = (0..<n).reduce(0) { $0 + grey[y * n + $1] * basis[u][$1] } } }
    var coefficients = [Double](repeating: 0, count: k * k)
    for v in 0..<k { for u in 0..<k { coefficients[v * k + u] = (0..<n).reduce(0) { $0 + rows[$1 * k + u] * basis[v][$1] } } }
    let median = coefficients.dropFirst().sorted()[(k * k - 1) / 2]
    return coefficients.enumerated().reduce(UInt64(0)) { $1.element > median ? $0 | (1 << UInt64($1.offset)) : $0 }
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

    /// Turns one frame into an observation, embedding it and taking its perceptual hash when the session asks.
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
            o.perceptualHash = try perceptualHash(frame.image)
        }
        if session.wantsEyes, let eyes, analysis.faces.count == 1, let face = analysis.faces.first {
            o.openEyes = try? eyes.openEyes(face.face.scaled(by: 1 / Double(frame.image.decodeScale)), in: frame.image)
        }
        return o
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
