import Foundation
import Testing
import TulgaTestSupport
import TulgaConfig
import TulgaEvaluation
import TulgaFace
import TulgaLiveness

/// One report per test process: it runs every face and clip through the pipeline.
actor ReportCache {
    static let shared = ReportCache()
    private var report: AccuracyReport?

    func get() async throws -> AccuracyReport {
        if let report { return report }
        let configuration = try Configuration.load(path: RepositoryPaths.root + "/config/tulga.json")
        var face = configuration.face
        face.modelsDirectory = RepositoryPaths.models
        let evaluator = Evaluator(engine: try FaceEngine(config: face),
                                  inputs: EvaluationInputs(photos: RepositoryPaths.photos, shared: RepositoryPaths.shared),
                                  accept: configuration.policy.acceptThreshold, review: configuration.policy.reviewThreshold,
                                  liveness: configuration.liveness)
        let fresh = try await evaluator.run()
        report = fresh
        return fresh
    }
}

enum Readme {
    static let begin = "<!-- accuracy:begin", end = "<!-- accuracy:end -->"

    static func text() throws -> String { try String(contentsOfFile: RepositoryPaths.root + "/README.md", encoding: .utf8) }

    /// README's `## Accuracy` section, up to the next `## ` heading.
    static func section() throws -> String {
        let readme = try text()
        let start = try #require(readme.range(of: "\n## Accuracy\n"))
        let rest = readme[start.upperBound...]
        return String(rest[..<(rest.range(of: "\n## ")?.lowerBound ?? rest.endIndex)])
    }

    /// What lies between the markers (the marker lines left out).
    static func generated() throws -> String {
        let section = try section()
        let begin = try #require(section.range(of: Self.begin)), end = try #require(section.range(of: Self.end))
        let afterBeginLine = try #require(section[begin.upperBound...].firstIndex(of: "\n"))
        return String(section[section.index(after: afterBeginLine)..<end.lowerBound])
    }
}

@Suite("The accuracy and attack report", .serialized)
struct AccuracyReportTests {
    @Test("README's Accuracy section is the report's, within rounding; regenerate it with bash scripts/accuracy")
    func readmeMatches() async throws {
        let report = try await ReportCache.shared.get()
        let difference = FigureComparison.difference(try Readme.generated(), report.markdown)
        #expect(difference == nil, "README's Accuracy section has drifted from tulga eval --report: \(difference ?? ""); run bash scripts/accuracy")
    }

    @Test("every figure in README's Accuracy section comes from the report: none stands outside the generated part")
    func everyFigureTraced() throws {
        let section = try Readme.section()
        let begin = try #require(section.range(of: Readme.begin)), end = try #require(section.range(of: Readme.end))
        let outside = String(section[..<begin.lowerBound]) + String(section[end.upperBound...])
        let figures = outside.split(whereSeparator: { !$0.isNumber }).filter { !$0.isEmpty }
        #expect(figures.isEmpty, "figures outside the generated part: \(figures)")
    }

    @Test("config/tulga.json's calibration block is the report's, within rounding")
    func configMatches() async throws {
        let report = try await ReportCache.shared.get()
        let committed = try Configuration.load(path: RepositoryPaths.root + "/config/tulga.json").calibration
        let fresh = report.calibration
        let encoder = JSONEncoder()
        let a = try #require(try JSONSerialization.jsonObject(with: encoder.encode(committed)) as? [String: Any])
        let b = try #require(try JSONSerialization.jsonObject(with: encoder.encode(fresh)) as? [String: Any])
        #expect(Set(a.keys) == Set(b.keys))
        for (key, value) in b {
            if let v = value as? Double, let u = a[key] as? Double {
                #expect(abs(u - v) <= 0.0010001, "calibration.\(key): committed \(u), the report now says \(v); run bash scripts/accuracy")
            } else {
                #expect("\(a[key] ?? "missing")" == "\(value)", "calibration.\(key); run bash scripts/accuracy")
            }
        }
    }

