import Foundation
public import TulgaFaceModel
import Synchronization

/// What the replay guard keeps of a frame: its position, a 64-bit perceptual hash of the region
/// around the face (so cropping, padding and rescaling the frame change little), and on sampled
/// frames the face's embedding.
public struct FrameSignature: Sendable, Hashable, Codable {
    /// The frame's position in its session.
    public var index: Int
    /// The DCT hash of the region around the face (see `perceptualHashes` in the liveness runner).
    public var hash: UInt64
    /// The same region's hashes turned and mirrored: a copy of the video that was turned or
    /// mirrored matches an earlier frame through one of them. Only a session's own frames need
    /// them, so they are not stored (not encoded).
    public var variants: [UInt64]
    /// The face's embedding, on sampled frames.
    public var embedding: Embedding?

    /// Creates a signature.
    ///
    /// - Parameters:
    ///   - index: the frame's position.
    ///   - hash: the perceptual hash around the face.
    ///   - variants: the mirrored and turned regions' hashes.
    ///   - embedding: the face's embedding, on sampled frames.
    public init(index: Int, hash: UInt64, variants: [UInt64] = [], embedding: Embedding? = nil) {
        (self.index, self.hash, self.variants, self.embedding) = (index, hash, variants, embedding)
    }

    enum CodingKeys: String, CodingKey { case index, hash, embedding }

    /// Decodes a stored signature (without variants).
    ///
    /// - Parameter decoder: the decoder.
    /// - Throws: `DecodingError` for a malformed signature.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        (index, hash, variants, embedding) = (try c.decode(Int.self, forKey: .index), try c.decode(UInt64.self, forKey: .hash), [],
                                              try c.decodeIfPresent(Embedding.self, forKey: .embedding))
    }

    /// Encodes the signature without its variants.
    ///
    /// - Parameter encoder: the encoder.
    /// - Throws: `EncodingError` if the encoder refuses a value.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(index, forKey: .index)
        try c.encode(hash, forKey: .hash)
        try c.encodeIfPresent(embedding, forKey: .embedding)
    }

    /// Bits that differ from `other`'s hash, the smallest over this frame's hash and its variants.
    ///
    /// - Parameter other: an earlier frame's signature.
    /// - Returns: 0...64.
    public func distance(to other: FrameSignature) -> Int {
        ([hash] + variants).map { ($0 ^ other.hash).nonzeroBitCount }.min() ?? 64
    }
}

/// The replay rule, pure. A sampled frame of this session matches a frame of an earlier attempt
/// when their hashes are within ``maxHashDistance`` bits and the faces are the same person; a
/// session replays an earlier attempt when at least ``minMatchedShare`` of its sampled frames
/// match that attempt's frames in the same order and at a similar pace (a recording keeps both
/// through trimming, dropped frames and speed changes; a new recording matches, if at all, here
/// and there). The thresholds are calibrated by `CalibrationTests.replay` on the fixture video.
public struct ReplayRule: Sendable, Hashable, Codable {
    /// Two frames are the same picture when their hashes differ in at most this many of 64 bits…
    public var maxHashDistance = 10
    /// …and the sampled face scores at least this against one of the earlier attempt's (the same person).
    public var minCosine = 0.5
    /// A session is a replay when at least this share of its sampled frames (and at least one) match, in order.
    public var minMatchedShare = 0.5
    /// How much faster than the session the matched frames of the earlier attempt may advance.
    public var maxPace = 3

    /// The defaults above.
    public init() {}

    /// How many of `session`'s sampled frames match frames of `earlier` in the same order (forwards
    /// or backwards) and at a similar pace: after a match, the next match lies at most ``maxPace``
    /// times as many frames further on in `earlier` as the session moved on (a copy may be trimmed,
    /// thinned, sped up or reversed; chance matches of a new recording do not line up like that).
    ///
    /// - Parameters:
    ///   - session: this session's frames (the sampled ones carry embeddings).
    ///   - earlier: one earlier attempt's frames.
    /// - Returns: The length of the match.
    public func matched(_ session: [FrameSignature], earlier: [FrameSignature]) -> Int {
        // Played forwards, or backwards (a reversed copy can pass symmetric prompts).
        let reversed = earlier.map { FrameSignature(index: -$0.index, hash: $0.hash, variants: $0.variants, embedding: $0.embedding) }
        return max(inOrder(session, earlier: earlier), inOrder(session, earlier: reversed))
    }

    private func inOrder(_ session: [FrameSignature], earlier: [FrameSignature]) -> Int {
        let faces = earlier.compactMap(\.embedding), frames = earlier.sorted { $0.index < $1.index }
        var last: (session: Int, earlier: Int)?, count = 0
        for s in session.sorted(by: { $0.index < $1.index }) {
            guard let embedding = s.embedding, faces.contains(where: { embedding.cosine($0) >= minCosine }) else { continue }
            let window = last.map { ($0.earlier + 1)...($0.earlier + max(1, maxPace * (s.index - $0.session))) }
            // The earliest match in the window keeps the most room for the rest.
            if let e = frames.first(where: { (window?.contains($0.index) ?? true) && s.distance(to: $0) <= maxHashDistance }) {
                last = (s.index, e.index)
                count += 1
            }
        }
        return count
    }

    /// Whether `session` replays one of `earlier`.
    ///
    /// - Parameters:
    ///   - session: this session's frames.
    ///   - earlier: earlier attempts' frames, one array per attempt.
    /// - Returns: `true` for a replay.
    public func isReplay(_ session: [FrameSignature], earlier: [[FrameSignature]]) -> Bool {
        let sampled = session.filter { $0.embedding != nil }.count
        guard sampled > 0 else { return false }
        let needed = max(1, Int((Double(sampled) * minMatchedShare).rounded(.up)))
        return earlier.contains { matched(session, earlier: $0) >= needed }
    }
}

/// Remembers the sampled frames of earlier sessions, so a recorded sequence cannot pass twice.
public protocol ReplayGuard: Sendable {
    /// Records `signatures`; returns true when they replay an earlier session.
    ///
    /// - Parameter signatures: the session's frames.
    /// - Returns: `true` for a replay.
    /// - Throws: Whatever the guard's store throws.
    func checkAndRecord(_ signatures: [FrameSignature]) async throws -> Bool
}

/// A replay guard for one process (the CLI's offline demonstrations and tests). The service
/// checks in the attempt's own transaction instead (`AttemptRunner`).
public final class InMemoryReplayGuard: ReplayGuard {
    private let seen = Mutex<[[FrameSignature]]>([])
    private let rule: ReplayRule
    /// Creates an empty guard.
    ///
    /// - Parameter rule: the replay rule.
    public init(rule: ReplayRule = ReplayRule()) { self.rule = rule }
    /// Records `signatures` in memory; never throws.
    ///
    /// - Parameter signatures: the session's frames.
    /// - Returns: `true` for a replay.
    public func checkAndRecord(_ signatures: [FrameSignature]) async throws -> Bool {
        seen.withLock { earlier in
            defer { earlier.append(signatures) }
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
