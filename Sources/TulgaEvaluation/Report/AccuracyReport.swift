/// What `tulga eval --report` measures: face comparison, the continuity threshold's calibration and
/// the liveness check against bona fide and attack presentations. README's Accuracy section and
/// the config's `calibration` block are rendered from it (`scripts/accuracy`); a test regenerates
/// it and fails when they differ.
public struct AccuracyReport: Sendable, Codable {
    /// Bumped when a field changes meaning; `report.schema.json` describes this version.
    public static let currentSchema = 1
    public var schema = AccuracyReport.currentSchema
    public var face: FaceComparison
    public var continuity: ContinuityCalibration
    public var liveness: LivenessTrials
    /// Figures published by others and cited next to ours.
    public var published = Published()
    /// The config's `calibration` block, rounded as written there.
    public var calibration: Calibration
}

/// A pair of labelled images and their cosine score.
public struct ScoredPair: Sendable, Codable, Hashable {
    public var a: String
    public var b: String
    public var genuine: Bool
    public var score: Double
}

/// Face comparison on every labelled image here.
public struct FaceComparison: Sendable, Codable {
    /// FMR and FNMR at one threshold.
    public struct AtThreshold: Sendable, Codable {
        public var name: String
        public var threshold: Double
        public var fmr: Double
        public var fnmr: Double
    }
    public var images: Int
    public var identities: Int
    /// Every n-th video frame was an item.
    public var videoStep: Int
    /// Images in which no face was found or embedded.
    public var notEnrolled: [String]
    public var genuinePairs: Int
    public var impostorPairs: Int
    public var lowestGenuine: ScoredPair
    public var highestImpostor: ScoredPair
    public var eer: Double
    public var eerThreshold: Double
    /// At accept, review, and the EER threshold.
    public var thresholds: [AtThreshold]
    /// One impostor pair in all of them: no smaller FMR can be told from zero here.
    public var smallestMeasurableFMR: Double
    /// Every pair, for plots and scripts.
    public var pairs: [ScoredPair]
}

/// The identity-continuity threshold against the fixture video (`LivenessConfig.continuityThreshold`).
public struct ContinuityCalibration: Sendable, Codable {
    /// Frames a session may sample: one face, within `embedMaxYaw` of the first frontal frame.
    public var sampledFrames: Int
    /// The lowest of them against the first frontal frame.
    public var lowestGenuine: Double
    /// Other people's photos compared with the first frontal frame.
    public var otherPeople: Int
    public var highestImpostor: Double
    /// Halfway between the two.
    public var midpoint: Double
    /// The configured threshold.
    public var threshold: Double
    /// Whether the threshold lies strictly between the highest impostor and the lowest genuine score.
    public var separates: Bool
}

/// ISO/IEC 30107-3 terms: APCER is the share of attack presentations accepted, BPCER the share
/// of bona fide presentations refused; each per kind of presentation, with its trials.
public struct LivenessTrials: Sendable, Codable {
    /// One row: a kind of presentation with one prompt.
    public struct Row: Sendable, Codable {
        /// `bona_fide`, `flat_photo` or `replay`.
        public var species: String
        public var presentation: String
        public var prompt: String
        public var trials: Int
        public var accepted: Int
        /// Failure code → how many refusals gave it.
        public var refusals: [String: Int]
    }
    /// One kind of presentation in all.
    public struct Summary: Sendable, Codable {
        public var species: String
        /// `APCER` for attacks, `BPCER` for bona fide presentations.
        public var metric: String
        public var trials: Int
        /// Attacks accepted, or bona fide presentations refused.
        public var errors: Int
        public var rate: Double
        /// The rule of three: with no error in n trials, the true rate is below 3/n at 95% confidence.
        public var upper95: Double?
    }
    /// Prompts a service session asks for, drawn from a pool of this many.
    public var sessionPrompts: Int
    public var promptPool: Int
    public var rows: [Row]
    public var summaries: [Summary]
}

/// Figures other people published, cited beside ours so none is mistaken for a measurement here.
public struct Published: Sendable, Codable {
    /// SFace's verification accuracy on LFW, from the OpenCV model zoo.
    public var sfaceLFWAccuracy = 0.994
    /// LFW's verification protocol: pairs.
    public var lfwPairs = 6000
    /// SFace's threshold for that accuracy.
    public var sfaceLFWThreshold = 0.363
}

/// The numbers behind the default thresholds, kept in `config/tulga.json` beside the thresholds
/// they justify. Written by `scripts/accuracy` from ``AccuracyReport``; informational.
public struct Calibration: Sendable, Codable, Equatable {
    public var command = "bash scripts/accuracy"
    public var images = 0
    public var identities = 0
    public var genuinePairs = 0
    public var impostorPairs = 0
    public var genuineMin = 0.0
    public var impostorMax = 0.0
    public var eer = 0.0
    public var fmrAtAccept = 0.0
    public var fnmrAtAccept = 0.0
    public var fmrAtReview = 0.0
    public var fnmrAtReview = 0.0
    public var continuityFrames = 0
    public var continuityGenuineMin = 0.0
    public var continuityImpostorMax = 0.0
    public var bonaFideTrials = 0
    public var bpcer = 0.0
    public var attackTrials = 0
    public var apcer = 0.0
    public var caveat = ""

    public init() {}
}
