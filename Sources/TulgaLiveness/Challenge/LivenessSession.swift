import Foundation
public import TulgaFaceModel

/// The subject's own neutral pose, taken from steady frontal frames before the first prompt.
public struct Baseline: Sendable, Hashable, Codable {
    /// The median yaw of the steady frames, in degrees.
    public var yaw: Double
    /// The median pitch of the steady frames, in degrees.
    public var pitch: Double
    /// The median face size of the steady frames, in pixels.
    public var size: Double
    /// The indices of the steady frames.
    public var frames: [Int]
}

/// One prompt's outcome in the report.
public struct PromptRecord: Sendable, Hashable, Codable {
    /// The movement asked for.
    public var prompt: Prompt
    /// When the prompt was asked, in milliseconds.
    public var startedAtMs: Double
    /// When it was completed; `nil` if it was not.
    public var completedAtMs: Double?
    /// Frames that show the movement: the first excursion, the peak, and the return.
    public var evidenceFrames: [Int]
    /// The largest movement in the asked direction, in degrees (turns and looks only).
    public var peakDegrees: Double?
    /// Whether the prompt was completed.
    public var passed: Bool
}

/// The first sampled frame that did not match the selfie photo.
public struct SelfieMismatch: Sendable, Hashable, Codable {
    /// The frame's index.
    public var frame: Int
    /// Its cosine with the selfie photo.
    public var score: Double
    /// Creates a record of the mismatch.
    ///
    /// - Parameters:
    ///   - frame: the frame's index.
    ///   - score: its cosine with the selfie photo.
    public init(frame: Int, score: Double) { (self.frame, self.score) = (frame, score) }
}

/// The liveness report kept with the case.
public struct LivenessReport: Sendable, Hashable, Codable {
    /// When the challenge was issued, in milliseconds.
    public var issuedAtMs: Double
    /// Whether every prompt was completed.
    public var passed: Bool
    /// Each prompt asked, passed or not, in order.
    public var prompts: [PromptRecord]
    /// The subject's neutral pose, once the baseline was reached.
    public var baseline: Baseline?
    /// The smallest yaw seen, in degrees.
    public var yawMin: Double?
    /// The largest yaw seen, in degrees.
    public var yawMax: Double?
    /// The smallest pitch seen, in degrees.
    public var pitchMin: Double?
    /// The largest pitch seen, in degrees.
    public var pitchMax: Double?
    /// Frames observed at or after the challenge's issue.
    public var framesSeen: Int
    /// Frames timestamped before the challenge was issued; they do not count.
    public var framesStale: Int
    /// Indices of the frames that were embedded and checked for identity.
    public var sampledFrames: [Int]
    /// Why the session failed; `nil` if it passed.
    public var failure: FailureReason?
    /// The first sampled frame that did not match the selfie photo: the prompts still run, and a
    /// passed session with a mismatch goes to a moderator.
    public var selfieMismatch: SelfieMismatch?
    /// The failure in words, with detail such as the frame and its score.
    public var reasons: [String]
}

/// The liveness challenge as a pure state machine: feed it observations in time order, read
/// the status after each, and the report at the end. No camera, clock or randomness inside.
///
/// ```swift
/// var session = LivenessSession(config: config, prompts: [.turnRight], issuedAtMs: 0)
/// let status = session.observe(observation)
/// ```
public struct LivenessSession: Sendable {
    /// The thresholds this session applies.
    public let config: LivenessConfig
    /// When the challenge was issued, in milliseconds; earlier frames are stale.
    public let issuedAtMs: Double
    /// The prompts to ask, in order.
    public let prompts: [Prompt]
    /// The selfie photo's embedding, when the applicant took one before the video: every sampled
    /// frame must match it (identity continuity from the selfie to the video).
    public let selfiePhoto: Embedding?

