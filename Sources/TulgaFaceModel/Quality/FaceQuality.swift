/// Pixel statistics of one face box, measured by the vision shim.
public struct PixelStats: Sendable, Hashable, Codable {
    /// Mean grey level, 0...255.
    public var brightness: Double
    /// Share of pixels below 30 and above 240.
    public var darkFraction: Double
    public var brightFraction: Double
    /// Standard deviation of the grey level.
    public var contrast: Double
    /// Variance of the Laplacian with the face scaled to 112 px wide.
    public var sharpness: Double

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
    public var radiusX: Double
    public var radiusY: Double
    public init(radiusX: Double = 0.30, radiusY: Double = 0.42) {
        self.radiusX = radiusX
        self.radiusY = radiusY
    }

    /// Where `point` lies relative to the oval: 0 at the centre, 1 on the rim.
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
    public var minBrightness: Double = 50
    public var maxBrightness: Double = 215
    /// Too much of the face clipped to black or white.
    public var maxDarkFraction: Double = 0.5
    public var maxBrightFraction: Double = 0.3
    public var minSharpness: Double = 15
    /// Largest |yaw| and |pitch| in degrees for a frontal photo.
    public var maxFrontalYaw: Double = 30
    public var maxFrontalPitch: Double = 30
    /// Largest normalised distance of the face centre from the guide oval's centre.
    public var maxOvalDistance: Double = 1.0

    public init() {}
}

/// Why a face cannot be used, in words a person understands.
public enum QualityIssue: String, Sendable, Hashable, Codable, CaseIterable {
    case noFace = "no_face"
    case severalFaces = "several_faces"
    case tooSmall = "face_too_small"
    case tooDark = "too_dark"
    case overexposed = "overexposed"
    case blurred = "too_blurred"
    case notFrontal = "not_frontal"
    case offCentre = "off_centre"

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
    public var pixels: PixelStats
    public var pose: HeadPose
    /// How many faces the frame holds.
    public var faceCount: Int

    public init(sizePixels: Double, ovalDistance: Double, pixels: PixelStats, pose: HeadPose, faceCount: Int) {
        self.sizePixels = sizePixels
        self.ovalDistance = ovalDistance
        self.pixels = pixels
        self.pose = pose
        self.faceCount = faceCount
    }

    /// Issues against `thresholds`, most important first. `requireCentred` adds the oval check.
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
