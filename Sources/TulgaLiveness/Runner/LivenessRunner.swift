public import TulgaFace
internal import Crypto
internal import Foundation
internal import Synchronization

/// Remembers the frame hashes of earlier sessions, so a recorded sequence cannot pass twice.
public protocol ReplayGuard: Sendable {
    /// Records `hashes`; returns true when any of them was recorded before.
    func checkAndRecord(_ hashes: [String]) async throws -> Bool
}

/// A replay guard for one process (tests, the kiosk without a database).
public final class InMemoryReplayGuard: ReplayGuard {
    private let seen = Mutex<Set<String>>([])
    public init() {}
    public func checkAndRecord(_ hashes: [String]) async throws -> Bool {
        seen.withLock { set in
            let replayed = hashes.contains { set.contains($0) }
            set.formUnion(hashes)
            return replayed
        }
    }
}

/// A fresh nonce: 16 bytes from the system CSPRNG, hex.
public func makeNonce() -> String {
    var generator = SystemRandomNumberGenerator()
    return (0..<16).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
}

/// SHA-256 of a frame's pixels, hex.
public func frameHash(_ image: Image) throws(FaceError) -> String {
    SHA256.hash(data: try image.bgrBytes()).map { String(format: "%02x", $0) }.joined()
}

/// A finished session: its report and the frame that became the session's selfie.
public struct LivenessRun: Sendable {
    public let report: LivenessReport
    public let selfie: Image?
}

/// The imperative shell around `LivenessSession`: reads frames, runs the face engine, embeds
/// sampled frames, and reports each status change.
public final class LivenessRunner {
    public let engine: FaceEngine
    private let eyes: EyeDetector?

    public init(engine: FaceEngine, eyes: EyeDetector? = nil) {
        self.engine = engine
        self.eyes = eyes
    }

    /// Turns one frame into an observation, embedding and hashing it when the session asks.
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

    /// Runs `session` over `source` until it passes, fails or the source ends, then checks the
    /// sampled frames against `replay`. A video file's stream time is laid on the session's
    /// clock (`issuedAtMs` + position); a camera's wall-clock timestamps are used as they are.
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
        let hashes = session.report.sampledFrameHashes
        if try await replay.checkAndRecord(hashes), session.phase == .passed {
            session.rejectAsReplay()
        }
        return LivenessRun(report: session.report, selfie: selfieImage)
    }
}
