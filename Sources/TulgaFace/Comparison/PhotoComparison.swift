public import TulgaFaceModel
/// Which side of a verification a problem belongs to.
public enum PhotoRole: String, Sendable, Codable { case reference, probe }

/// The outcome of comparing a probe photo with a reference photo.
public enum VerificationOutcome: Sendable, Hashable {
    /// Both photos were usable and were compared.
    case compared(Comparison, reference: AnalyzedFace, probe: AnalyzedFace)
    /// One photo cannot be used, for the given reasons.
    case unusable(PhotoRole, [QualityIssue])
}

/// Options for choosing the face to compare.
public struct VerificationOptions: Sendable, Hashable {
    /// Use the largest face of a reference photo that holds several, instead of refusing it.
    public var largestReferenceFace = false
    public var threshold: Double
    public init(threshold: Double, largestReferenceFace: Bool = false) {
        self.threshold = threshold
        self.largestReferenceFace = largestReferenceFace
    }
}

/// Picks the face to use from an analysis, or says why none can be used. Pure.
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
    public let issues: [QualityIssue]
    public init(_ issues: [QualityIssue]) { self.issues = issues }
}

extension FaceEngine {
    /// Compares the face in `probe` with the face in `reference`.
    public func verify(reference: Image, probe: Image, options: VerificationOptions) throws(FaceError) -> VerificationOutcome {
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
