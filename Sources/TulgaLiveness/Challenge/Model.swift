public import TulgaFaceModel

/// A movement the subject is asked to make.
public enum Prompt: String, Sendable, Hashable, Codable, CaseIterable {
    case turnLeft = "turn_left"
    case turnRight = "turn_right"
    case lookUp = "look_up"
    case lookDown = "look_down"
    /// Move toward the camera so the face grows by ``LivenessConfig/closerRatio``.
    case moveCloser = "move_closer"
    case blink
}

/// Liveness settings; every threshold is relative to the subject's own baseline pose.
public struct LivenessConfig: Sendable, Hashable, Codable {
    /// How many prompts a session asks for.
    public var promptCount = 3
    /// The prompts drawn from. Blink is left out: the Haar eye cascade is not reliable on the
    /// fixtures (see README).
    public var promptPool: [Prompt] = [.turnLeft, .turnRight, .lookUp, .lookDown, .moveCloser]
    /// A fixed sequence for tests and demos; empty means drawn from a CSPRNG.
    public var fixedPrompts: [Prompt] = []
    /// How long the subject has for one prompt, in milliseconds.
    public var promptTimeoutMs: Double = 5000
    /// From the challenge's issue to the last prompt, baseline included.
    public var sessionTimeoutMs: Double = 30000

    /// Consecutive steady frames that make the baseline.
    public var baselineFrames = 5
    /// The baseline face must be this frontal (degrees, absolute).
    public var baselineMaxYaw: Double = 15
    /// The same for pitch (degrees, absolute).
    public var baselineMaxPitch: Double = 15
    /// Steady: the centre moves less than this fraction of the face size per frame.
    public var baselineMaxMotion: Double = 0.12

    /// A turn needs |yaw − baseline yaw| ≥ this, in the asked direction (degrees).
    public var turnDegrees: Double = 25
    /// A look needs |pitch − baseline pitch| ≥ this, in the asked direction.
    public var lookDegrees: Double = 12
    /// After the excursion the pose must come back within this of the baseline.
    public var returnDegrees: Double = 10
    /// Moving closer: face size at least this multiple of the baseline size.
    public var closerRatio: Double = 1.25
    /// Blink: open eyes (2) → none for 1...maxBlinkFrames frames → open again.
    public var maxBlinkFrames = 6

    /// Continuity: the box centre may move at most this fraction of the face size per frame,
    /// and the size may change at most by this ratio per frame.
    public var maxCentreJump: Double = 0.6
    /// The largest size ratio between one frame and the next (either way).
    public var maxSizeJump: Double = 1.5
    /// Frames in a row without a face before the session fails.
    public var maxMissingFrames = 15

    /// Embed every n-th usable frame (plus the baseline "selfie").
    public var embedEveryFrames = 10
    /// Frames turned further than this from the baseline are not embedded (degrees).
    public var embedMaxYaw: Double = 25
    /// Identity continuity: sampled frames must score at least this against the session's selfie
    /// (the still photo when one was taken, and the first frontal frame). Calibrated on the fixture
    /// video by `ContinuityCalibrationTests`; see Thresholds.md.
    public var continuityThreshold: Double = 0.30

    /// What makes a frame usable: size, light, sharpness, pose, the oval.
    public var quality = QualityThresholds()

    /// The defaults above.
    public init() {}
}

/// One face as the engine sees it.
public struct ObservedFace: Sendable, Hashable, Codable {
    /// The detector's output: box, landmarks, score.
    public var face: DetectedFace
    /// Size, oval distance, pixel statistics and pose.
    public var quality: FaceQuality
    /// Pairs a detection with its measurements.
    ///
    /// - Parameters:
    ///   - face: the detector's output.
    ///   - quality: what was measured about it.
    public init(face: DetectedFace, quality: FaceQuality) {
        self.face = face
        self.quality = quality
    }
}

/// Everything the engine learns from one frame.
public struct FrameObservation: Sendable, Hashable {
    /// The frame's position in the stream, from 0.
    public var index: Int
    /// When the frame was taken, in milliseconds (the source's clock).
    public var timestampMs: Double
    /// The frame's width in pixels.
    public var frameWidth: Int
    /// The frame's height in pixels.
    public var frameHeight: Int
    /// Every face found; more than one fails the session.
    public var faces: [ObservedFace]
    /// The main face's embedding, on sampled frames only.
    public var embedding: Embedding?
    /// The perceptual hash of the region around the face, on frames with one face (for the replay guard).
    public var perceptualHash: UInt64?
    /// The same region's hashes mirrored and turned (see ``FrameSignature/variants``).
    public var hashVariants: [UInt64] = []
    /// Open eyes in the main face (blink prompts only).
    public var openEyes: Int?

