/// Pixel statistics of one face box, measured by the vision shim.
public struct PixelStats: Sendable, Hashable, Codable {
    /// Mean grey level, 0...255.
    public var brightness: Double
    /// Share of pixels below 30 and above 240.
    public var darkFraction: Double
    /// Share of pixels above 240.
    public var brightFraction: Double
    /// Standard deviation of the grey level.
    public var contrast: Double
    /// Variance of the Laplacian with the face scaled to 112 px wide.
    public var sharpness: Double

    /// Creates the statistics; the vision shim fills them.
    ///
    /// - Parameters:
    ///   - brightness: mean grey level, 0...255.
    ///   - darkFraction: share of pixels below 30.
    ///   - brightFraction: share of pixels above 240.
    ///   - contrast: standard deviation of the grey level.
    ///   - sharpness: variance of the Laplacian at 112 px face width.
    public init(brightness: Double, darkFraction: Double, brightFraction: Double, contrast: Double, sharpness: Double) {
        self.brightness = brightness
        self.darkFraction = darkFraction
        self.brightFraction = brightFraction
        self.contrast = contrast
        self.sharpness = sharpness
    }
}

/// The centred guide oval a kiosk draws: its centre is the frame's centre, its radii are
/// fractions of the frame's width and height.
public struct GuideOval: Sendable, Hashable, Codable {
    /// Horizontal radius as a fraction of the frame's width.
    public var radiusX: Double
    /// Vertical radius as a fraction of the frame's height.
    public var radiusY: Double
    /// Creates an oval.
    ///
    /// - Parameters:
    ///   - radiusX: horizontal radius as a fraction of the frame's width.
    ///   - radiusY: vertical radius as a fraction of the frame's height.
    public init(radiusX: Double = 0.30, radiusY: Double = 0.42) {
        self.radiusX = radiusX
        self.radiusY = radiusY
    }

    /// Where `point` lies relative to the oval: 0 at the centre, 1 on the rim.
    ///
    /// - Parameters:
    ///   - point: a point in image pixels, usually the face box's centre.
    ///   - frameWidth: the frame's width in pixels.
    ///   - frameHeight: the frame's height in pixels.
    /// - Returns: 0 at the centre, 1 on the rim, more than 1 outside.
    public func normalizedDistance(of point: Point, frameWidth: Int, frameHeight: Int) -> Double {
        let dx = (point.x - Double(frameWidth) / 2) / (radiusX * Double(frameWidth))
        let dy = (point.y - Double(frameHeight) / 2) / (radiusY * Double(frameHeight))
        return (dx * dx + dy * dy).squareRoot()
    }
}

/// Thresholds that make a face unusable; defaults suit a selfie or a registry photo.
public struct QualityThresholds: Sendable, Hashable, Codable {
    /// Smallest face box side, in pixels of the original image.
    public var minFaceSize: Double = 40
    /// Lowest mean grey level, 0...255.
    public var minBrightness: Double = 50
    /// Highest mean grey level, 0...255.
    public var maxBrightness: Double = 215
    /// Too much of the face clipped to black or white.
    public var maxDarkFraction: Double = 0.5
    /// Largest share of pixels above 240.
    public var maxBrightFraction: Double = 0.3
    /// Lowest Laplacian variance (see ``PixelStats/sharpness``).
    public var minSharpness: Double = 15
    /// Largest |yaw| and |pitch| in degrees for a frontal photo.
    public var maxFrontalYaw: Double = 30
    /// Largest |pitch| in degrees for a frontal photo.
    public var maxFrontalPitch: Double = 30
    /// Largest normalised distance of the face centre from the guide oval's centre.
    public var maxOvalDistance: Double = 1.0

    /// The defaults, for a selfie or a registry photo.
    public init() {}
}

/// Why a face cannot be used, in words a person understands.
public enum QualityIssue: String, Sendable, Hashable, Codable, CaseIterable {
    /// No face was found.
    case noFace = "no_face"
    /// More than one face is in the picture.
    case severalFaces = "several_faces"
    /// The face box is smaller than ``QualityThresholds/minFaceSize``.
    case tooSmall = "face_too_small"
    /// Too dark, or too much of the face is black.
    case tooDark = "too_dark"
    /// Too bright, or too much of the face is white.
    case overexposed = "overexposed"
    /// Not sharp enough.
    case blurred = "too_blurred"
    /// The head is turned or tilted too far for a frontal photo.
    case notFrontal = "not_frontal"
    /// The face is outside the guide oval.
    case offCentre = "off_centre"

    /// A lower-case English phrase for a person, e.g. "the picture is too dark".
    public var explanation: String {
        switch self {
        case .noFace: "no face was found"
        case .severalFaces: "more than one face is in the picture"
        case .tooSmall: "the face is too small"
        case .tooDark: "the picture is too dark"
        case .overexposed: "the picture is overexposed"
        case .blurred: "the picture is too blurred"
        case .notFrontal: "the face is not turned to the camera"
        case .offCentre: "the face is not in the centre of the oval"
        }
    }
}

/// Everything measured about one face in one frame.
public struct FaceQuality: Sendable, Hashable, Codable {
    /// The shorter side of the box, in pixels of the original image.
    public var sizePixels: Double
    /// Distance of the box centre from the guide oval's centre (0 centre, 1 rim).
    public var ovalDistance: Double
    /// Brightness, contrast and sharpness of the face box.
    public var pixels: PixelStats
    /// The head pose from the landmarks.
    public var pose: HeadPose
    /// How many faces the frame holds.
    public var faceCount: Int

    /// Creates a measurement.
    ///
    /// - Parameters:
    ///   - sizePixels: the shorter side of the box, in pixels of the original image.
    ///   - ovalDistance: distance of the box centre from the guide oval's centre.
    ///   - pixels: the face box's pixel statistics.
    ///   - pose: the head pose.
    ///   - faceCount: how many faces the frame holds.
    public init(sizePixels: Double, ovalDistance: Double, pixels: PixelStats, pose: HeadPose, faceCount: Int) {
        self.sizePixels = sizePixels
        self.ovalDistance = ovalDistance
        self.pixels = pixels
        self.pose = pose
        self.faceCount = faceCount
    }

    /// Issues against `thresholds`, most important first. `requireCentred` adds the oval check.
    ///
    /// `noFace` is never returned here: a measurement needs a face.
    ///
    /// - Parameters:
    ///   - thresholds: the limits to check.
    ///   - requireCentred: also check the guide oval (kiosk and liveness frames).
    ///   - requireFrontal: also check yaw and pitch (registry photos, selfies).
    /// - Returns: The issues found, most important first; empty when the face is usable.
    public func issues(_ thresholds: QualityThresholds, requireCentred: Bool = false, requireFrontal: Bool = false) -> [QualityIssue] {
        var found: [QualityIssue] = []
        if faceCount > 1 { found.append(.severalFaces) }
        if sizePixels < thresholds.minFaceSize { found.append(.tooSmall) }
        if pixels.brightness < thresholds.minBrightness || pixels.darkFraction > thresholds.maxDarkFraction {
            found.append(.tooDark)
        }
        if pixels.brightness > thresholds.maxBrightness || pixels.brightFraction > thresholds.maxBrightFraction {
            found.append(.overexposed)
        }
        if pixels.sharpness < thresholds.minSharpness { found.append(.blurred) }
        if requireFrontal, abs(pose.yaw) > thresholds.maxFrontalYaw || abs(pose.pitch) > thresholds.maxFrontalPitch {
            found.append(.notFrontal)
        }
        if requireCentred, ovalDistance > thresholds.maxOvalDistance { found.append(.offCentre) }
        return found
    }
}
