public import TulgaFaceModel
import CTulgaVision
import Synchronization

/// SFace through cv::FaceRecognizerSF: aligns a face to 112×112 and embeds it.
///
/// Safe to share: one call runs at a time (the network keeps per-net scratch buffers), so a
/// process loads SFace once and every ``FacePipeline`` uses it (see ``FacePipelinePool``).
public final class FaceEmbedder: @unchecked Sendable {
    // Unchecked: `handle` is only used inside `lock`, and never changes after init.
    private let handle: OpaquePointer
    private let lock = Mutex(())

    /// Where the model was loaded from: the packed copy (see ``pack(model:to:)``), or the model itself
    /// when the packed copy could not be written (then ``packProblem`` says why).
    public let loadedPath: String
    /// Why the packed copy could not be used, if it could not.
    public let packProblem: String?
    /// Why the packed copy was written at this load (the file found there was missing, a symbolic link,
    /// owned by another user, writable by others, damaged, or not the pinned bytes), if it was.
    public let repackReason: String?

    /// Loads SFace through its packed copy beside it (``packedPath(for:)``), made or remade first
    /// when missing, stale, damaged or unsafe; from the model itself when that copy cannot be written.
    /// Each file is opened once, not through a symbolic link at its own name, and OpenCV reads the
    /// checked descriptor (`tv_recognizer_create`).
    ///
    /// - Parameters:
    ///   - modelPath: the ONNX file.
    ///   - packed: false loads `modelPath` as it is (for comparisons).
    ///   - scratchFolder: where the private folder OpenCV loads through is made and removed; `nil`: `$TMPDIR`, else `/tmp`.
    ///   - allowUnpinned: true loads a model whose SHA-256 is not SFace's pinned one (tests and experiments
    ///     only: a service must not, or whoever can write its models folder chooses who matches).
    /// - Throws: ``FaceError`` `.modelUnavailable` if the model is missing, unsafe, not the pinned SFace, or cannot be loaded.
    public init(modelPath: String, packed: Bool = true, scratchFolder: String? = nil, allowUnpinned: Bool = false) throws(FaceError) {
        let packedPath = packed ? Self.packedPath(for: modelPath) : ""
        var out: OpaquePointer?
        var report = tv_model_load()
        let flags = allowUnpinned ? Int32(TV_MODEL_ALLOW_UNPINNED.rawValue) : 0
        try check { tv_recognizer_create(modelPath, packedPath, scratchFolder ?? "", flags, &out, &report, $0) }
        guard let out else { throw FaceError(.internalError, "no recognizer") }
        handle = out
        let fromSource = report.origin == TV_MODEL_FROM_SOURCE.rawValue
        loadedPath = fromSource ? modelPath : packedPath
        packProblem = packed && fromSource ? report.pack_problem.text : nil
        repackReason = report.origin == TV_MODEL_FROM_PACKED_WRITTEN.rawValue ? report.repack_reason.text : nil
    }

    /// `face_recognition_sface_2021dec.onnx` → `face_recognition_sface_2021dec.packed.onnx`, beside it.
    public static func packedPath(for modelPath: String) -> String {
        (modelPath.hasSuffix(".onnx") ? String(modelPath.dropLast(5)) : modelPath) + ".packed.onnx"
    }

    /// Re-encodes `model` into `packed` for a smaller load unless `packed` already holds it: OpenCV 4.6
    /// parses SFace's `float_data` weights with about 140 MiB of copies, its packed copy with about
    /// 80 (same values; the one large Gemm split into row blocks). The packed file names the model's
    /// SHA-256 and its own, and SFace's packed bytes are pinned; a stale, damaged, planted or unsafe one
    /// (a symbolic link, owned by another user, writable by its group or others) is rewritten.
    ///
    /// - Parameters:
    ///   - model: the ONNX file.
    ///   - packed: where its packed copy lives.
    /// - Returns: Why the file found at `packed` was rewritten, or `nil` when it was kept.
    /// - Throws: ``FaceError`` `.modelUnavailable` when the model is missing, unsafe, unreadable or not ONNX, or the copy cannot be written.
    @discardableResult
    public static func pack(model: String, to packed: String) throws(FaceError) -> String? {
        var rebuilt: Int32 = 0
        var reason = tv_error()
        try check { tv_model_pack(model, packed, &rebuilt, &reason, $0) }
        return rebuilt == 1 ? reason.text : nil
    }

    /// The SHA-256 (hex) SFace's packed copy must have before its trailer when made from the model whose
    /// SHA-256 is `source`, or `nil` for a model that is not pinned.
    public static func pinnedPackedSHA256(forModel source: String) -> String? {
        tv_model_pinned_body_sha256(source).map { String(cString: $0) }
    }

    /// The models this service loads, as the file names they have in `Models/` and their pinned SHA-256 (hex).
    public static var pinnedModels: [String: String] {
        var pins: [String: String] = [:]
        var index: Int32 = 0
        var name: UnsafePointer<CChar>?
        while let sha = tv_model_pin(index, &name) {
            if let name { pins[String(cString: name)] = String(cString: sha) }
            index += 1
        }
        return pins
    }

    deinit { tv_recognizer_free(handle) }

    /// Aligns the face by its landmarks and embeds it.
    ///
    /// - Parameters:
    ///   - face: the face, in the image's pixel coordinates.
    ///   - image: the decoded picture.
    /// - Returns: The 128-value embedding.
    /// - Throws: ``FaceError`` if alignment or the network fails.
    public func embed(_ face: DetectedFace, in image: Image) throws(FaceError) -> Embedding {
        var values = [Float](repeating: 0, count: 128)
        var f = face.cValue
        try values.withUnsafeMutableBufferPointer { (buffer) throws(FaceError) in
            try lock.withLock { _ throws(FaceError) in
                try check { tv_recognizer_embed(handle, image.handle, &f, buffer.baseAddress, nil, $0) }
            }
        }
        return Embedding(values)
    }

    /// The 112×112 aligned crop SFace sees.
    ///
    /// - Parameters:
    ///   - face: the face, in the image's pixel coordinates.
    ///   - image: the decoded picture.
    /// - Returns: The crop as an image.
    /// - Throws: ``FaceError`` if alignment fails.
    public func alignedCrop(_ face: DetectedFace, in image: Image) throws(FaceError) -> Image { try embeddedCrop(face, in: image).crop }

    /// The embedding and the 112×112 aligned crop it was made from, in one pass of the network.
    ///
    /// - Parameters:
    ///   - face: the face, in the image's pixel coordinates.
    ///   - image: the decoded picture.
    /// - Returns: The 128-value embedding and the crop.
    /// - Throws: ``FaceError`` if alignment or the network fails.
    public func embeddedCrop(_ face: DetectedFace, in image: Image) throws(FaceError) -> (embedding: Embedding, crop: Image) {
        var values = [Float](repeating: 0, count: 128)
        var f = face.cValue
        var crop: OpaquePointer?
        try values.withUnsafeMutableBufferPointer { (buffer) throws(FaceError) in
            try lock.withLock { _ throws(FaceError) in
                try check { tv_recognizer_embed(handle, image.handle, &f, buffer.baseAddress, &crop, $0) }
            }
        }
        guard let crop else { throw FaceError(.internalError, "no crop") }
        return (Embedding(values), Image(handle: crop))
    }
}
