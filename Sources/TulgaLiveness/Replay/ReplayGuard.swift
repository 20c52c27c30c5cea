import Foundation
public import TulgaFaceModel
import Synchronization

/// What the replay guard keeps of a sampled frame: the face's embedding and a 64-bit perceptual
/// hash of the whole frame. Both survive re-encoding and small resizing, unlike a hash of the
/// exact pixels; a new recording of the same person differs in pose, light and position.
public struct FrameSignature: Sendable, Hashable, Codable {
    /// The sampled face's embedding.
    public var embedding: Embedding
    /// The frame's DCT hash (see `perceptualHash` in the liveness runner).
    public var hash: UInt64

    /// Creates a signature.
    ///
    /// - Parameters:
    ///   - embedding: the sampled face's embedding.
    ///   - hash: the frame's perceptual hash.
    public init(embedding: Embedding, hash: UInt64) { (self.embedding, self.hash) = (embedding, hash) }
}

/// The replay rule, pure: a session whose sampled frames mostly match frames of an earlier
/// session (the same face, nearly the same picture) is a replay. The thresholds are calibrated
/// by `ReplayCalibrationTests` on the fixture video: its re-encodes (JPEG, resized by 5%) match,
/// frames half a second apart in the same video and other people's faces do not.
public struct ReplayRule: Sendable, Hashable, Codable {
    /// Two frames match when their hashes differ in at most this many of 64 bits…
    public var maxHashDistance = 5
    /// …and their faces' embeddings score at least this.
    public var minCosine = 0.9
    /// A session is a replay when at least this share of its sampled frames (and at least one) match earlier frames.
    public var minMatchedShare = 0.5

    /// The defaults above.
    public init() {}

    /// Whether two sampled frames are the same picture.
    ///
    /// - Parameters:
    ///   - a: one frame's signature.
    ///   - b: the other's.
    /// - Returns: `true` when both the hash and the embedding are within the thresholds.
    public func matches(_ a: FrameSignature, _ b: FrameSignature) -> Bool {
        (a.hash ^ b.hash).nonzeroBitCount <= maxHashDistance && a.embedding.cosine(b.embedding) >= minCosine
    }

    /// How many of `session`'s frames match any of `earlier`.
    ///
    /// - Parameters:
    ///   - session: this session's sampled frames.
    ///   - earlier: earlier sessions' sampled frames.
    /// - Returns: The number of matching frames of `session`.
    public func matched(_ session: [FrameSignature], earlier: [FrameSignature]) -> Int {
        session.filter { s in earlier.contains { matches(s, $0) } }.count
    }

    /// Whether `session` replays frames of `earlier`.
    ///
    /// - Parameters:
    ///   - session: this session's sampled frames.
    ///   - earlier: earlier sessions' sampled frames.
    /// - Returns: `true` for a replay.
    public func isReplay(_ session: [FrameSignature], earlier: [FrameSignature]) -> Bool {
        guard !session.isEmpty, !earlier.isEmpty else { return false }
        return matched(session, earlier: earlier) >= max(1, Int((Double(session.count) * minMatchedShare).rounded(.up)))
    }
}

/// Remembers the sampled frames of earlier sessions, so a recorded sequence cannot pass twice.
public protocol ReplayGuard: Sendable {
    /// Records `signatures`; returns true when they replay an earlier session.
    ///
    /// - Parameter signatures: the session's sampled frames.
    /// - Returns: `true` for a replay.
    /// - Throws: Whatever the guard's store throws.
    func checkAndRecord(_ signatures: [FrameSignature]) async throws -> Bool
}

/// A replay guard for one process (the CLI's offline demonstrations and tests). The service
/// checks in the attempt's own transaction instead (`AttemptRunner`).
public final class InMemoryReplayGuard: ReplayGuard {
    private let seen = Mutex<[FrameSignature]>([])
    private let rule: ReplayRule
    /// Creates an empty guard.
    ///
    /// - Parameter rule: the replay rule.
    public init(rule: ReplayRule = ReplayRule()) { self.rule = rule }
    /// Records `signatures` in memory; never throws.
    ///
    /// - Parameter signatures: the session's sampled frames.
    /// - Returns: `true` for a replay.
    public func checkAndRecord(_ signatures: [FrameSignature]) async throws -> Bool {
        seen.withLock { earlier in
            defer { earlier.append(contentsOf: signatures) }
            return rule.isReplay(signatures, earlier: earlier)
        }
    }
}

/// A fresh random identifier: 16 bytes from the system CSPRNG, hex.
public func makeNonce() -> String {
    var generator = SystemRandomNumberGenerator()
    return (0..<16).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
}

extension ReplayGuard {
    /// The replay rule, in one place for the in-process shells: records the session's sampled
    /// frames, and a session that passed with an earlier session's frames fails as replayed.
    ///
    /// - Parameter session: the finished session; a passed one is turned into a `.replayed` failure.
    /// - Throws: whatever the guard's store throws.
    public func check(_ session: inout LivenessSession) async throws {
        if try await checkAndRecord(session.signatures), session.phase == .passed {
            session.rejectAsReplay()
        }
    }
}
