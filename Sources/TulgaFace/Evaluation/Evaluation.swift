public import TulgaFaceModel
/// Verification accuracy from genuine and impostor score lists. Pure.
///
/// FMR(t): share of impostor pairs scoring ≥ t. FNMR(t): share of genuine pairs scoring < t.
public struct ScoreEvaluation: Sendable, Codable {
    public let genuine: [Double]
    public let impostor: [Double]

    public init(genuine: [Double], impostor: [Double]) {
        self.genuine = genuine.sorted()
        self.impostor = impostor.sorted()
    }

    public func fmr(at t: Double) -> Double {
        impostor.isEmpty ? 0 : Double(impostor.filter { $0 >= t }.count) / Double(impostor.count)
    }

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