    /// Creates an observation.
    ///
    /// - Parameters:
    ///   - index: the frame's position in the stream.
    ///   - timestampMs: when it was taken, in milliseconds.
    ///   - frameWidth: width in pixels.
    ///   - frameHeight: height in pixels.
    ///   - faces: every face found.
    ///   - embedding: the main face's embedding, on sampled frames.
    ///   - perceptualHash: the perceptual hash around the face, on frames with one face.
    ///   - openEyes: open eyes in the main face, for blink prompts.
    public init(index: Int, timestampMs: Double, frameWidth: Int, frameHeight: Int, faces: [ObservedFace],
                embedding: Embedding? = nil, perceptualHash: UInt64? = nil, openEyes: Int? = nil) {
        self.index = index
        self.timestampMs = timestampMs
        self.frameWidth = frameWidth
        self.frameHeight = frameHeight
        self.faces = faces
        self.embedding = embedding
        self.perceptualHash = perceptualHash
        self.openEyes = openEyes
    }
}

/// A hint for the person in front of the camera.
public enum Hint: String, Sendable, Hashable, Codable, CaseIterable {
    case centreFace = "centre_face"
    case moreLight = "more_light"
    case lessLight = "less_light"
    case otherFaces = "other_faces"
    case noFace = "no_face"
    case holdStill = "hold_still"
    case lookStraight = "look_straight"
    case comeCloser = "come_closer"
    case holdSharp = "hold_sharp"
}

/// Why a session failed. Stable codes; `LivenessReport.reasons` carries the words.
public enum FailureReason: String, Sendable, Hashable, Codable {
    /// A second face appeared in the frame.
    case anotherFace = "another_face"
    /// The current prompt was not completed in ``LivenessConfig/promptTimeoutMs``.
    case promptTimeout = "prompt_timeout"
    /// The session ran past ``LivenessConfig/sessionTimeoutMs``.
    case sessionTimeout = "session_timeout"
    /// The frames ran out before every prompt was completed.
    case streamEnded = "stream_ended"
    /// No face for more than ``LivenessConfig/maxMissingFrames`` frames in a row.
    case faceLost = "face_lost"
    /// The face moved or resized more between two frames than continuity allows.
    case faceJumped = "face_jumped"
    /// A sampled frame does not match the session's first frontal frame.
    case identityMismatch = "identity_mismatch"
    /// The sampled frames match those of an earlier session.
    case replayed = "replayed"
    /// The face never held still, frontal and centred for the baseline.
    case baselineNotReached = "baseline_not_reached"

    /// The reason in lower-case English words.
    public var words: String {
        switch self {
        case .anotherFace: "another face in the frame"
        case .promptTimeout: "the prompt was not completed in time"
        case .sessionTimeout: "the session ran out of time"
        case .streamEnded: "the video ended before every prompt was completed"
        case .faceLost: "the face left the frame"
        case .faceJumped: "the face jumped between frames"
        case .identityMismatch: "a sampled frame does not match the session's first frontal frame"
        case .replayed: "these frames were already used in another session"
        case .baselineNotReached: "the face never held still, frontal and centred"
        }
    }
}

/// The session's current phase.
public enum LivenessPhase: String, Sendable, Hashable, Codable {
    /// `baseline`: learning the still, frontal pose; `prompting`: asking for movements;
    /// `passed` and `failed`: finished.
    case baseline, prompting, passed, failed
}

/// What the engine says after each frame.
public struct LivenessStatus: Sendable, Hashable {
    /// Where the session is.
    public var phase: LivenessPhase
    /// The prompt being asked, while prompting.
    public var prompt: Prompt?
    /// Prompts completed so far, and how many there are.
    public var completed: Int
    /// How many prompts the session asks for.
    public var total: Int
    /// 0...1 over the whole session (baseline counts as one step).
    public var progress: Double
    /// What the person should fix now; empty when all is well.
    public var hints: [Hint]
}