    /// Where the session is.
    public private(set) var phase: LivenessPhase = .baseline
    /// The neutral pose, once reached.
    public private(set) var baseline: Baseline?
    /// The first embedding of a steady frontal frame: the session's selfie.
    public private(set) var selfie: Embedding?
    /// The frame the selfie was taken from.
    public private(set) var selfieFrame: Int?
    /// Why the session failed, once it has.
    public private(set) var failure: FailureReason?
    /// Whether any frame gave a usable face (one frontal face, sampled and compared). A session
    /// without one judged nobody: the shells abandon it rather than count it.
    public var usableFaceSeen: Bool { !sampled.isEmpty }
    private var detail: String?

    private var last: (centre: Point, size: Double, index: Int)?
    private var missing = 0
    private var steady: [(index: Int, yaw: Double, pitch: Double, size: Double, centre: Point)] = []
    private var promptIndex = 0
    private var promptStart: Double = 0
    private var excursion: (first: Int, peakFrame: Int, peak: Double)?
    private var blinkOpenSeen = false
    private var blinkClosedFrames = 0
    private var records: [PromptRecord] = []
    private var yawRange: (Double, Double)?
    private var pitchRange: (Double, Double)?
    private var framesSeen = 0
    private var framesStale = 0
    private var framesSinceSample = Int.max / 2
    private var sampled: [Int] = []
    /// The frames' signatures (every frame with one face; embeddings on sampled ones), for the replay
    /// guard. Kept out of the report: they are biometric.
    public private(set) var signatures: [FrameSignature] = []
    /// The first sampled frame that did not match the selfie photo.
    public private(set) var selfieMismatch: SelfieMismatch?
    private var lastHints: [Hint] = []

    /// Starts a session in the baseline phase.
    ///
    /// - Parameters:
    ///   - config: the thresholds to apply.
    ///   - prompts: the prompts to ask, in order (see ``drawPrompts(_:using:)``).
    ///   - issuedAtMs: when the challenge was issued, in milliseconds; earlier frames are not counted.
    ///   - selfiePhoto: the selfie photo's embedding, when one was taken; sampled frames must match it.
    public init(config: LivenessConfig, prompts: [Prompt], issuedAtMs: Double, selfiePhoto: Embedding? = nil) {
        self.config = config
        self.prompts = prompts
        self.issuedAtMs = issuedAtMs
        self.selfiePhoto = selfiePhoto
    }

    /// Draws `config.promptCount` distinct prompts from the pool (or takes `fixedPrompts`).
    ///
    /// - Parameters:
    ///   - config: the pool, count and any fixed sequence.
    ///   - generator: the randomness; the service passes a CSPRNG, tests a seeded one.
    /// - Returns: At least one prompt.
    public static func drawPrompts<G: RandomNumberGenerator>(_ config: LivenessConfig, using generator: inout G) -> [Prompt] {
        if !config.fixedPrompts.isEmpty { return config.fixedPrompts }
        return Array(config.promptPool.shuffled(using: &generator).prefix(max(1, config.promptCount)))
    }

    /// The prompt being asked; `nil` outside the prompting phase.
    public var currentPrompt: Prompt? { phase == .prompting && promptIndex < prompts.count ? prompts[promptIndex] : nil }

    /// The status as of the last observation.
    public var status: LivenessStatus {
        let done = records.filter(\.passed).count
        let steps = Double(prompts.count + 1)
        let progress: Double = switch phase {
        case .passed: 1
        case .baseline: Double(steady.count) / Double(max(1, config.baselineFrames)) / steps
        default: Double(done + 1) / steps
        }
        return LivenessStatus(phase: phase, prompt: currentPrompt, completed: done, total: prompts.count,
                              progress: min(1, progress), hints: lastHints)
    }

