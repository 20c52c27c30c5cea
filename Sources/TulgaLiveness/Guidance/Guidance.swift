/// The kiosk's guidance phase as a pure machine: hints until one frame needs none (the face
/// alone, centred in the oval, frontal, well lit, sharp), then the challenge may be issued.
///
/// ```swift
/// var guidance = Guidance(config: config)
/// let hints = guidance.observe(observation)
/// if let issuedAtMs = guidance.readyAtMs { /* start the LivenessSession */ }
/// ```
public struct Guidance: Sendable {
    /// Supplies the quality thresholds the hints come from.
    public let config: LivenessConfig
    /// When a frame needed no hint: the challenge is issued just after it.
    public private(set) var readyAtMs: Double?
    /// The hints for the last frame.
    public private(set) var hints: [Hint] = []

    /// Starts guidance with no frame seen.
    ///
    /// - Parameter config: supplies the quality thresholds.
    public init(config: LivenessConfig) { self.config = config }

    /// Takes one frame; returns its hints (empty once the person is ready).
    /// - Parameter o: the frame's faces and their quality.
    /// - Returns: The frame's hints; empty once ``readyAtMs`` is set.
    @discardableResult
    public mutating func observe(_ o: FrameObservation) -> [Hint] {
        guard readyAtMs == nil else { return [] }
        hints = LivenessSession.hints(for: o, config: config)
        // Frames at or before the issue time count as stale, so the challenge starts just after.
        if hints.isEmpty { readyAtMs = o.timestampMs + 0.001 }
        return hints
    }
}
