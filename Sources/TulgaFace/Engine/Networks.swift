public import TulgaFaceModel
internal import CTulgaVision

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
    public init() {}
}

/// YuNet 2023mar run through cv::dnn and decoded in the shim.
///
/// Not thread-safe: use one detector per thread, or go through ``FacePipeline``.
public final class FaceDetector {
    private let handle: OpaquePointer
    public var settings: DetectionSettings

    public init(modelPath: String, settings: DetectionSettings = DetectionSettings()) throws(FaceError) {
        var out: OpaquePointer?
        try check { tv_detector_create(modelPath, &out, $0) }
        guard let out else { throw FaceError(.internalError, "no detector") }
        handle = out
        self.settings = settings
    }

    deinit { tv_detector_free(handle) }

    /// Faces in `image`, best first, in the image's pixel coordinates.
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

/// SFace through cv::FaceRecognizerSF: aligns a face to 112×112 and embeds it.
///
/// Not thread-safe: use one embedder per thread, or go through ``FacePipeline``.
public final class FaceEmbedder {
    private let handle: OpaquePointer

    public init(modelPath: String) throws(FaceError) {
        var out: OpaquePointer?
        try check { tv_recognizer_create(modelPath, &out, $0) }
        guard let out else { throw FaceError(.internalError, "no recognizer") }
        handle = out
    }

    deinit { tv_recognizer_free(handle) }

    public func embed(_ face: DetectedFace, in image: Image) throws(FaceError) -> Embedding {
        var values = [Float](repeating: 0, count: 128)
        var f = face.cValue
        try values.withUnsafeMutableBufferPointer { (buffer) throws(FaceError) in
            try check { tv_recognizer_embed(handle, image.handle, &f, buffer.baseAddress, nil, $0) }
        }
        return Embedding(values)
    }

    /// The 112×112 aligned crop SFace sees.
    public func alignedCrop(_ face: DetectedFace, in image: Image) throws(FaceError) -> Image {
        var values = [Float](repeating: 0, count: 128)
        var f = face.cValue
        var crop: OpaquePointer?
        try values.withUnsafeMutableBufferPointer { (buffer) throws(FaceError) in
            try check { tv_recognizer_embed(handle, image.handle, &f, buffer.baseAddress, &crop, $0) }
        }
        guard let crop else { throw FaceError(.internalError, "no crop") }
        return Image(handle: crop)
    }
}

/// Counts open eyes in the upper half of a face with a Haar cascade (Debian's opencv-data).
public final class EyeDetector {
    private let handle: OpaquePointer
    public static let defaultCascade = "/usr/share/opencv4/haarcascades/haarcascade_eye_tree_eyeglasses.xml"

    public init(cascadePath: String = EyeDetector.defaultCascade) throws(FaceError) {
        var out: OpaquePointer?
        try check { tv_eye_detector_create(cascadePath, &out, $0) }
        guard let out else { throw FaceError(.internalError, "no eye detector") }
        handle = out
    }

    deinit { tv_eye_detector_free(handle) }

    public func openEyes(_ face: DetectedFace, in image: Image) throws(FaceError) -> Int {
        var f = face.cValue
        var count: Int32 = 0
        try check { tv_eye_detector_count(handle, image.handle, &f, &count, $0) }
        return Int(count)
    }
}

/// Pixel statistics of a face box.
public func measurePixels(of face: DetectedFace, in image: Image) throws(FaceError) -> PixelStats {
    var f = face.cValue
    var q = tv_face_quality()
    try check { tv_face_quality_measure(image.handle, &f, &q, $0) }
    return PixelStats(brightness: Double(q.brightness), darkFraction: Double(q.dark_fraction), brightFraction: Double(q.bright_fraction),
                      contrast: Double(q.contrast), sharpness: Double(q.sharpness))
}

/// Threads OpenCV may use inside one call; 0 restores OpenCV's default.
public func setVisionThreads(_ count: Int) { tv_set_num_threads(Int32(clamping: count)) }

/// The OpenCV version the shim was built against.
public var openCVVersion: String { String(cString: tv_opencv_version()) }
