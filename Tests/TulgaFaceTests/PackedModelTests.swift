import CTulgaVision
import Crypto
import Foundation
import Testing
import TulgaFace
import TulgaFaceModel

/// A test hook (tv_model_set_test_hook) that runs `action` once, at `stage`, for `path`.
final class ModelHook: @unchecked Sendable {
    // Unchecked: `fired` is only changed from the one load the test makes with `path`.
    let stage: tv_model_test_stage
    let path: String
    let action: () throws -> Int32
    var fired = 0
    var failure: (any Error)?

    init(_ stage: tv_model_test_stage, at path: String, _ action: @escaping () throws -> Int32) {
        self.stage = stage
        self.path = path
        self.action = action
    }

    func call(_ stage: Int32, _ path: String) -> Int32 {
        guard UInt32(bitPattern: stage) == self.stage.rawValue, path == self.path, fired == 0 else { return 0 }
        fired += 1
        do { return try action() } catch {
            failure = error
            return 0
        }
    }

    /// Runs `body` with this hook registered; none once it returns.
    func during<T>(_ body: () throws -> T) rethrows -> T {
        tv_model_set_test_hook({ context, stage, path in
            guard let context, let path else { return 0 }
            return Unmanaged<ModelHook>.fromOpaque(context).takeUnretainedValue().call(stage, String(cString: path))
        }, Unmanaged.passUnretained(self).toOpaque())
        defer { tv_model_set_test_hook(nil, nil) }
        return try withExtendedLifetime(self) { try body() }
    }
}

