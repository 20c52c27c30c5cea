/// A 128-value SFace embedding.
public struct Embedding: Sendable, Hashable, Codable {
    /// The 128 values, as SFace produced them.
    public let values: [Float]
    /// Wraps SFace output.
    ///
    /// - Parameter values: the embedding's values (128 for SFace).
    public init(_ values: [Float]) { self.values = values }

    /// Cosine similarity in -1...1.
    ///
    /// - Parameter other: the embedding to compare with.
    /// - Returns: The cosine in -1...1; 0 when the lengths differ or either is empty or all zero.
    public func cosine(_ other: Embedding) -> Double {
        guard values.count == other.values.count, !values.isEmpty else { return 0 }
        var dot = 0.0, a = 0.0, b = 0.0
        for i in values.indices {
            let x = Double(values[i]), y = Double(other.values[i])
            dot += x * y
            a += x * x
            b += y * y
        }
        guard a > 0, b > 0 else { return 0 }
        return dot / (a.squareRoot() * b.squareRoot())
    }
}
