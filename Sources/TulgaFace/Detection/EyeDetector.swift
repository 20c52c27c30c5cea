public import TulgaFaceModel
import CTulgaVision

/// Counts open eyes in the upper half of a face with a Haar cascade (Debian's opencv-data).
///
/// Used for blink prompts only; not thread-safe.
public final class EyeDetector {
    private let handle: OpaquePointer
    /// Debian's `haarcascade_eye_tree_eyeglasses.xml`.
    public static let defaultCascade = "/usr/share/opencv4/haarcascades/haarcascade_eye_tree_eyeglasses.xml"

    /// Loads the cascade.
    ///
    /// - Parameter cascadePath: the cascade XML file.
    /// - Throws: ``FaceError`` `.modelUnavailable` if it cannot be loaded.
    public init(cascadePath: String = EyeDetector.defaultCascade) throws(FaceError) {
        var out: OpaquePointer?
        try check { tv_eye_detector_create(cascadePath, &out, $0) }
        guard let out else { throw FaceError(.internalError, "no eye detector") }
        handle = out
    }

    deinit { tv_eye_detector_free(handle) }

    /// Counts the open eyes the cascade finds in the face's upper half.
    ///
    /// - Parameters:
    ///   - face: the face, in the image's pixel coordinates.
    ///   - image: the decoded picture.
    /// - Returns: 0, 1 or 2 (capped at 2).
    /// - Throws: ``FaceError`` `.invalidArgument` if the face box is too small for eyes.
    public func openEyes(_ face: DetectedFace, in image: Image) throws(FaceError) -> Int {
        var f = face.cValue
        var count: Int32 = 0
        try check { tv_eye_detector_count(handle, image.handle, &f, &count, $0) }
        return Int(count)
    }
}