/// SFace's packed copy (tv_model_pack): made once beside the model, opened once and checked at every
/// load (not a symbolic link, owned by this user or root, not writable by group or others, one link,
/// its trailer, and for SFace its pinned bytes), remade when any check fails; OpenCV loads the checked
/// descriptor. The same embeddings within 1e-6. The model itself: pinned SHA-256, no link at its name.
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
            reason = "is writable by its group or others (mode 0620; chmod go-w it)"
        case "writable by others":
            try FileManager.default.setAttributes([.posixPermissions: 0o602], ofItemAtPath: packed)
            reason = "is writable by its group or others (mode 0602; chmod go-w it)"
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
        #expect(try FaceEmbedder(modelPath: model, scratchFolder: folder + "/scratch", allowUnpinned: true).loadedPath == packed)
    }

    @Test("OpenCV loads the descriptor that was checked (or written), not whatever the path holds by then",
          arguments: ["found and checked", "written now"])
    func loadsTheCheckedFile(_ when: String) async throws {
        let (folder, model, packed) = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        if when == "found and checked" { try FaceEmbedder.pack(model: model, to: packed) }
        // Junk put over the path between the checks and OpenCV's open (the test hook's rename).
        let junk = folder + "/junk"
        let junkBytes = Data(repeating: 0xFF, count: 4096)
        try junkBytes.write(to: URL(fileURLWithPath: junk))
        let hook = ModelHook(TV_MODEL_TEST_LOADING, at: packed) { rename(junk, packed) }
        let lean = try hook.during { try FaceEmbedder(modelPath: model, scratchFolder: folder + "/scratch") }
        #expect(hook.fired == 1)
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
        let error = ModelHook(TV_MODEL_TEST_WRITING, at: packed) { 1 }.during { faceError { _ = try FaceEmbedder.pack(model: model, to: packed) } }
        #expect(error?.code == .internalError && error?.reason.contains("while the packed model was written") == true, "\(String(describing: error))")
        let embedder = try ModelHook(TV_MODEL_TEST_WRITING, at: packed) { 1 }.during { try FaceEmbedder(modelPath: model, scratchFolder: folder + "/scratch") }
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

    @Test("the model itself must be safe too: refused when writable by others or owned by another user, or a link (even to SFace)")
    func unsafeModel() throws {
        let (folder, model, packed) = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try FileManager.default.setAttributes([.posixPermissions: 0o664], ofItemAtPath: model)
        var error = faceError { _ = try FaceEmbedder(modelPath: model, scratchFolder: folder + "/scratch") }
        #expect(error?.code == .modelUnavailable && error?.reason.contains("is writable by its group or others (mode 0664; chmod go-w it)") == true,
                "\(String(describing: error))")
        try FileManager.default.setAttributes([.posixPermissions: 0o644, .ownerAccountID: 65534], ofItemAtPath: model)
        error = faceError { _ = try FaceEmbedder(modelPath: model, packed: false, scratchFolder: folder + "/scratch") }
        #expect(error?.reason.contains("is owned by uid 65534") == true, "\(String(describing: error))")
        #expect(!FileManager.default.fileExists(atPath: packed))
        // A link at the model's own name is not followed, even to the real SFace (whoever can write the
        // folder could point it at any file this user owns).
        try FileManager.default.setAttributes([.ownerAccountID: Int(geteuid())], ofItemAtPath: model)
        let link = folder + "/linked.onnx"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: model)
        error = faceError { _ = try FaceEmbedder(modelPath: link, scratchFolder: folder + "/scratch") }
        #expect(error?.code == .modelUnavailable && error?.reason.contains("\(link) is a symbolic link (not followed)") == true, "\(String(describing: error))")
        #expect(!FileManager.default.fileExists(atPath: folder + "/linked.packed.onnx"))
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
        // (A read-only models folder: readOnlyFolder.)
        try FileManager.default.createDirectory(atPath: packed, withIntermediateDirectories: false)
        #expect(faceError { _ = try FaceEmbedder.pack(model: model, to: packed) }?.code == .modelUnavailable)
        let embedder = try FaceEmbedder(modelPath: model, scratchFolder: folder + "/scratch")
        #expect(embedder.loadedPath == model && embedder.packProblem?.contains("cannot put the packed model") == true
                && embedder.packProblem?.contains("is not a regular file") == true, "\(String(describing: embedder.packProblem))")
        // The junk model is not the pinned SFace; let through, it is a model error naming its path.
        let unpinned = faceError { _ = try FaceEmbedder(modelPath: junk, packed: false, scratchFolder: folder + "/scratch") }
        #expect(unpinned?.code == .modelUnavailable && unpinned?.reason.contains("not the pinned") == true, "\(String(describing: unpinned))")
        let junkLoad = faceError { _ = try FaceEmbedder(modelPath: junk, packed: false, scratchFolder: folder + "/scratch", allowUnpinned: true) }
        #expect(junkLoad?.code == .modelUnavailable && junkLoad?.reason.contains("could not load the recognizer model \(junk)") == true,
                "\(String(describing: junkLoad))")
        // No temporary file is left behind.
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder).sorted() == ["junk.onnx", "scratch", "sface.onnx", "sface.packed.onnx"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder + "/scratch").isEmpty)
    }

    /// A copy of YuNet in `folder` as `name`.
    static func yunet(in folder: String, as name: String = "yunet.onnx") throws -> String {
        let path = folder + "/" + name
        try FileManager.default.copyItem(atPath: Paths.models + "/face_detection_yunet_2023mar.onnx", toPath: path)
        return path
    }

    @Test("the pins are Models/SHA256SUMS: YuNet's and SFace's SHA-256 under their file names")
    func pinsAreTheChecksums() throws {
        let sums = try String(contentsOfFile: Paths.models + "/SHA256SUMS", encoding: .utf8)
        var listed: [String: String] = [:]
        for line in sums.split(separator: "\n") {
            let parts = line.split(separator: " ", omittingEmptySubsequences: true)
            if parts.count == 2 { listed[String(parts[1])] = String(parts[0]) }
        }
        #expect(listed.count == 2)
        #expect(FaceEmbedder.pinnedModels == listed)
        #expect(FaceEmbedder.pinnedPackedSHA256(forModel: listed["face_detection_yunet_2023mar.onnx"] ?? "") == nil)  // YuNet is not packed
    }

    @Test("a model that is not the pinned SFace is refused, naming both SHA-256s (the review's attack: YuNet, or a changed SFace, under SFace's name)",
          arguments: ["YuNet in its place", "a changed SFace", "a link to YuNet"])
    func unpinnedModelRefused(_ how: String) throws {
        let (folder, model, packed) = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let sface = "0ba9fbfa01b5270c96627c4ef784da859931e02f04419c829e83484087c34e79"
        switch how {
        case "YuNet in its place":
            try FileManager.default.removeItem(atPath: model)
            _ = try Self.yunet(in: folder, as: "sface.onnx")
        case "a changed SFace":
            try Self.change(model)
        default:
            try FileManager.default.removeItem(atPath: model)
            try FileManager.default.createSymbolicLink(atPath: model, withDestinationPath: try Self.yunet(in: folder))
        }
        for packedToo in [true, false] {
            let error = faceError { _ = try FaceEmbedder(modelPath: model, packed: packedToo, scratchFolder: folder + "/scratch") }
            #expect(error?.code == .modelUnavailable, "\(String(describing: error))")
            if how == "a link to YuNet" {
                #expect(error?.reason.contains("sface.onnx is a symbolic link (not followed)") == true, "\(String(describing: error))")
            } else {
                let found = Self.sha256(try Self.bytes(model))
                #expect(error?.reason == "the recognizer model sface.onnx has SHA-256 \(found), not the pinned \(sface) of face_recognition_sface_2021dec.onnx (Models/SHA256SUMS)",
                        "\(String(describing: error))")
            }
        }
        #expect(!FileManager.default.fileExists(atPath: packed))
        if how == "a changed SFace" {  // the explicit opt-in (tests, experiments) loads it
            #expect(try FaceEmbedder(modelPath: model, scratchFolder: folder + "/scratch", allowUnpinned: true).loadedPath == packed)
        }
    }

    @Test("YuNet is checked like SFace: pinned SHA-256, no link at its name, owner and mode; it loads from the bytes hashed")
    func detectorChecked() throws {
        let (folder, model, _) = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let yunet = try Self.yunet(in: folder)
        _ = try FaceDetector(modelPath: yunet)
        let yunetSHA = "8f2383e4dd3cfbb4553ea8718107fc0423210dc964f9f4280604804ed2552fa4"
        // SFace where YuNet should be.
        var error = faceError { _ = try FaceDetector(modelPath: model) }
        #expect(error?.code == .modelUnavailable && error?.reason == "the detector model sface.onnx has SHA-256 0ba9fbfa01b5270c96627c4ef784da859931e02f04419c829e83484087c34e79, not the pinned \(yunetSHA) of face_detection_yunet_2023mar.onnx (Models/SHA256SUMS)",
                "\(String(describing: error))")
        let link = folder + "/linked.onnx"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: yunet)
        error = faceError { _ = try FaceDetector(modelPath: link) }
        #expect(error?.reason.contains("\(link) is a symbolic link (not followed)") == true, "\(String(describing: error))")
        try FileManager.default.setAttributes([.posixPermissions: 0o664], ofItemAtPath: yunet)
        error = faceError { _ = try FaceDetector(modelPath: yunet) }
        #expect(error?.reason.contains("is writable by its group or others (mode 0664; chmod go-w it)") == true, "\(String(describing: error))")
        try FileManager.default.setAttributes([.posixPermissions: 0o644, .ownerAccountID: 65534], ofItemAtPath: yunet)
        error = faceError { _ = try FaceDetector(modelPath: yunet) }
        #expect(error?.reason.contains("is owned by uid 65534") == true, "\(String(describing: error))")
        try FileManager.default.setAttributes([.ownerAccountID: Int(geteuid())], ofItemAtPath: yunet)
        // A changed YuNet (an extra field protobuf ignores) only with the opt-in; then it detects as before.
        try Self.change(yunet)
        error = faceError { _ = try FaceDetector(modelPath: yunet) }
        #expect(error?.reason.contains("not the pinned \(yunetSHA)") == true, "\(String(describing: error))")
        let changed = try FaceDetector(modelPath: yunet, allowUnpinned: true)
        let faces = try changed.detect(try Image(contentsOf: Paths.photo("obama.jpg")))
        #expect(faces.count == 1)
        #expect(faceError { _ = try FaceDetector(modelPath: folder + "/missing.onnx") }?.reason.contains("detector model not found at") == true)
    }

    @Test("a models folder writable by its group or others is refused unless it has the sticky bit", arguments: [0o777, 0o775, 0o1777])
    func writableFolder(_ mode: Int) throws {
        let (folder, model, packed) = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let yunet = try Self.yunet(in: folder)
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: folder)
        let error = faceError { _ = try FaceEmbedder(modelPath: model, scratchFolder: folder + "/scratch") }
        let detectorError = faceError { _ = try FaceDetector(modelPath: yunet) }
        if mode == 0o1777 {
            #expect(error == nil && detectorError == nil && FileManager.default.fileExists(atPath: packed), "\(String(describing: error))")
        } else {
            let reason = "the folder \(folder) holding the recognizer model is writable by its group or others without the sticky bit (mode \(String(format: "%04o", mode)); chmod go-w it)"
            #expect(error?.code == .modelUnavailable && error?.reason == reason, "\(String(describing: error))")
            #expect(detectorError?.reason.contains("holding the detector model is writable by its group or others without the sticky bit") == true)
        }
    }

    @Test("the model swapped after it was opened: OpenCV still loads the checked, pinned file", arguments: ["written now", "found and checked", "no packed copy"])
    func modelSwappedAfterOpen(_ when: String) async throws {
        let (folder, model, packed) = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        if when == "found and checked" { try FaceEmbedder.pack(model: model, to: packed) }
        let other = try Self.yunet(in: folder)
        let hook = ModelHook(TV_MODEL_TEST_OPENED, at: model) { rename(other, model) }
        let lean = try hook.during { try FaceEmbedder(modelPath: model, packed: when != "no packed copy", scratchFolder: folder + "/scratch") }
        #expect(hook.fired == 1)
        #expect(try Self.sha256(Self.bytes(model)) == "8f2383e4dd3cfbb4553ea8718107fc0423210dc964f9f4280604804ed2552fa4")
        #expect(lean.loadedPath == (when == "no packed copy" ? model : packed) && lean.packProblem == nil)
        let plain = try FaceEmbedder(modelPath: Paths.models + "/face_recognition_sface_2021dec.onnx", packed: false)
        let worst = try await Self.largestDifference(plain, lean, photos: ["obama.jpg"])
        #expect(worst <= 1e-6, "largest difference \(worst)")
    }

    @Test("the model changed in place after it was hashed is neither packed nor loaded (no SIGBUS, no unchecked bytes)",
          arguments: ["truncated", "rewritten, same size"])
    func modelChangedInPlace(_ how: String) throws {
        let (folder, model, packed) = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let hook = ModelHook(TV_MODEL_TEST_OPENED, at: model) {
            let handle = try FileHandle(forUpdating: URL(fileURLWithPath: model))
            defer { try? handle.close() }
            if how == "truncated" {
                try handle.truncate(atOffset: 1 << 20)
            } else {  // one byte inside a weight: still a model OpenCV loads
                let middle = UInt64(try Self.bytes(model).count / 2)
                try handle.seek(toOffset: middle)
                let byte = try handle.read(upToCount: 1) ?? Data([0])
                try handle.seek(toOffset: middle)
                try handle.write(contentsOf: Data([byte[0] ^ 0x01]))
            }
            return 0
        }
        let error = hook.during { faceError { _ = try FaceEmbedder(modelPath: model, scratchFolder: folder + "/scratch") } }
        #expect(hook.fired == 1 && hook.failure == nil)
        #expect(error?.code == .modelUnavailable, "\(String(describing: error))")
        if how == "rewritten, same size" {
            #expect(error?.reason == "the recognizer model \(model) changed while it was loaded (38696353 bytes when checked, 38696353 now)", "\(String(describing: error))")
        }
        #expect(!FileManager.default.fileExists(atPath: packed))
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder).sorted() == ["scratch", "sface.onnx"])
    }

    @Test("bytes appended to the packed copy after its check, while OpenCV reads it, are refused")
    func appendedWhileLoading() throws {
        let (folder, model, packed) = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try FaceEmbedder.pack(model: model, to: packed)
        let size = try Self.bytes(packed).count
        let hook = ModelHook(TV_MODEL_TEST_LOADING, at: packed) {
            try Self.change(packed)  // a field protobuf keeps as unknown: OpenCV would load it
            return 0
        }
        let error = hook.during { faceError { _ = try FaceEmbedder(modelPath: model, scratchFolder: folder + "/scratch") } }
        #expect(hook.fired == 1 && hook.failure == nil)
        #expect(error?.code == .modelUnavailable && error?.reason == "the packed model \(packed) changed while it was loaded (\(size) bytes when checked, \(size + 5) now)",
                "\(String(describing: error))")
    }

    @Test("OpenCV reads through a private folder (tulga-model-PID-XXXXXX, 0700) holding only the link; removed by its own inode, not its name")
    func privateFolder() throws {
        let (folder, model, _) = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let scratch = folder + "/scratch"
        var seen: (name: String, mode: Int?, entries: [String], link: String)?
        let hook = ModelHook(TV_MODEL_TEST_LOADING, at: model) {
            let names = try FileManager.default.contentsOfDirectory(atPath: scratch)
            let name = try #require(names.first)
            let inner = scratch + "/" + name
            seen = (name, try Self.mode(inner), try FileManager.default.contentsOfDirectory(atPath: inner),
                    try FileManager.default.destinationOfSymbolicLink(atPath: inner + "/model.onnx"))
            #expect(names.count == 1)
            // Moved away, and an empty folder of someone else's put under its name: that one is left alone.
            #expect(rename(inner, scratch + "/moved") == 0 && mkdir(inner, 0o700) == 0)
            return 0
        }
        _ = try hook.during { try FaceEmbedder(modelPath: model, packed: false, scratchFolder: scratch) }
        #expect(hook.fired == 1 && hook.failure == nil, "\(String(describing: hook.failure))")
        let found = try #require(seen)
        #expect(found.name.hasPrefix("tulga-model-\(getpid())-") && found.name.count == "tulga-model-\(getpid())-".count + 6)
        #expect(found.mode == 0o700 && found.entries == ["model.onnx"] && found.link.hasPrefix("/proc/self/fd/"), "\(found)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch).sorted() == ["moved", found.name])
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch + "/moved").isEmpty)  // its link removed through its descriptor
    }

    @Test("what a killed process left (a temporary packed copy, a private load folder) is removed by the next load; a live process's is kept")
    func crashLeftovers() throws {
        let (folder, model, packed) = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let scratch = folder + "/scratch"
        // No process has the pid pid_max (pids are below it); pid 1 is alive.
        let pidMax = Int(try String(contentsOfFile: "/proc/sys/kernel/pid_max", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)) ?? 4_194_304
        let deadFile = packed + ".tmp-\(pidMax)-12345", liveFile = packed + ".tmp-1-12345"
        let deadFolder = scratch + "/tulga-model-\(pidMax)-abcdef", liveFolder = scratch + "/tulga-model-1-abcdef"
        for file in [deadFile, liveFile] { try Data(repeating: 7, count: 1000).write(to: URL(fileURLWithPath: file)) }
        for inner in [deadFolder, liveFolder] {
            try FileManager.default.createDirectory(atPath: inner, withIntermediateDirectories: false)
            try FileManager.default.createSymbolicLink(atPath: inner + "/model.onnx", withDestinationPath: "/proc/self/fd/999")
        }
        #expect(try FaceEmbedder(modelPath: model, scratchFolder: scratch).loadedPath == packed)
        #expect(!FileManager.default.fileExists(atPath: deadFile) && FileManager.default.fileExists(atPath: liveFile))
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch) == ["tulga-model-1-abcdef"])
    }

    @Test("in a models folder that cannot be written, SFace loads from the model itself and says why")
    func readOnlyFolder() throws {
        let (folder, model, packed) = try Self.scratch()
        let scratch = NSTemporaryDirectory() + "tulga-pack-scratch-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: false)
        // Root ignores a folder's mode: the immutable attribute (chattr, e2fsprogs) stops it too.
        func immutable(_ on: Bool) throws {
            if geteuid() != 0 { try FileManager.default.setAttributes([.posixPermissions: on ? 0o555 : 0o755], ofItemAtPath: folder); return }
            let chattr = Process()
            chattr.executableURL = URL(fileURLWithPath: "/usr/bin/chattr")
            chattr.arguments = [on ? "+i" : "-i", folder]
            try chattr.run()
            chattr.waitUntilExit()
            #expect(chattr.terminationStatus == 0)
        }
        try immutable(true)
        defer {
            try? immutable(false)
            try? FileManager.default.removeItem(atPath: folder)
            try? FileManager.default.removeItem(atPath: scratch)
        }
        let embedder = try FaceEmbedder(modelPath: model, scratchFolder: scratch)
        #expect(embedder.loadedPath == model && embedder.packProblem?.contains("cannot write the packed model \(packed).tmp-") == true,
                "\(String(describing: embedder.packProblem))")
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder).sorted() == ["scratch", "sface.onnx"])
    }

    @Test("a packed copy with another link is rewritten; the model itself is never the packed copy")
    func links() throws {
        let (folder, model, packed) = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let original = try Self.bytes(model)
        try FaceEmbedder.pack(model: model, to: packed)
        let good = try Self.bytes(packed)
        #expect(link(packed, folder + "/another-name") == 0)
        let why = try FaceEmbedder.pack(model: model, to: packed)
        #expect(why == "the packed model \(packed) has 2 links (another name could change it)", "\(String(describing: why))")
        #expect(try Self.bytes(packed) == good)
        // The packed path is the model's own path, or a second name of the model's file.
        var error = faceError { _ = try FaceEmbedder.pack(model: model, to: model) }
        #expect(error?.code == .modelUnavailable && error?.reason == "the packed model cannot be the model itself (\(model))", "\(String(describing: error))")
        try FileManager.default.removeItem(atPath: packed)
        #expect(link(model, packed) == 0)
        error = faceError { _ = try FaceEmbedder.pack(model: model, to: packed) }
        #expect(error?.reason == "the packed model \(packed) is the model itself", "\(String(describing: error))")
        let embedder = try FaceEmbedder(modelPath: model, scratchFolder: folder + "/scratch")
        #expect(embedder.loadedPath == model && embedder.packProblem == "the packed model \(packed) is the model itself", "\(String(describing: embedder.packProblem))")
        #expect(try Self.bytes(model) == original)
    }
}
