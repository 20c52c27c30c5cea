import Foundation

/// A point in image pixels.
public struct Point: Sendable, Hashable, Codable {
    /// Pixels from the left edge.
    public var x: Double
    /// Pixels from the top edge.
    public var y: Double
    /// Creates a point.
    ///
    /// - Parameters:
    ///   - x: pixels from the left edge.
    ///   - y: pixels from the top edge.
    public init(x: Double, y: Double) { self.x = x; self.y = y }
}

/// An axis-aligned rectangle in image pixels.
public struct Rect: Sendable, Hashable, Codable {
    /// The left edge, in pixels.
    public var x: Double
    /// The top edge, in pixels.
    public var y: Double
    /// The width in pixels.
    public var width: Double
    /// The height in pixels.
    public var height: Double
    /// Creates a rectangle from its top-left corner and size.
    ///
    /// - Parameters:
    ///   - x: the left edge.
    ///   - y: the top edge.
    ///   - width: the width.
    ///   - height: the height.
    public init(x: Double, y: Double, width: Double, height: Double) {
        self.x = x; self.y = y; self.width = width; self.height = height
    }
    /// The centre point.
    public var centre: Point { Point(x: x + width / 2, y: y + height / 2) }
    /// The area in square pixels; zero when the width or height is negative.
    public var area: Double { max(0, width) * max(0, height) }
}

/// One face found by the detector.
///
/// Landmarks are in YuNet's order: right eye, left eye, nose tip, right mouth corner,
/// left mouth corner (the subject's right eye appears on the image's left).
public struct DetectedFace: Sendable, Hashable, Codable {
    /// The face's bounding box.
    public var box: Rect
    /// The five landmarks, in YuNet's order (see the type comment).
    public var landmarks: [Point]
    /// The detector's confidence, 0...1.
    public var score: Double

    /// Creates a face from detector output.
    ///
    /// - Parameters:
    ///   - box: the bounding box.
    ///   - landmarks: five points in YuNet's order; the accessors below assume all five.
    ///   - score: the detector's confidence, 0...1.
    public init(box: Rect, landmarks: [Point], score: Double) {
        self.box = box
        self.landmarks = landmarks
        self.score = score
    }

    /// The subject's right eye (on the image's left).
    public var rightEye: Point { landmarks[0] }
    /// The subject's left eye (on the image's right).
    public var leftEye: Point { landmarks[1] }
    /// The nose tip.
    public var nose: Point { landmarks[2] }
    /// The subject's right mouth corner.
    public var rightMouth: Point { landmarks[3] }
    /// The subject's left mouth corner.
    public var leftMouth: Point { landmarks[4] }

    /// Head pose estimated from the five landmarks.
    public var pose: HeadPose { HeadPose(face: self) }
}

/// Head pose from five landmarks, in degrees.
///
/// - `yaw` > 0: the subject turns to their right (the nose moves toward the image's left).
/// - `pitch` > 0: the subject looks up.
/// - `roll` > 0: the head tilts clockwise in the image.
///
/// The raw ratios behind the angles are kept: `yawRatio` is (nose x − eye-midpoint x) / eye
/// distance, `pitchRatio` is (nose y − eye-midpoint y) / (mouth-midpoint y − eye-midpoint y).
/// The angles use a simple model (nose depth ≈ 0.55 × eye distance) and are approximate;
/// liveness compares them with the subject's own baseline.
public struct HeadPose: Sendable, Hashable, Codable {
    /// Degrees; positive when the subject turns to their right.
    public var yaw: Double
    /// Degrees; positive when the subject looks up.
    public var pitch: Double
    /// Degrees; positive when the head tilts clockwise in the image.
    public var roll: Double
    /// (nose x − eye-midpoint x) / eye distance, measured along the eye line.
    public var yawRatio: Double
    /// (nose y − eye-midpoint y) / (mouth-midpoint y − eye-midpoint y), measured across the eye line.
    public var pitchRatio: Double

    /// Nose depth over eye distance in the projection model.
    public static let noseDepth = 0.55
    /// `pitchRatio` of a frontal face, looking straight ahead.
    public static let neutralPitchRatio = 0.58

    /// A pose given directly (ratios derived from the same model).
    ///
    /// - Parameters:
    ///   - yaw: degrees, positive to the subject's right.
    ///   - pitch: degrees, positive looking up.
    ///   - roll: degrees, positive clockwise.
    public init(yaw: Double, pitch: Double, roll: Double = 0) {
        self.yaw = yaw
        self.pitch = pitch
        self.roll = roll
        yawRatio = -tan(yaw * .pi / 180) * HeadPose.noseDepth
        pitchRatio = HeadPose.neutralPitchRatio - tan(pitch * .pi / 180) * HeadPose.noseDepth
    }

    /// Estimates the pose from a face's five landmarks.
    ///
    /// Yaw and pitch are measured along and across the eye line, so roll does not leak into them.
    ///
    /// - Parameter face: a detected face with five landmarks.
    public init(face: DetectedFace) {
        let re = face.rightEye, le = face.leftEye, n = face.nose
        let eyeMid = Point(x: (re.x + le.x) / 2, y: (re.y + le.y) / 2)
        let mouthMid = Point(x: (face.rightMouth.x + face.leftMouth.x) / 2, y: (face.rightMouth.y + face.leftMouth.y) / 2)
        let dx = le.x - re.x, dy = le.y - re.y
        let eyeDistance = max(1e-6, (dx * dx + dy * dy).squareRoot())
        // Measure along the eye line and across it, so roll does not leak into yaw and pitch.
        let ux = dx / eyeDistance, uy = dy / eyeDistance
        let nx = n.x - eyeMid.x, ny = n.y - eyeMid.y
        let along = nx * ux + ny * uy
        let across = -nx * uy + ny * ux
        let mx = mouthMid.x - eyeMid.x, my = mouthMid.y - eyeMid.y
        let mouthAcross = max(1e-6, -mx * uy + my * ux)
        yawRatio = along / eyeDistance
        pitchRatio = across / mouthAcross
        yaw = -atan(yawRatio / HeadPose.noseDepth) * 180 / .pi
        pitch = -atan((pitchRatio - HeadPose.neutralPitchRatio) / HeadPose.noseDepth) * 180 / .pi
        roll = atan2(dy, dx) * 180 / .pi
    }
}
