/// Match or no match, given a score and a threshold.
public struct Comparison: Sendable, Hashable, Codable {
    /// The outcome: `match` when the score reaches the threshold, else `noMatch`.
    public enum Decision: String, Sendable, Codable { case match, noMatch = "no_match" }
    /// The similarity score, e.g. an embedding cosine.
    public let score: Double
    /// The lowest score that counts as a match.
    public let threshold: Double
    /// `.match` when `score >= threshold`.
    public var decision: Decision { score >= threshold ? .match : .noMatch }

    /// Creates a comparison.
    ///
    /// - Parameters:
    ///   - score: the similarity score.
    ///   - threshold: the lowest score that counts as a match.
    public init(score: Double, threshold: Double) {
        self.score = score
        self.threshold = threshold
    }
}
