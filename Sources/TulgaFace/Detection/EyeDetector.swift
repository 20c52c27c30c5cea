public import TulgaFaceModel
import CTulgaVision

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
