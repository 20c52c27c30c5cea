import Foundation
import Testing
import TulgaFace
import TulgaFaceModel

/// SFace's packed copy (tv_model_pack): made once beside the model, checked at every load against the
/// model's SHA-256 and its own, remade when either does not match; the same embeddings within 1e-6.
@Suite("the recognizer's packed model", .serialized)
struct PackedModelTests {
    /// A scratch folder holding a copy of SFace as `sface.onnx`.
    static func scratch() throws -> (folder: String, model: String, packed: String) {
        let folder = NSTemporaryDirectory() + "tulga-pack-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let model = folder + "/sface.onnx"
        try FileManager.default.copyItem(atPath: Paths.models + "/face_recognition_sface_2021dec.onnx", toPath: model)
        return (folder, model, FaceEmbedder.packedPath(for: model))
    }

    static func bytes(_ path: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: path)) }

    @Test("made once (0600), then reused; its embeddings of the fixture faces within 1e-6 of the model's")
    func packedMatches() async throws {
        let (folder, model, packed) = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        #expect(packed == folder + "/sface.packed.onnx")
        #expect(try FaceEmbedder.pack(model: model, to: packed))
        #expect(try !FaceEmbedder.pack(model: model, to: packed))
        let mode = try FileManager.default.attributesOfItem(atPath: packed)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        let plain = try FaceEmbedder(modelPath: model, packed: false)
        let lean = try FaceEmbedder(modelPath: model)
        #expect(plain.loadedPath == model && lean.loadedPath == packed && lean.packProblem == nil)
        let engine = try await Shared.instance.engine()
        for name in ["obama.jpg", "obama2.jpg", "biden.jpg"] {
            let image = try Image(contentsOf: Paths.photo(name))
            let analysis = try await engine.analyze(image)
            let face = try #require(analysis.faces.max(by: { $0.face.box.area < $1.face.box.area })).face
                .scaled(by: 1 / Double(image.decodeScale))
            let a = try plain.embed(face, in: image).values, b = try lean.embed(face, in: image).values
            let worst = zip(a, b).map { abs($0 - $1) }.max() ?? 1
            #expect(a.count == 128 && worst <= 1e-6, "\(name): largest difference \(worst)")
        }
    }

    @Test("a damaged packed file is refused and made again", arguments: ["flip a byte", "cut short", "only its last 200 bytes"])
    func damaged(_ how: String) throws {
        let (folder, model, packed) = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        #expect(try FaceEmbedder.pack(model: model, to: packed))
        let good = try Self.bytes(packed)
        var bad = good
        switch how {
        case "flip a byte": bad[bad.count / 2] ^= 0x01
        case "cut short": bad = Data(bad.prefix(bad.count - 1000))
        default: bad = Data(bad.suffix(200))
        }
        try bad.write(to: URL(fileURLWithPath: packed))
        #expect(try FaceEmbedder.pack(model: model, to: packed))
        #expect(try Self.bytes(packed) == good)
        #expect(try FaceEmbedder(modelPath: model).loadedPath == packed)
    }

    @Test("a changed model makes the packed file again")
    func modelChanged() throws {
        let (folder, model, packed) = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        #expect(try FaceEmbedder.pack(model: model, to: packed))
        let before = try Self.bytes(packed)
        // Still a valid model (an extra field protobuf keeps as unknown), with another SHA-256.
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: model))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data([0xBA, 0x3E, 0x02]) + Data("v2".utf8))  // field 999, 2 bytes
        try handle.close()
        #expect(try FaceEmbedder.pack(model: model, to: packed))
        #expect(try Self.bytes(packed) != before)
        #expect(try !FaceEmbedder.pack(model: model, to: packed))
        #expect(try FaceEmbedder(modelPath: model).loadedPath == packed)
    }

    @Test("a model that is not ONNX is a model error; a packed copy that cannot be written leaves the model loaded as it is")
    func refusals() throws {
        let (folder, model, packed) = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let junk = folder + "/junk.onnx"
        try Data([0xFF, 0xFF, 0xFF, 0xFF, 0x0F]).write(to: URL(fileURLWithPath: junk))
        let error = faceError { _ = try FaceEmbedder.pack(model: junk, to: folder + "/junk.packed.onnx") }
        #expect(error?.code == .modelUnavailable && error?.reason.contains("not an ONNX file") == true, "\(String(describing: error))")
        #expect(faceError { _ = try FaceEmbedder.pack(model: folder + "/missing.onnx", to: packed) }?.code == .modelUnavailable)
        // A folder where the packed file would go: it cannot be put there, so SFace loads from the model.
        try FileManager.default.createDirectory(atPath: packed, withIntermediateDirectories: false)
        #expect(faceError { _ = try FaceEmbedder.pack(model: model, to: packed) }?.code == .modelUnavailable)
        let embedder = try FaceEmbedder(modelPath: model)
        #expect(embedder.loadedPath == model && embedder.packProblem?.contains("cannot put the packed model") == true,
                "\(String(describing: embedder.packProblem))")
        // No temporary file is left behind.
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder).sorted() == ["junk.onnx", "sface.onnx", "sface.packed.onnx"])
    }
}
