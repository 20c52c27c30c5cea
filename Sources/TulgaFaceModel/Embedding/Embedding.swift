/// A 128-value SFace embedding.
public struct Embedding: Sendable, Hashable, Codable {
    public let values: [Float]
    public init(_ values: [Float]) { self.values = values }

    /// Cosine similarity in -1...1.
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
