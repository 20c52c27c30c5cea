public import TulgaFaceModel
import CTulgaVision

/// Pixel statistics of a face box.
///
/// - Parameters:
///   - face: the face, in the image's (decoded) pixel coordinates.
///   - image: the decoded picture.
/// - Returns: Brightness, dark and bright shares, contrast and sharpness.
/// - Throws: ``FaceError`` `.invalidArgument` for an empty image or a box outside it.
public func measurePixels(of face: DetectedFace, in image: Image) throws(FaceError) -> PixelStats {
    var f = face.cValue
    var q = tv_face_quality()
    try check { tv_face_quality_measure(image.handle, &f, &q, $0) }
    return PixelStats(brightness: Double(q.brightness), darkFraction: Double(q.dark_fraction), brightFraction: Double(q.bright_fraction),
                      contrast: Double(q.contrast), sharpness: Double(q.sharpness))
}

/// Threads OpenCV may use inside one call; 0 restores OpenCV's default.
///
/// - Parameter count: the thread count; 1 keeps each call on its calling thread.
public func setVisionThreads(_ count: Int) { tv_set_num_threads(Int32(clamping: count)) }

/// The OpenCV version the shim was built against.
public var openCVVersion: String { String(cString: tv_opencv_version()) }