    /// Whether the shell should embed and hash this frame before observing it.
    ///
    /// The first sample is a frontal frame (the selfie); later ones come every
    /// ``LivenessConfig/embedEveryFrames`` frames while the face is within ``LivenessConfig/embedMaxYaw``.
    ///
    /// - Parameter observation: the frame about to be observed, without an embedding yet.
    /// - Returns: `true` when the shell should fill `embedding` and `perceptualHash`.
    public func wantsSample(_ observation: FrameObservation) -> Bool {
        guard phase == .baseline || phase == .prompting, observation.timestampMs >= issuedAtMs,
              observation.faces.count == 1, let face = observation.faces.first else { return false }
        if selfie == nil { return isFrontal(face) }
        let yawOffset = abs(face.quality.pose.yaw - (baseline?.yaw ?? 0))
        return framesSinceSample >= config.embedEveryFrames && yawOffset <= config.embedMaxYaw
    }

    /// Whether the shell should count open eyes on this frame.
    public var wantsEyes: Bool { currentPrompt == .blink }

    /// Feeds one frame. Frames must come in time order.
    ///
    /// Frames stamped before the challenge's issue are counted as stale and ignored. Once the
    /// session has passed or failed, frames change nothing.
    ///
    /// - Parameter o: the frame's observation.
    /// - Returns: The status after this frame.
    @discardableResult
    public mutating func observe(_ o: FrameObservation) -> LivenessStatus {
        guard phase == .baseline || phase == .prompting else { return status }
        guard o.timestampMs >= issuedAtMs else {
            framesStale += 1
            return status
        }
        framesSeen += 1
        framesSinceSample += 1
        if o.timestampMs - issuedAtMs > config.sessionTimeoutMs {
            fail(phase == .baseline ? .baselineNotReached : .sessionTimeout, at: o)
            return status
        }
        if o.faces.count > 1 {
            lastHints = [.otherFaces]
            fail(.anotherFace, at: o)
            return status
        }
        guard let face = o.faces.first else {
            missing += 1
            lastHints = [.noFace]
            if missing > config.maxMissingFrames { fail(.faceLost, at: o) } else { checkPromptTimeout(o) }
            return status
        }
        missing = 0
        guard continuous(face, o) else { return status }
        track(face)
        if let hash = o.perceptualHash {
            signatures.append(FrameSignature(index: o.index, hash: hash, variants: o.hashVariants, embedding: o.embedding))
        }
        if let embedding = o.embedding, !checkIdentity(embedding, o) { return status }

        switch phase {
        case .baseline: advanceBaseline(face, o)
        case .prompting:
            lastHints = []
            if checkPromptTimeout(o) { advancePrompt(face, o) }
        default: break
        }
        return status
    }

    /// The source ended: any unfinished prompt fails.
    public mutating func endOfStream() {
        guard phase == .baseline || phase == .prompting else { return }
        fail(phase == .baseline ? .baselineNotReached : .streamEnded, at: nil)
    }

    /// A frame read after the check ended (the rest of a clip): kept only for the replay ledger.
    ///
    /// - Parameters:
    ///   - index: the frame's position.
    ///   - hash: its perceptual hash around the face.
    public mutating func recordAfterEnd(index: Int, hash: UInt64) {
        guard phase == .passed || phase == .failed else { return }
        signatures.append(FrameSignature(index: index, hash: hash))
    }

    /// The shell found these frames in an earlier session.
    public mutating func rejectAsReplay() {
        phase = .failed
        failure = .replayed
        detail = nil
    }

    /// The report as of now; complete once the phase is `.passed` or `.failed`.
    public var report: LivenessReport {
        var reasons: [String] = []
        if let failure {
            reasons.append(failure.words + (detail.map { ": \($0)" } ?? ""))
        }
        return LivenessReport(
            issuedAtMs: issuedAtMs, passed: phase == .passed, prompts: records, baseline: baseline,
            yawMin: yawRange?.0, yawMax: yawRange?.1, pitchMin: pitchRange?.0, pitchMax: pitchRange?.1,
            framesSeen: framesSeen, framesStale: framesStale, sampledFrames: sampled,
            failure: failure, selfieMismatch: selfieMismatch, reasons: reasons)
    }

