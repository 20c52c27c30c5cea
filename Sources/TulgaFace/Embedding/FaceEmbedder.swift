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

    /// Loads SFace.
    ///
    /// - Parameter modelPath: the ONNX file.
    /// - Throws: ``FaceError`` `.modelUnavailable` if the model cannot be loaded.
    public init(modelPath: String) throws(FaceError) {
        var out: OpaquePointer?
        try check { tv_recognizer_create(modelPath, &out, $0) }
        guard let out else { throw FaceError(.internalError, "no recognizer") }
        handle = out
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
