import Testing
import TulgaFace
import Foundation
import TulgaFaceModel
import TulgaCore

/// Every labelled fixture photo against every other: same identity must match, others must not.
@Suite("Genuine and impostor pairs on real faces")
struct PairTests {
    static let threshold = FaceConfig().matchThreshold

    @Test("genuine pairs score at or above the threshold", arguments: Corpus.pairs(genuine: true))
    func genuine(pair: Corpus.Pair) async throws {
        let score = try await Shared.instance.embedding(pair.a.path).cosine(Shared.instance.embedding(pair.b.path))
        #expect(score >= Self.threshold, "\(pair.testDescription): \(score)")
    }

    @Test("impostor pairs score below the threshold", arguments: Corpus.pairs(genuine: false))
    func impostor(pair: Corpus.Pair) async throws {
        let score = try await Shared.instance.embedding(pair.a.path).cosine(Shared.instance.embedding(pair.b.path))
        #expect(score < Self.threshold, "\(pair.testDescription): \(score)")
    }

    @Test("the table covers the named pairs")
    func coverage() {
        let genuine = Set(Corpus.pairs(genuine: true).map(\.testDescription))
        let impostor = Set(Corpus.pairs(genuine: false).map(\.testDescription))
        #expect(genuine.isSuperset(of: ["obama.jpg / obama2.jpg", "obama.jpg / obama3.jpg", "obama2.jpg / obama3.jpg",
                                        "paul_rudd_1.jpeg / paul_rudd_2.jpeg",
                                        "lin_manuel_miranda_f095.png / lin_manuel_miranda_f165.png"]))
        #expect(impostor.isSuperset(of: ["obama.jpg / biden.jpg", "paul_rudd_1.jpeg / chris_pratt_1.jpeg"]))
        #expect(genuine.count >= 9 && impostor.count >= 50)
    }
}
