public import TulgaFaceModel
import CTulgaVision

/// Detection settings.
public struct DetectionSettings: Sendable, Hashable, Codable {
    /// Faces scoring below this are dropped (YuNet score, 0...1).
    public var scoreThreshold: Double = 0.7
    /// Overlap (IoU) above which the weaker of two boxes is suppressed.
    public var nmsThreshold: Double = 0.3
    /// Candidates kept before NMS.
    public var topK: Int = 5000
    /// The detector sees a copy whose long side is at most this many pixels (0: original size).
    public var longSide: Int = 320
    /// The defaults: score 0.7, NMS 0.3, top 5000, long side 320.
    public init() {}
}

/// YuNet 2023mar run through cv::dnn and decoded in the shim.
///
/// Not thread-safe: use one detector per thread, or go through ``FacePipeline``.
public final class FaceDetector {
    private let handle: OpaquePointer
    /// The thresholds and input size; may be changed between calls.
    public var settings: DetectionSettings

    /// Loads YuNet from one read of the file, opened once (not through a symbolic link at its own
    /// name) and checked like SFace's (owner, mode, folder, pinned SHA-256).
    ///
    /// - Parameters:
    ///   - modelPath: the ONNX file.
    ///   - settings: thresholds and input size.
    ///   - allowUnpinned: true loads a model whose SHA-256 is not YuNet's pinned one (tests and experiments only).
    /// - Throws: ``FaceError`` `.modelUnavailable` if the model is missing, unsafe, not the pinned YuNet, or cannot be loaded.
    public init(modelPath: String, settings: DetectionSettings = DetectionSettings(), allowUnpinned: Bool = false) throws(FaceError) {
        var out: OpaquePointer?
        let flags = allowUnpinned ? Int32(TV_MODEL_ALLOW_UNPINNED.rawValue) : 0
        try check { tv_detector_create(modelPath, flags, &out, $0) }
        guard let out else { throw FaceError(.internalError, "no detector") }
        handle = out
        self.settings = settings
    }

    deinit { tv_detector_free(handle) }

    /// Faces in `image`, best first, in the image's pixel coordinates.
    ///
    /// - Parameters:
    ///   - image: the decoded picture.
    ///   - capacity: the most faces returned.
    /// - Returns: The faces above ``DetectionSettings/scoreThreshold``.
    /// - Throws: ``FaceError`` if the network fails.
    public func detect(_ image: Image, capacity: Int = 16) throws(FaceError) -> [DetectedFace] {
        var faces = [tv_face](repeating: tv_face(), count: max(1, capacity))
        var count: Int32 = 0
        let s = settings
        try faces.withUnsafeMutableBufferPointer { (buffer) throws(FaceError) in
            try check {
                tv_detector_detect(handle, image.handle, Int32(clamping: s.longSide), Float(s.scoreThreshold), Float(s.nmsThreshold),
                                   Int32(clamping: s.topK), buffer.baseAddress, Int32(buffer.count), &count, $0)
            }
        }
        return faces.prefix(min(Int(count), faces.count)).map(DetectedFace.init)
    }
}