    /// Guidance for a frame, as a kiosk shows before and during the baseline.
    ///
    /// - Parameters:
    ///   - o: the frame's observation.
    ///   - config: supplies the quality thresholds.
    /// - Returns: Hints for the frame's quality issues; empty when the face is usable.
    public static func hints(for o: FrameObservation, config: LivenessConfig) -> [Hint] {
        guard o.faces.count <= 1 else { return [.otherFaces] }
        guard let face = o.faces.first else { return [.noFace] }
        return face.quality.issues(config.quality, requireCentred: true, requireFrontal: true).compactMap { issue in
            switch issue {
            case .noFace: .noFace
            case .severalFaces: .otherFaces
            case .tooSmall: .comeCloser
            case .tooDark: .moreLight
            case .overexposed: .lessLight
            case .blurred: .holdSharp
            case .notFrontal: .lookStraight
            case .offCentre: .centreFace
            }
        }
    }

    // MARK: - Steps

    private func isFrontal(_ face: ObservedFace) -> Bool {
        abs(face.quality.pose.yaw) <= config.baselineMaxYaw && abs(face.quality.pose.pitch) <= config.baselineMaxPitch
    }

    private mutating func continuous(_ face: ObservedFace, _ o: FrameObservation) -> Bool {
        let centre = face.face.box.centre, size = face.quality.sizePixels
        defer { last = (centre, size, o.index) }
        guard let last else { return true }
        let gap = Double(max(1, o.index - last.index))
        let moved = ((centre.x - last.centre.x) * (centre.x - last.centre.x) + (centre.y - last.centre.y) * (centre.y - last.centre.y)).squareRoot()
        let ratio = max(size, 1) / max(last.size, 1)
        if moved > config.maxCentreJump * last.size * gap || max(ratio, 1 / ratio) > config.maxSizeJump {
            fail(.faceJumped, at: o, detail: "frame \(o.index): moved \(Int(moved)) px, size ×\(String(format: "%.2f", ratio))")
            return false
        }
        return true
    }

    private mutating func track(_ face: ObservedFace) {
        let yaw = face.quality.pose.yaw, pitch = face.quality.pose.pitch
        yawRange = yawRange.map { (min($0.0, yaw), max($0.1, yaw)) } ?? (yaw, yaw)
        pitchRange = pitchRange.map { (min($0.0, pitch), max($0.1, pitch)) } ?? (pitch, pitch)
    }

    private mutating func checkIdentity(_ embedding: Embedding, _ o: FrameObservation) -> Bool {
        sampled.append(o.index)
        framesSinceSample = 0
        // Not a failure: the prompts still have to be done, and a moderator compares the frame with the selfie.
        if let selfiePhoto, selfieMismatch == nil {
            let score = embedding.cosine(selfiePhoto)
            if score < config.continuityThreshold { selfieMismatch = SelfieMismatch(frame: o.index, score: score) }
        }
        guard let selfie else {
            selfie = embedding
            selfieFrame = o.index
            return true
        }
        let score = embedding.cosine(selfie)
        if score < config.continuityThreshold {
            fail(.identityMismatch, at: o, detail: "frame \(o.index) scored \(String(format: "%.3f", score))")
            return false
        }
        return true
    }

    private mutating func advanceBaseline(_ face: ObservedFace, _ o: FrameObservation) {
        lastHints = Self.hints(for: o, config: config)
        if !isFrontal(face), !lastHints.contains(.lookStraight) { lastHints.append(.lookStraight) }
        let centre = face.face.box.centre, size = face.quality.sizePixels
        if let previous = steady.last {
            let moved = ((centre.x - previous.centre.x) * (centre.x - previous.centre.x) + (centre.y - previous.centre.y) * (centre.y - previous.centre.y)).squareRoot()
            if moved > config.baselineMaxMotion * size * Double(max(1, o.index - previous.index)) {
                steady.removeAll()
                lastHints.append(.holdStill)
            }
        }
        guard lastHints.isEmpty else {
            steady.removeAll()
            return
        }
        steady.append((o.index, face.quality.pose.yaw, face.quality.pose.pitch, size, centre))
        guard steady.count >= config.baselineFrames, selfie != nil else { return }
        baseline = Baseline(yaw: median(steady.map(\.yaw)), pitch: median(steady.map(\.pitch)), size: median(steady.map(\.size)),
                            frames: steady.map(\.index))
        phase = .prompting
        startPrompt(at: o.timestampMs)
    }

