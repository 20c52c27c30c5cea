/// Match or no match, given a score and a threshold.
public struct Comparison: Sendable, Hashable, Codable {
    public enum Decision: String, Sendable, Codable { case match, noMatch = "no_match" }
    public let score: Double
    public let threshold: Double
    public var decision: Decision { score >= threshold ? .match : .noMatch }

    public init(score: Double, threshold: Double) {
        self.score = score
        self.threshold = threshold
    }
}
