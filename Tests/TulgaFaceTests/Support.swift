import Foundation
import Testing
import TulgaTestSupport
import TulgaFace
import TulgaFaceModel
import TulgaCore

/// Where the repository, its fetched fixtures and ../shared/fixtures are.
enum Paths {
    static let root = RepositoryPaths.root
    static let photos = root + "/Fixtures/photos"
    static let shared = root + "/../shared/fixtures"
    static let models = root + "/Models"
    static let video = shared + "/video/lin_manuel_miranda_head_turns.mp4"

    static func photo(_ name: String) -> String { photos + "/" + name }
}

/// A labelled photo.
struct Labelled: Sendable, CustomTestStringConvertible {
    let path: String
    let identity: String
    var name: String { (path as NSString).lastPathComponent }
    var testDescription: String { name }
}

enum Corpus {
    /// The sdist photos, labelled by name, plus every face in ../shared/fixtures/manifest.json.
    static let labelled: [Labelled] = {
        var items: [Labelled] = [
            Labelled(path: Paths.photo("obama.jpg"), identity: "obama"),
            Labelled(path: Paths.photo("obama2.jpg"), identity: "obama"),
            Labelled(path: Paths.photo("obama3.jpg"), identity: "obama"),
            Labelled(path: Paths.photo("biden.jpg"), identity: "biden"),
        ]
        struct Manifest: Decodable { struct Face: Decodable { let file: String; let identity: String }; let faces: [Face] }
        if let data = FileManager.default.contents(atPath: Paths.shared + "/manifest.json"),
           let manifest = try? JSONDecoder().decode(Manifest.self, from: data) {
            items += manifest.faces.map { Labelled(path: Paths.shared + "/" + $0.file, identity: $0.identity) }
        }
        return items
    }()

    struct Pair: Sendable, CustomTestStringConvertible {
        let a: Labelled
        let b: Labelled
        var testDescription: String { "\(a.name) / \(b.name)" }
    }

    static func pairs(genuine: Bool) -> [Pair] {
        var out: [Pair] = []
        for i in labelled.indices {
            for j in labelled.indices where j > i && (labelled[i].identity == labelled[j].identity) == genuine {
                out.append(Pair(a: labelled[i], b: labelled[j]))
            }
        }
        return out
    }
}

/// One engine for the whole test run; the actor serialises use of the networks.
actor Shared {
    static let instance = Shared()
    private var pipeline: FacePipeline?
    private var embeddings: [String: Embedding] = [:]

    func engine() throws -> FacePipeline {
        if let pipeline { return pipeline }
        let made = try FacePipeline(config: FaceConfig(modelsDirectory: Paths.models))
        pipeline = made
        return made
    }

    /// The embedding of the largest face in the photo at `path`.
    func embedding(_ path: String) async throws -> Embedding {
        if let cached = embeddings[path] { return cached }
        let engine = try engine()
        let image = try Image(contentsOf: path)
        let analysis = try await engine.analyze(image)
        guard let face = analysis.faces.max(by: { $0.face.box.area < $1.face.box.area }) else {
            throw FaceError(.invalidArgument, "no face in \(path)")
        }
        let value = try await engine.embed(face.face, in: image)
        embeddings[path] = value
        return value
    }
}

func read(_ path: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: path)) }

/// Runs `body` and returns the FaceError it throws, or nil.
func faceError(_ body: () throws -> Void) -> FaceError? {
    do { try body() } catch let error as FaceError { return error } catch { return nil }
    return nil
}