    private mutating func startPrompt(at time: Double) {
        promptStart = time
        excursion = nil
        blinkOpenSeen = false
        blinkClosedFrames = 0
    }

    /// False when the current prompt has run out of time (and the session failed).
    @discardableResult
    private mutating func checkPromptTimeout(_ o: FrameObservation) -> Bool {
        guard phase == .prompting, o.timestampMs - promptStart > config.promptTimeoutMs else { return true }
        fail(.promptTimeout, at: o, detail: "\(prompts[promptIndex].rawValue) after \(Int(o.timestampMs - promptStart)) ms")
        return false
    }

    private mutating func advancePrompt(_ face: ObservedFace, _ o: FrameObservation) {
        guard let baseline, let prompt = currentPrompt else { return }
        let pose = face.quality.pose
        // Signed movement in the asked direction, in degrees (or a size ratio for closer).
        let movement: Double
        let needed: Double
        switch prompt {
        case .turnRight: movement = pose.yaw - baseline.yaw; needed = config.turnDegrees
        case .turnLeft: movement = baseline.yaw - pose.yaw; needed = config.turnDegrees
        case .lookUp: movement = pose.pitch - baseline.pitch; needed = config.lookDegrees
        case .lookDown: movement = baseline.pitch - pose.pitch; needed = config.lookDegrees
        case .moveCloser:
            if face.quality.sizePixels / max(1, baseline.size) >= config.closerRatio {
                complete(prompt, o, evidence: [o.index], peak: nil)
            }
            return
        case .blink:
            advanceBlink(o)
            return
        }
        if var e = excursion {
            if movement > e.peak { e.peak = movement; e.peakFrame = o.index }
            excursion = e
            if abs(movement) <= config.returnDegrees {
                complete(prompt, o, evidence: [e.first, e.peakFrame, o.index], peak: e.peak)
            }
        } else if movement >= needed {
            excursion = (o.index, o.index, movement)
        }
    }

    private mutating func advanceBlink(_ o: FrameObservation) {
        guard let eyes = o.openEyes else { return }
        if eyes >= 2 {
            if blinkOpenSeen, (1...config.maxBlinkFrames).contains(blinkClosedFrames) {
                complete(.blink, o, evidence: [o.index - blinkClosedFrames, o.index], peak: nil)
                return
            }
            blinkOpenSeen = true
            blinkClosedFrames = 0
        } else if eyes == 0, blinkOpenSeen {
            blinkClosedFrames += 1
            if blinkClosedFrames > config.maxBlinkFrames { blinkOpenSeen = false; blinkClosedFrames = 0 }
        }
    }

    private mutating func complete(_ prompt: Prompt, _ o: FrameObservation, evidence: [Int], peak: Double?) {
        records.append(PromptRecord(prompt: prompt, startedAtMs: promptStart, completedAtMs: o.timestampMs,
                                    evidenceFrames: evidence, peakDegrees: peak, passed: true))
        promptIndex += 1
        if promptIndex >= prompts.count {
            phase = .passed
        } else {
            startPrompt(at: o.timestampMs)
        }
    }

    private mutating func fail(_ reason: FailureReason, at o: FrameObservation?, detail: String? = nil) {
        if phase == .prompting, promptIndex < prompts.count {
            records.append(PromptRecord(prompt: prompts[promptIndex], startedAtMs: promptStart, completedAtMs: nil,
                                        evidenceFrames: excursion.map { [$0.first, $0.peakFrame] } ?? [],
                                        peakDegrees: excursion?.peak, passed: false))
        }
        phase = .failed
        failure = reason
        self.detail = detail ?? o.map { "frame \($0.index)" }
    }
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return 0 }
    let mid = sorted.count / 2
    return sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}
