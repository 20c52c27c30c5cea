import Foundation

/// A point in image pixels.
public struct Point: Sendable, Hashable, Codable {
    public var x: Double
    public var y: Double
    public init(x: Double, y: Double) { self.x = x; self.y = y }
}

/// An axis-aligned rectangle in image pixels.
public struct Rect: Sendable, Hashable, Codable {
    public var x: Double
    public var y: Double
    public var width: Double
    public var height: Double
    public init(x: Double, y: Double, width: Double, height: Double) {
        self.x = x; self.y = y; self.width = width; self.height = height
    }
    public var centre: Point { Point(x: x + width / 2, y: y + height / 2) }
    public var area: Double { max(0, width) * max(0, height) }
}

/// One face found by the detector.
///
/// Landmarks are in YuNet's order: right eye, left eye, nose tip, right mouth corner,
/// left mouth corner (the subject's right eye appears on the image's left).
public struct DetectedFace: Sendable, Hashable, Codable {
    public var box: Rect
    public var landmarks: [Point]
    public var score: Double

    public init(box: Rect, landmarks: [Point], score: Double) {
        self.box = box
        self.landmarks = landmarks
        self.score = score
    }

    public var rightEye: Point { landmarks[0] }
    public var leftEye: Point { landmarks[1] }
    public var nose: Point { landmarks[2] }
    public var rightMouth: Point { landmarks[3] }
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
    public var yaw: Double
    public var pitch: Double
    public var roll: Double
    public var yawRatio: Double
    public var pitchRatio: Double

    /// Nose depth over eye distance in the projection model.
    public static let noseDepth = 0.55
    /// `pitchRatio` of a frontal face, looking straight ahead.
    public static let neutralPitchRatio = 0.58

    /// A pose given directly (ratios derived from the same model).
    public init(yaw: Double, pitch: Double, roll: Double = 0) {
        self.yaw = yaw
        self.pitch = pitch
        self.roll = roll
        yawRatio = -tan(yaw * .pi / 180) * HeadPose.noseDepth
        pitchRatio = HeadPose.neutralPitchRatio - tan(pitch * .pi / 180) * HeadPose.noseDepth
    }

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
