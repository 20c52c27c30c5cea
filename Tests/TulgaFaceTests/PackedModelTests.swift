import CTulgaVision
import Crypto
import Foundation
import Testing
import TulgaFace
import TulgaFaceModel

/// SFace's packed copy (tv_model_pack): made once beside the model, opened once and checked at every
/// load (not a symbolic link, owned by this user or root, not writable by group or others, its trailer,
/// and for SFace its pinned bytes), remade when any check fails; OpenCV loads the checked descriptor.
/// The same embeddings within 1e-6.
@Suite("the recognizer's packed model", .serialized)
struct PackedModelTests {
    /// A scratch folder holding a copy of SFace as `sface.onnx`, and `scratch/` for the loads' private folders.
    static func scratch() throws -> (folder: String, model: String, packed: String) {
        let folder = NSTemporaryDirectory() + "tulga-pack-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder + "/scratch", withIntermediateDirectories: true)
        let model = folder + "/sface.onnx"
        try FileManager.default.copyItem(atPath: Paths.models + "/face_recognition_sface_2021dec.onnx", toPath: model)
        return (folder, model, FaceEmbedder.packedPath(for: model))
    }

    static func bytes(_ path: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: path)) }

    static func sha256(_ data: Data) -> String { SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined() }

    /// The packed file's trailer: field 1000 (LEN) naming the source's SHA-256 and the body's.
    static func trailer(source: String, body: String) -> Data {
        let payload = Data("tulga-pack/1 source=\(source) body=\(body)".utf8)
        func varint(_ value: Int) -> Data {
            var v = value, out = Data()
            while v >= 0x80 { out.append(UInt8(v & 0x7F) | 0x80); v >>= 7 }
            out.append(UInt8(v))
            return out
        }
        return varint(1000 << 3 | 2) + varint(payload.count) + payload
    }

    static let trailerSize = trailer(source: String(repeating: "0", count: 64), body: String(repeating: "0", count: 64)).count

    /// Packs `model` into `packed`, then plants there its body with one byte changed (inside a weight: still
    /// a model OpenCV would load) under a recomputed, valid trailer, 0600. Returns the good packed bytes.
    static func plant(_ model: String, _ packed: String) throws -> Data {
        try FaceEmbedder.pack(model: model, to: packed)
        let good = try bytes(packed)
        var body = Data(good.prefix(good.count - trailerSize))
        body[body.count / 2] ^= 0x01
        try (body + trailer(source: sha256(try bytes(model)), body: sha256(body))).write(to: URL(fileURLWithPath: packed))
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: packed)
        return good
    }

    /// Appends a field protobuf keeps as unknown (number 999, 2 bytes): still a valid model, with another SHA-256.
    static func change(_ model: String) throws {
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: model))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data([0xBA, 0x3E, 0x02]) + Data("v2".utf8))
        try handle.close()
    }

    /// What every open descriptor of this process points to inside `folder` (none once loads are done).
    static func descriptors(into folder: String) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        return names.compactMap { try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/" + $0) }
            .filter { $0.hasPrefix(folder) }
    }

    static func mode(_ path: String) throws -> Int? { try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int }
    static func owner(_ path: String) throws -> Int? { try FileManager.default.attributesOfItem(atPath: path)[.ownerAccountID] as? Int }

    /// The largest face of each photo embedded by both recognizers: the largest difference.
    static func largestDifference(_ a: FaceEmbedder, _ b: FaceEmbedder, photos: [String]) async throws -> Float {
        let engine = try await Shared.instance.engine()
        var worst: Float = 0
        for name in photos {
            let image = try Image(contentsOf: Paths.photo(name))
            let analysis = try await engine.analyze(image)
            let face = try #require(analysis.faces.max(by: { $0.face.box.area < $1.face.box.area })).face
                .scaled(by: 1 / Double(image.decodeScale))
            let x = try a.embed(face, in: image).values, y = try b.embed(face, in: image).values
            #expect(x.count == 128 && y.count == 128)
            worst = max(worst, zip(x, y).map { abs($0 - $1) }.max() ?? 1)
        }
        return worst
    }

    @Test("made once (0600), then reused; its embeddings of the fixture faces within 1e-6 of the model's")
    func packedMatches() async throws {
        let (folder, model, packed) = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        #expect(packed == folder + "/sface.packed.onnx")
        #expect(try FaceEmbedder.pack(model: model, to: packed)?.contains("is missing") == true)
        #expect(try FaceEmbedder.pack(model: model, to: packed) == nil)
        #expect(try Self.mode(packed) == 0o600)
        let plain = try FaceEmbedder(modelPath: model, packed: false)
        let lean = try FaceEmbedder(modelPath: model)
        #expect(plain.loadedPath == model && lean.loadedPath == packed && lean.packProblem == nil && lean.repackReason == nil)
        let worst = try await Self.largestDifference(plain, lean, photos: ["obama.jpg", "obama2.jpg", "biden.jpg"])
        #expect(worst <= 1e-6, "largest difference \(worst)")
    }

    @Test("the packer writes SFace's pinned bytes (a packer change must update kPins in pack.cpp)")
    func pinned() throws {
        let (folder, model, packed) = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let source = Self.sha256(try Self.bytes(model))
        #expect(source == "0ba9fbfa01b5270c96627c4ef784da859931e02f04419c829e83484087c34e79")  // Models/SHA256SUMS
        let pin = try #require(FaceEmbedder.pinnedPackedSHA256(forModel: source))
        try FaceEmbedder.pack(model: model, to: packed)
        let file = try Self.bytes(packed)
        let body = file.prefix(file.count - Self.trailerSize)
        #expect(Self.sha256(body) == pin)
        #expect(file.suffix(Self.trailerSize) == Self.trailer(source: source, body: pin))
        #expect(FaceEmbedder.pinnedPackedSHA256(forModel: String(repeating: "0", count: 64)) == nil)
    }

    @Test("a damaged packed file is refused with its reason and made again",
          arguments: [("flip a byte", "does not match its trailer"), ("cut short", "does not end with a tulga-pack/1 trailer"),
                      ("only its last 200 bytes", "does not match its trailer"), ("empty", "too short to hold its trailer")])
    func damaged(_ how: String, _ reason: String) throws {
        let (folder, model, packed) = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try FaceEmbedder.pack(model: model, to: packed)
        let good = try Self.bytes(packed)
        var bad = good
        switch how {
        case "flip a byte": bad[bad.count / 2] ^= 0x01
        case "cut short": bad = Data(bad.prefix(bad.count - 1000))
        case "empty": bad = Data()
        default: bad = Data(bad.suffix(200))
        }
        try bad.write(to: URL(fileURLWithPath: packed))
        let why = try FaceEmbedder.pack(model: model, to: packed)
        #expect(why?.contains(reason) == true, "\(String(describing: why))")
        #expect(try Self.bytes(packed) == good)
        #expect(try FaceEmbedder(modelPath: model, scratchFolder: folder + "/scratch").loadedPath == packed)
    }

    @Test("a packed file that may have been planted or swapped is not used: it is made again, with the reason",
          arguments: ["a symbolic link", "group-writable", "writable by others", "owned by another user", "a FIFO"])
    func unsafe(_ how: String) throws {
        let (folder, model, packed) = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try FaceEmbedder.pack(model: model, to: packed)
        let good = try Self.bytes(packed)
        let elsewhere = folder + "/elsewhere.onnx"
        let reason: String
        switch how {
        case "a symbolic link":
            // Even one leading to a good copy: the path itself must be the file.
            try FileManager.default.moveItem(atPath: packed, toPath: elsewhere)
            try FileManager.default.createSymbolicLink(atPath: packed, withDestinationPath: elsewhere)
            reason = "is a symbolic link (not followed)"
        case "group-writable":
            try FileManager.default.setAttributes([.posixPermissions: 0o620], ofItemAtPath: packed)
            reason = "is writable by its group or others (mode 0620)"
        case "writable by others":
            try FileManager.default.setAttributes([.posixPermissions: 0o602], ofItemAtPath: packed)
            reason = "is writable by its group or others (mode 0602)"
        case "owned by another user":
            try FileManager.default.setAttributes([.ownerAccountID: 65534], ofItemAtPath: packed)
            reason = "is owned by uid 65534, neither this process's user (uid \(geteuid())) nor root"
        default:  // a FIFO: opened without blocking, then refused as not a regular file
            try FileManager.default.removeItem(atPath: packed)
            #expect(mkfifo(packed, 0o600) == 0)
            reason = "is not a regular file"
        }
        let embedder = try FaceEmbedder(modelPath: model, scratchFolder: folder + "/scratch")
        #expect(embedder.loadedPath == packed && embedder.repackReason?.contains(reason) == true, "\(String(describing: embedder.repackReason))")
        #expect(try FileManager.default.attributesOfItem(atPath: packed)[.type] as? FileAttributeType == .typeRegular)
        #expect(try Self.bytes(packed) == good && Self.mode(packed) == 0o600 && Self.owner(packed) == Int(geteuid()))
        if how == "a symbolic link" { #expect(try Self.bytes(elsewhere) == good) }  // the link's target is left alone
        #expect(try FaceEmbedder.pack(model: model, to: packed) == nil)
    }

    @Test("a planted packed file with a recomputed trailer is refused for SFace by its pinned SHA-256")
    func planted() throws {
        let (folder, model, packed) = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let good = try Self.plant(model, packed)
        let why = try FaceEmbedder.pack(model: model, to: packed)
        #expect(why?.contains("is not the one pinned for this model") == true, "\(String(describing: why))")
        #expect(try Self.bytes(packed) == good)
    }

    @Test("for a model that is not pinned, a packed file is checked by its trailer (and owner and mode) alone")
    func unpinned() throws {
        let (folder, model, packed) = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try Self.change(model)
        #expect(FaceEmbedder.pinnedPackedSHA256(forModel: Self.sha256(try Self.bytes(model))) == nil)
        _ = try Self.plant(model, packed)
        #expect(try FaceEmbedder.pack(model: model, to: packed) == nil)  // the limit of an unkeyed trailer
    }

    @Test("a changed model makes the packed file again")
    func modelChanged() throws {
        let (folder, model, packed) = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try FaceEmbedder.pack(model: model, to: packed)
        let before = try Self.bytes(packed)
        try Self.change(model)
        let why = try FaceEmbedder.pack(model: model, to: packed)
        #expect(why?.contains("was made from another model") == true, "\(String(describing: why))")
        #expect(try Self.bytes(packed) != before)
        #expect(try FaceEmbedder.pack(model: model, to: packed) == nil)
        #expect(try FaceEmbedder(modelPath: model, scratchFolder: folder + "/scratch").loadedPath == packed)
    }

    @Test("OpenCV loads the descriptor that was checked (or written), not whatever the path holds by then",
          arguments: ["found and checked", "written now"])
    func loadsTheCheckedFile(_ when: String) async throws {
        let (folder, model, packed) = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        if when == "found and checked" { try FaceEmbedder.pack(model: model, to: packed) }
        // Junk put over the path between the checks and OpenCV's open (tv_model_test_arm's swap).
        let junk = folder + "/junk"
        let junkBytes = Data(repeating: 0xFF, count: 4096)
        try junkBytes.write(to: URL(fileURLWithPath: junk))
        tv_model_test_arm(packed, Int32(TV_MODEL_TEST_SWAP.rawValue), junk)
        let lean = try FaceEmbedder(modelPath: model, scratchFolder: folder + "/scratch")
        #expect(try Self.bytes(packed) == junkBytes)  // the swap happened
        #expect(lean.loadedPath == packed && lean.packProblem == nil)
        let plain = try FaceEmbedder(modelPath: model, packed: false)
        let worst = try await Self.largestDifference(plain, lean, photos: ["obama.jpg"])
        #expect(worst <= 1e-6, "largest difference \(worst)")
        // The next load finds the junk and refuses it.
        let next = try FaceEmbedder(modelPath: model, scratchFolder: folder + "/scratch")
        #expect(next.repackReason?.contains("does not end with a tulga-pack/1 trailer") == true, "\(String(describing: next.repackReason))")
    }

    @Test("an exception while the packed copy is written leaves no temporary file and no descriptor; SFace loads from the model")
    func exceptionWhileWriting() throws {
        let (folder, model, packed) = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        tv_model_test_arm(packed, Int32(TV_MODEL_TEST_THROW.rawValue), nil)
        let error = faceError { _ = try FaceEmbedder.pack(model: model, to: packed) }
        #expect(error?.code == .internalError && error?.reason.contains("while the packed model was written") == true, "\(String(describing: error))")
        tv_model_test_arm(packed, Int32(TV_MODEL_TEST_THROW.rawValue), nil)
        let embedder = try FaceEmbedder(modelPath: model, scratchFolder: folder + "/scratch")
        #expect(embedder.loadedPath == model && embedder.packProblem?.contains("while the packed model was written") == true)
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder).sorted() == ["scratch", "sface.onnx"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder + "/scratch").isEmpty)
        #expect(Self.descriptors(into: folder).isEmpty, "\(Self.descriptors(into: folder))")
    }

    @Test("repeated loads (written, found, refused and rewritten, from the model) leave no descriptor and no file behind")
    func nothingLeft() throws {
        let (folder, model, packed) = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let scratch = folder + "/scratch"
        func load(packed: Bool = true) throws -> String { try FaceEmbedder(modelPath: model, packed: packed, scratchFolder: scratch).loadedPath }
        for round in 0..<3 {
            var paths = [try load(), try load()]  // written (round 0), then found
            try FileManager.default.setAttributes([.posixPermissions: 0o660], ofItemAtPath: packed)
            paths += [try load(), try load(packed: false)]  // refused and rewritten; the model itself
            #expect(paths == [packed, packed, packed, model], "round \(round)")
        }
        let alive = try FaceEmbedder(modelPath: model, scratchFolder: scratch)
        #expect(alive.loadedPath == packed)
        #expect(Self.descriptors(into: folder).isEmpty, "\(Self.descriptors(into: folder))")
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder).sorted() == ["scratch", "sface.onnx", "sface.packed.onnx"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder + "/scratch").isEmpty)
    }

    @Test("the model itself must be safe too: refused when writable by others or owned by another user; a link to it is followed")
    func unsafeModel() throws {
        let (folder, model, packed) = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try FileManager.default.setAttributes([.posixPermissions: 0o664], ofItemAtPath: model)
        var error = faceError { _ = try FaceEmbedder(modelPath: model, scratchFolder: folder + "/scratch") }
        #expect(error?.code == .modelUnavailable && error?.reason.contains("is writable by its group or others (mode 0664)") == true,
                "\(String(describing: error))")
        try FileManager.default.setAttributes([.posixPermissions: 0o644, .ownerAccountID: 65534], ofItemAtPath: model)
        error = faceError { _ = try FaceEmbedder(modelPath: model, packed: false, scratchFolder: folder + "/scratch") }
        #expect(error?.reason.contains("is owned by uid 65534") == true, "\(String(describing: error))")
        #expect(!FileManager.default.fileExists(atPath: packed))
        // The configured path is the root of trust: a link there is followed, and the file it leads to checked.
        try FileManager.default.setAttributes([.ownerAccountID: Int(geteuid())], ofItemAtPath: model)
        let link = folder + "/linked.onnx"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: model)
        #expect(try FaceEmbedder(modelPath: link, scratchFolder: folder + "/scratch").loadedPath == folder + "/linked.packed.onnx")
        error = faceError { _ = try FaceEmbedder(modelPath: folder + "/missing.onnx") }
        #expect(error?.code == .modelUnavailable && error?.reason.contains("recognizer model not found at") == true)
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
        let embedder = try FaceEmbedder(modelPath: model, scratchFolder: folder + "/scratch")
        #expect(embedder.loadedPath == model && embedder.packProblem?.contains("cannot put the packed model") == true
                && embedder.packProblem?.contains("is not a regular file") == true, "\(String(describing: embedder.packProblem))")
        // The junk model, loaded as it is, is a model error naming its path.
        let junkLoad = faceError { _ = try FaceEmbedder(modelPath: junk, packed: false, scratchFolder: folder + "/scratch") }
        #expect(junkLoad?.code == .modelUnavailable && junkLoad?.reason.contains("could not load the recognizer model \(junk)") == true,
                "\(String(describing: junkLoad))")
        // No temporary file is left behind.
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder).sorted() == ["junk.onnx", "scratch", "sface.onnx", "sface.packed.onnx"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder + "/scratch").isEmpty)
    }
}