    @Test("the report's JSON follows Sources/TulgaEvaluation/report.schema.json")
    func schema() async throws {
        let report = try await ReportCache.shared.get()
        let schemaData = try Data(contentsOf: URL(fileURLWithPath: RepositoryPaths.root + "/Sources/TulgaEvaluation/report.schema.json"))
        let schema = try #require(try JSONSerialization.jsonObject(with: schemaData) as? [String: Any])
        let json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(report))
        #expect(JSONSchemaSubset.violations(json, schema) == [])
        // The checker itself refuses what it must.
        var broken = try #require(json as? [String: Any])
        broken["schema"] = "1"
        broken.removeValue(forKey: "liveness")
        #expect(JSONSchemaSubset.violations(broken, schema).count == 2)
    }

    @Test("the report measures what it says: the threshold separates, genuine turns pass, the attacks were tried")
    func measures() async throws {
        let report = try await ReportCache.shared.get()
        #expect(report.continuity.separates)
        #expect(report.continuity.sampledFrames > 50)
        let summaries = Dictionary(report.liveness.summaries.map { ($0.species, $0) }, uniquingKeysWith: { a, _ in a })
        #expect(summaries["bona_fide"]?.trials == 5)
        #expect(summaries["flat_photo"]?.trials == 16)
        #expect(summaries["replay"]?.trials == 4)
        for row in report.liveness.rows { #expect(row.accepted + row.refusals.values.reduce(0, +) == row.trials, "\(row.presentation)") }
        #expect(report.face.pairs.count == report.face.genuinePairs + report.face.impostorPairs)
    }

    @Test("figures compare within one unit of their last digit; words must be equal")
    func figureComparison() {
        #expect(FigureComparison.difference("lowest 0.341 of 69", "lowest 0.3405 of 69") == nil)
        #expect(FigureComparison.difference("lowest 0.341 of 69", "lowest 0.342 of 69") == nil)
        #expect(FigureComparison.difference("lowest 0.341 of 69", "lowest 0.343 of 69") != nil)
        #expect(FigureComparison.difference("lowest 0.341 of 69", "lowest 0.341 of 70") != nil)
        #expect(FigureComparison.difference("lowest 0.341 of 69", "highest 0.341 of 69") != nil)
        #expect(FigureComparison.difference("a  b\n| 1 |", "a b | 1 |") == nil)
        #expect(FigureComparison.difference("a 1", "a 1 b") != nil)
    }
}

/// The part of JSON Schema the report's schema uses: type, required, properties,
/// additionalProperties false, items, minimum, maximum, enum.
enum JSONSchemaSubset {
    static func violations(_ value: Any, _ schema: [String: Any], at path: String = "$") -> [String] {
        var out: [String] = []
        if let type = schema["type"] as? String, !matches(value, type) { return ["\(path): not \(type)"] }
        if let allowed = schema["enum"] as? [String], let s = value as? String, !allowed.contains(s) { out.append("\(path): \(s) not in \(allowed)") }
        if let n = value as? Double, !(value is Bool) {
            if let min = schema["minimum"] as? Double, n < min { out.append("\(path): \(n) < \(min)") }
            if let max = schema["maximum"] as? Double, n > max { out.append("\(path): \(n) > \(max)") }
        }
        if let object = value as? [String: Any] {
            for key in schema["required"] as? [String] ?? [] where object[key] == nil { out.append("\(path): \(key) missing") }
            let properties = schema["properties"] as? [String: Any] ?? [:]
            for (key, child) in object {
                if let sub = properties[key] as? [String: Any] {
                    out += violations(child, sub, at: path + "." + key)
                } else if let extra = schema["additionalProperties"] as? [String: Any] {
                    out += violations(child, extra, at: path + "." + key)
                } else if schema["additionalProperties"] as? Bool == false {
                    out.append("\(path): unexpected \(key)")
                }
            }
        }
        if let array = value as? [Any], let items = schema["items"] as? [String: Any] {
            for (i, element) in array.enumerated() { out += violations(element, items, at: "\(path)[\(i)]") }
        }
        return out
    }

    static func matches(_ value: Any, _ type: String) -> Bool {
        switch type {
        case "object": value is [String: Any]
        case "array": value is [Any]
        case "string": value is String
        case "boolean": isBool(value)
        case "integer": !isBool(value) && (value as? NSNumber).map { $0.doubleValue == $0.doubleValue.rounded() } ?? false
        case "number": !isBool(value) && value is NSNumber
        default: false
        }
    }

    /// JSONSerialization gives booleans as Bool or as an NSNumber of type "c".
    static func isBool(_ value: Any) -> Bool {
        if type(of: value) == Bool.self { return true }
        return (value as? NSNumber).map { String(cString: $0.objCType) == "c" } ?? false
    }
}
