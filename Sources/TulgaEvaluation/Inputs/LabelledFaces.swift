internal import Foundation
internal import TulgaFace
internal import TulgaCore

/// Where the labelled faces live: the sdist photos and the shared fixtures (its `manifest.json`).
public struct EvaluationInputs: Sendable {
    /// The face_recognition sdist photos (`Fixtures/photos`).
    public var photos: String
    /// The shared fixtures folder (`../shared/fixtures`).
    public var shared: String
    /// Every n-th video frame is a face-comparison item.
    public var videoStep: Int

    public init(photos: String = "Fixtures/photos", shared: String = "../shared/fixtures", videoStep: Int = 10) {
        (self.photos, self.shared, self.videoStep) = (photos, shared, videoStep)
    }

    /// The sdist photos used, with their identities. `32bit.png` is left out: it is `obama2.jpg` with alpha.
    static let sdist: [(file: String, identity: String)] = [
        ("obama.jpg", "obama"), ("obama2.jpg", "obama"), ("obama3.jpg", "obama"),
        ("obama_partial_face.jpg", "obama"), ("obama_partial_face2.jpg", "obama"), ("biden.jpg", "biden"),
    ]

    struct Manifest: Decodable {
        struct Entry: Decodable { let file: String; let identity: String }
        let faces: [Entry]
        let videos: [Entry]
    }

    func manifest() throws(EvaluationError) -> Manifest {
        let path = shared + "/manifest.json"
        guard let data = FileManager.default.contents(atPath: path) else { throw EvaluationError(.input, "cannot read \(path)") }
        do { return try JSONDecoder().decode(Manifest.self, from: data) } catch {
            throw EvaluationError(.input, "\(path) is not the fixtures manifest: \(error)")
        }
    }

    /// The fixture video of the person who turns (the only video in the manifest).
    func video() throws(EvaluationError) -> (path: String, identity: String) {
        guard let entry = try manifest().videos.first else { throw EvaluationError(.input, "\(shared)/manifest.json names no video") }
        return (shared + "/" + entry.file, entry.identity)
    }
}

/// One labelled image: a photo or a video frame.
struct LabelledFace {
    let name: String
    let identity: String
    let image: Image
    let video: Bool

    /// Every labelled photo and every `videoStep`-th frame of the shared videos.
    static func collect(_ inputs: EvaluationInputs, limits: DecodeLimits) throws(EvaluationError) -> [LabelledFace] {
        var items: [LabelledFace] = []
        func load(_ path: String, _ identity: String, hint: String = "") throws(EvaluationError) {
            do { items.append(LabelledFace(name: (path as NSString).lastPathComponent, identity: identity,
                                           image: try Image(contentsOf: path, limits: limits), video: false)) } catch {
                throw EvaluationError(.input, error.reason + hint)
            }
        }
        for (file, identity) in EvaluationInputs.sdist { try load(inputs.photos + "/" + file, identity, hint: " (run scripts/setup)") }
        let manifest = try inputs.manifest()
        for face in manifest.faces { try load(inputs.shared + "/" + face.file, face.identity) }
        for video in manifest.videos {
            do {
                let source = try VideoFileSource(videoFile: inputs.shared + "/" + video.file)
                while let frame = try source.next() {
                    guard frame.index % inputs.videoStep == 0 else { continue }
                    items.append(LabelledFace(name: "\((video.file as NSString).lastPathComponent)#\(frame.index)", identity: video.identity,
                                              image: frame.image, video: true))
                }
            } catch { throw EvaluationError(.input, error.reason) }
        }
        return items
    }
}
