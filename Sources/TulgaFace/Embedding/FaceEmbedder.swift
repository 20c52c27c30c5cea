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

    /// Loads SFace through its packed copy beside it (``packedPath(for:)``), made or remade first
    /// when missing, stale or damaged; from the model itself when that copy cannot be written.
    ///
    /// - Parameters:
    ///   - modelPath: the ONNX file.
    ///   - packed: false loads `modelPath` as it is (for comparisons).
    /// - Throws: ``FaceError`` `.modelUnavailable` if the model cannot be loaded.
    public init(modelPath: String, packed: Bool = true) throws(FaceError) {
        var path = modelPath, problem: String?
        if packed {
            do {
                _ = try Self.pack(model: modelPath, to: Self.packedPath(for: modelPath))
                path = Self.packedPath(for: modelPath)
            } catch { problem = error.reason }
        }
        var out: OpaquePointer?
        try check { tv_recognizer_create(path, &out, $0) }
        guard let out else { throw FaceError(.internalError, "no recognizer") }
        handle = out
        (loadedPath, packProblem) = (path, problem)
    }

    /// `face_recognition_sface_2021dec.onnx` → `face_recognition_sface_2021dec.packed.onnx`, beside it.
    public static func packedPath(for modelPath: String) -> String {
        (modelPath.hasSuffix(".onnx") ? String(modelPath.dropLast(5)) : modelPath) + ".packed.onnx"
    }

    /// Re-encodes `model` into `packed` for a smaller load unless `packed` already holds it: OpenCV 4.6
    /// parses SFace's `float_data` weights with about 140 MiB of copies, its packed copy with about
    /// 80 (same values; the one large Gemm split into row blocks). The packed file names the model's
    /// SHA-256 and its own; a stale or damaged one is rewritten.
    ///
    /// - Parameters:
    ///   - model: the ONNX file.
    ///   - packed: where its packed copy lives.
    /// - Returns: Whether the packed copy was (re)written.
    /// - Throws: ``FaceError`` `.modelUnavailable` when the model cannot be read or parsed, or the copy cannot be written.
    public static func pack(model: String, to packed: String) throws(FaceError) -> Bool {
        var rebuilt: Int32 = 0
        try check { tv_model_pack(model, packed, &rebuilt, $0) }
        return rebuilt == 1
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
