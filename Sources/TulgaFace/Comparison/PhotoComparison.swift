public import TulgaFaceModel
/// Which side of a verification a problem belongs to.
///
/// `reference` is the registry or document photo; `probe` is the photo being checked against it.
public enum PhotoRole: String, Sendable, Codable { case reference, probe }

/// The outcome of comparing a probe photo with a reference photo.
public enum PhotoComparisonOutcome: Sendable, Hashable {
    /// Both photos were usable and were compared.
    case compared(Comparison, reference: AnalyzedFace, probe: AnalyzedFace)
    /// One photo cannot be used, for the given reasons.
    case unusable(PhotoRole, [QualityIssue])
}

/// Options for choosing the face to compare.
public struct PhotoComparisonOptions: Sendable, Hashable {
    /// Use the largest face of a reference photo that holds several, instead of refusing it.
    public var largestReferenceFace = false
    /// The lowest cosine that counts as a match (see ``FaceConfig/matchThreshold``).
    public var threshold: Double
    /// Creates options.
    ///
    /// - Parameters:
    ///   - threshold: the lowest cosine that counts as a match.
    ///   - largestReferenceFace: use the largest of several reference faces instead of refusing.
    public init(threshold: Double, largestReferenceFace: Bool = false) {
        self.threshold = threshold
        self.largestReferenceFace = largestReferenceFace
    }
}

/// Picks the face to use from an analysis, or says why none can be used. Pure.
///
/// The largest face is chosen and checked against `thresholds` (size, light, sharpness).
///
/// - Parameters:
///   - analysis: the picture's faces.
///   - thresholds: the quality limits.
///   - allowSeveral: accept a picture with several faces (the largest is used).
/// - Returns: The face, or the issues that make it unusable (`noFace` when there is none).
public func selectFace(_ analysis: FrameAnalysis, thresholds: QualityThresholds, allowSeveral: Bool) -> Result<AnalyzedFace, QualityIssueList> {
    guard let largest = analysis.faces.max(by: { $0.face.box.area < $1.face.box.area }) else {
        return .failure(QualityIssueList([.noFace]))
    }
    var issues = largest.quality.issues(thresholds)
    if allowSeveral { issues.removeAll { $0 == .severalFaces } }
    return issues.isEmpty ? .success(largest) : .failure(QualityIssueList(issues))
}

/// A non-empty list of quality issues, as an error.
public struct QualityIssueList: Error, Sendable, Hashable {
    /// The issues, most important first.
    public let issues: [QualityIssue]
    /// Wraps a list of issues.
    ///
    /// - Parameter issues: the issues; not empty.
    public init(_ issues: [QualityIssue]) { self.issues = issues }
}

extension FaceEngine {
    /// Compares the face in `probe` with the face in `reference`.
    ///
    /// The largest face of each photo is used; a photo whose face is unusable ends the comparison
    /// with `.unusable` rather than an error.
    ///
    /// ```swift
    /// let outcome = try engine.compare(reference: registryPhoto, probe: selfie,
    ///                                 options: PhotoComparisonOptions(threshold: engine.config.matchThreshold))
    /// if case .compared(let comparison, _, _) = outcome { print(comparison.decision) }
    /// ```
    ///
    /// - Parameters:
    ///   - reference: the registry or document photo.
    ///   - probe: the photo to check.
    ///   - options: the threshold and whether several reference faces are allowed.
    /// - Returns: The comparison, or which photo is unusable and why.
    /// - Throws: ``FaceError`` if detection or embedding fails.
    public func compare(reference: Image, probe: Image, options: PhotoComparisonOptions) throws(FaceError) -> PhotoComparisonOutcome {
        let refAnalysis = try analyze(reference)
        let refFace: AnalyzedFace
        switch selectFace(refAnalysis, thresholds: config.quality, allowSeveral: options.largestReferenceFace) {
        case .success(let face): refFace = face
        case .failure(let list): return .unusable(.reference, list.issues)
        }
        let probeAnalysis = try analyze(probe)
        let probeFace: AnalyzedFace
        switch selectFace(probeAnalysis, thresholds: config.quality, allowSeveral: false) {
        case .success(let face): probeFace = face
        case .failure(let list): return .unusable(.probe, list.issues)
        }
        let a = try embed(refFace.face, in: reference)
        let b = try embed(probeFace.face, in: probe)
        return .compared(Comparison(score: a.cosine(b), threshold: options.threshold), reference: refFace, probe: probeFace)
    }
}
