import Foundation
import TulgaCore
import TulgaDocument
import TulgaFace
import TulgaFaceModel
import TulgaMRZ

/// The truth `scripts/render-document` writes beside each document.
struct DocumentTruth: Decodable {
    let kind: String
    let files: [String]
    let mrz: [String]
}

/// Reads every generated document in `--dir` and prints, per kind: the share read fully correct
/// (accepted, every MRZ line equal to the truth after correction, a portrait), the share refused
/// with a named reason (and the reasons), the share read wrong but accepted, and the median time
/// per document (decoding, page, zone, OCR, portrait). `--kind id-card|passport` reads one kind only.
func documentsBenchmark(_ options: Options) throws {
    guard let dir = options.directory else { throw FaceError(.invalidArgument, "documents needs --dir DIR (from scripts/render-document)") }
    let reader = DocumentReader(engine: try FaceEngine(config: FaceConfig(modelsDirectory: options.models)), ocr: try MRZReader())
    let names = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".json") }.sorted()
    struct Tally { var total = 0, correct = 0, refused = 0, wrong = 0; var reasons: [String: Int] = [:]; var times: [Double] = []; var wrongItems: [String] = [] }
    var tallies: [String: Tally] = [:]
    for name in names {
        let truth = try JSONDecoder().decode(DocumentTruth.self, from: Data(contentsOf: URL(fileURLWithPath: dir + "/" + name)))
        if let only = options.kind, truth.kind != only { continue }
        let t0 = now()
        let photos = try truth.files.map { try Image(contentsOf: $0) }
        let reading = reader.read(photos, expecting: truth.kind == "passport" ? .passport : .idCard)
        let elapsed = now() - t0
        var tally = tallies[truth.kind, default: Tally()]
        tally.total += 1
        tally.times.append(elapsed)
        if let refusal = reading.refusal {
            tally.refused += 1
            tally.reasons[refusal.errorCode, default: 0] += 1
        } else if reading.mrz?.lines == truth.mrz, reading.portrait != nil {
            tally.correct += 1
        } else {
            tally.wrong += 1
            tally.wrongItems.append(name + ": " + (reading.mrz?.lines.joined(separator: "|") ?? "-"))
        }
        tallies[truth.kind] = tally
    }
    for (kind, t) in tallies.sorted(by: { $0.key < $1.key }) {
        func share(_ n: Int) -> String { String(format: "%.1f%% (%d)", 100 * Double(n) / Double(max(1, t.total)), n) }
        print("\(kind): \(t.total) documents")
        print("  read fully correct     \(share(t.correct))")
        print("  refused, named reason  \(share(t.refused))" + (t.reasons.isEmpty ? "" : "  " + t.reasons.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")))
        print("  read wrong, accepted   \(share(t.wrong))")
        print(String(format: "  median time            %.0f ms per document (p90 %.0f ms)", percentile(t.times, 0.5), percentile(t.times, 0.9)))
        for item in t.wrongItems { print("  wrong: \(item)") }
    }
}

/// The truth's portrait: which fixture face was printed.
struct PortraitTruth: Decodable {
    let kind: String
    let files: [String]
    let portrait: String?
}

/// The portrait read from each generated document (`scripts/render-document --portrait`) against
/// every fixture face as a selfie (`--faces DIR`), the face it was printed from left out: genuine
/// pairs are the same person in another photo, impostor pairs anyone else. Prints, per kind, the
/// genuine and impostor scores (lowest, median, highest) and how each side falls in the bands.
func portraitsBenchmark(_ options: Options) throws {
    guard let dir = options.directory, let facesDir = options.faces else {
        throw FaceError(.invalidArgument, "portraits needs --dir DIR (from Benchmarks/portraits.sh) and --faces DIR")
    }
    let engine = try FaceEngine(config: FaceConfig(modelsDirectory: options.models))
    let reader = DocumentReader(engine: engine, ocr: try MRZReader())
    // Each fixture face as a selfie: its largest face's embedding.
    var selfies: [(name: String, identity: String, embedding: Embedding)] = []
    for name in try FileManager.default.contentsOfDirectory(atPath: facesDir).sorted() {
        let image = try Image(contentsOf: facesDir + "/" + name)
        guard let face = try engine.analyze(image).faces.max(by: { $0.face.box.width < $1.face.box.width }) else { continue }
        selfies.append((name, identity(name), try engine.embed(face.face, in: image)))
    }
    struct Scores { var genuine: [Double] = [], impostor: [Double] = [], refused = 0, documents = 0 }
    var byKind: [String: Scores] = [:]
    for name in try FileManager.default.contentsOfDirectory(atPath: dir).filter({ $0.hasSuffix(".json") }).sorted() {
        let truth = try JSONDecoder().decode(PortraitTruth.self, from: Data(contentsOf: URL(fileURLWithPath: dir + "/" + name)))
        guard let printed = truth.portrait else { continue }
        var scores = byKind[truth.kind, default: Scores()]
        scores.documents += 1
        let reading = reader.read(try truth.files.map { try Image(contentsOf: $0) }, expecting: truth.kind == "passport" ? .passport : .idCard)
        if let portrait = reading.portrait {
            for selfie in selfies where selfie.name != printed {
                let score = portrait.embedding.cosine(selfie.embedding)
                if selfie.identity == identity(printed) { scores.genuine.append(score) } else { scores.impostor.append(score) }
            }
        } else {
            scores.refused += 1
        }
        byKind[truth.kind] = scores
    }
    let accept = 0.363, review = 0.31
    for (kind, s) in byKind.sorted(by: { $0.key < $1.key }) {
        func summary(_ v: [Double]) -> String {
            guard let lo = v.min(), let hi = v.max() else { return "none" }
            return String(format: "%d pairs, lowest %.3f, median %.3f, highest %.3f", v.count, lo, percentile(v, 0.5), hi)
        }
        func bands(_ v: [Double]) -> String {
            let n = Double(max(1, v.count))
            let a = v.filter { $0 >= accept }.count, r = v.filter { $0 >= review && $0 < accept }.count
            return String(format: "at or above accept %.1f%%, review band %.1f%%, below review %.1f%%",
                          100 * Double(a) / n, 100 * Double(r) / n, 100 * Double(v.count - a - r) / n)
        }
        print("\(kind): \(s.documents) documents, \(s.refused) refused by the reader (no portrait compared)")
        print("  genuine   \(summary(s.genuine))")
        print("            \(bands(s.genuine))")
        print("  impostor  \(summary(s.impostor))")
        print("            \(bands(s.impostor))")
    }
}

/// `lin_manuel_miranda_f095.png` → `lin_manuel_miranda`; `paul_rudd_2.jpeg` → `paul_rudd`.
func identity(_ file: String) -> String {
    let stem = (file as NSString).deletingPathExtension
    guard let cut = stem.lastIndex(of: "_") else { return stem }
    return String(stem[..<cut])
}
