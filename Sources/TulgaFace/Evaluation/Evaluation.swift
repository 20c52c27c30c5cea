import TulgaFaceModel
/// Verification accuracy from genuine and impostor score lists. Pure.
///
/// FMR(t): share of impostor pairs scoring ≥ t. FNMR(t): share of genuine pairs scoring < t.
///
/// ```swift
/// let evaluation = ScoreEvaluation(genuine: sameScores, impostor: differentScores)
/// print(evaluation.eer.rate, evaluation.fmr(at: 0.363), evaluation.fnmr(at: 0.363))
/// ```
public struct ScoreEvaluation: Sendable, Codable {
    /// Scores of pairs of the same person, sorted.
    public let genuine: [Double]
    /// Scores of pairs of different people, sorted.
    public let impostor: [Double]

    /// Creates an evaluation; the lists are sorted.
    ///
    /// - Parameters:
    ///   - genuine: scores of same-person pairs.
    ///   - impostor: scores of different-person pairs.
    public init(genuine: [Double], impostor: [Double]) {
        self.genuine = genuine.sorted()
        self.impostor = impostor.sorted()
    }

    /// The false match rate: the share of impostor pairs scoring at or above `t`.
    ///
    /// - Parameter t: the threshold.
    /// - Returns: 0...1; 0 without impostor scores.
    public func fmr(at t: Double) -> Double {
        impostor.isEmpty ? 0 : Double(impostor.filter { $0 >= t }.count) / Double(impostor.count)
    }

    /// The false non-match rate: the share of genuine pairs scoring below `t`.
    ///
    /// - Parameter t: the threshold.
    /// - Returns: 0...1; 0 without genuine scores.
    public func fnmr(at t: Double) -> Double {
        genuine.isEmpty ? 0 : Double(genuine.filter { $0 < t }.count) / Double(genuine.count)
    }

    /// One point per distinct score (and the ends): threshold, FMR, FNMR.
    public var curve: [(threshold: Double, fmr: Double, fnmr: Double)] {
        let thresholds = Array(Set(genuine + impostor + [-1, 1.0001])).sorted()
        return thresholds.map { ($0, fmr(at: $0), fnmr(at: $0)) }
    }

    /// Equal error rate: where FMR and FNMR cross (the mean of the two at the closest point),
    /// and the threshold there.
    public var eer: (rate: Double, threshold: Double) {
        var best = (gap: Double.infinity, rate: 1.0, threshold: 0.0)
        for point in curve {
            let gap = abs(point.fmr - point.fnmr)
            if gap < best.gap { best = (gap, (point.fmr + point.fnmr) / 2, point.threshold) }
        }
        return (best.rate, best.threshold)
    }
}
