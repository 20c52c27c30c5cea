public import TulgaCore
public import TulgaFace

/// What one camera frame shows of a document: whether a page is in it, where, how bright it is and
/// how much of it is blown out by glare.
public struct DocumentFrameMeasure: Sendable, Hashable {
    /// Whether a card- or page-shaped quadrilateral was found.
    public var found: Bool
    /// Its corners in the frame (x, y four times: top-left, top-right, bottom-right, bottom-left).
    public var corners: [Double]
    /// The page's mean luma, 0–255.
    public var brightness: Double
    /// The share of the page's pixels with every channel at 250 or more.
    public var glare: Double
    /// The whole frame's mean luma, 0–255, and its share of saturated pixels (a frame too dark, or
    /// too blown out, to find a page in says so).
    public var frameBrightness: Double, frameGlare: Double

    /// Creates a measure.
    ///
    /// - Parameters:
    ///   - found: whether a page was found.
    ///   - corners: its corners (8 values), or empty.
    ///   - brightness: the page's mean luma.
    ///   - glare: the share of saturated pixels.
    ///   - frameBrightness: the whole frame's mean luma.
    ///   - frameGlare: the whole frame's share of saturated pixels.
    public init(found: Bool, corners: [Double] = [], brightness: Double = 0, glare: Double = 0, frameBrightness: Double = 128, frameGlare: Double = 0) {
        (self.found, self.corners, self.brightness, self.glare) = (found, corners, brightness, glare)
        (self.frameBrightness, self.frameGlare) = (frameBrightness, frameGlare)
    }

    /// No page in a frame of ordinary light.
    public static let none = DocumentFrameMeasure(found: false)

    /// Measures a frame: the page (flattened small, which is enough for light), its brightness and glare.
    ///
    /// - Parameter image: the camera frame.
    /// - Returns: The measure; a frame without a page, or one the shim cannot read, is ``none``.
    public static func measure(_ image: Image) -> DocumentFrameMeasure {
        guard let bgr = try? image.bgrBytes() else { return .none }
        // Every 7th pixel is enough for the frame's light.
        let frame = light(bgr, step: 7)
        guard let page = try? findPage(bgr: bgr, width: image.width, height: image.height, outWidth: 320) else {
            return DocumentFrameMeasure(found: false, frameBrightness: frame.brightness, frameGlare: frame.glare)
        }
        let (brightness, glare) = light(page.pixels, step: 1)
        return DocumentFrameMeasure(found: true, corners: page.corners, brightness: brightness, glare: glare, frameBrightness: frame.brightness,
                                    frameGlare: frame.glare)
    }

    /// Mean luma and the share of saturated pixels of packed BGR, every `step`-th pixel.
    static func light(_ bgr: [UInt8], step: Int) -> (brightness: Double, glare: Double) {
        var sum = 0.0, saturated = 0, n = 0
        for i in stride(from: 0, to: bgr.count - 2, by: 3 * step) {
            let (b, g, r) = (bgr[i], bgr[i + 1], bgr[i + 2])
            sum += 0.114 * Double(b) + 0.587 * Double(g) + 0.299 * Double(r)
            if min(b, g, r) >= 250 { saturated += 1 }
            n += 1
        }
        return (sum / Double(max(1, n)), Double(saturated) / Double(max(1, n)))
    }
}

/// Guidance while a document is held to the camera.
public enum DocumentHint: String, Sendable, Hashable, Codable, CaseIterable {
    /// `inFrame`: no document found; `holdStill`: it moved; `tooDark`: too little light; `glare`: blown-out highlights.
    case inFrame = "in_frame", holdStill = "hold_still", tooDark = "too_dark", glare

    /// The catalogue entry for this hint.
    public var message: MessageKey {
        switch self {
        case .inFrame: .documentInFrame
        case .holdStill: .documentHoldStill
        case .tooDark: .documentTooDark
        case .glare: .documentGlare
        }
    }
}

/// When a frame is good enough to keep.
public struct DocumentCaptureSettings: Sendable, Hashable, Codable {
    /// A page darker than this mean luma is too dark.
    public var darkBelow = 70.0
    /// A page with more than this share of saturated pixels has glare.
    public var glareAbove = 0.04
    /// Frames in a row the page must keep still (good light, no glare) before it is taken.
    public var steadyFrames = 3
    /// How far a corner may move between frames and still be still, as a share of the page's diagonal.
    public var steadyTolerance = 0.02
    /// The defaults.
    public init() {}
}

/// Taking each side of a document from a camera, pure: frame measures in, guidance and the moment
/// to take the photo out. A side is taken once the page has been found, lit and free of glare, and
/// still, for ``DocumentCaptureSettings/steadyFrames`` frames in a row; the next side waits until
/// the document has left the frame or moved (it was turned over).
///
/// ```swift
/// var capture = DocumentCapture()
/// for frame in frames {
///     if capture.observe(DocumentFrameMeasure.measure(frame.image)) { keep(frame); capture.nextSide() }
///     show(capture.hints)
/// }
/// ```
public struct DocumentCapture: Sendable, Hashable {
    /// The settings.
    public let settings: DocumentCaptureSettings
    /// What to tell the person after the last frame.
    public private(set) var hints: [DocumentHint] = [.inFrame]
    private var steady = 0
    private var last: [Double]?
    private var taken: [Double]?

    /// Starts with nothing seen.
    ///
    /// - Parameter settings: the thresholds.
    public init(settings: DocumentCaptureSettings = DocumentCaptureSettings()) { self.settings = settings }

    /// Takes one frame's measure.
    ///
    /// - Parameter m: the frame's measure.
    /// - Returns: Whether this frame is the photo to keep.
    public mutating func observe(_ m: DocumentFrameMeasure) -> Bool {
        guard m.found, m.corners.count == 8 else {
            // Too dark, or too blown out, to find anything is said as such.
            let hint: DocumentHint = m.frameBrightness < settings.darkBelow ? .tooDark : m.frameGlare > settings.glareAbove ? .glare : .inFrame
            (hints, steady, last, taken) = ([hint], 0, nil, nil)
            return false
        }
        // The side just taken, still in view: wait for it to be turned over.
        if let taken, Self.moved(taken, m.corners) <= settings.steadyTolerance {
            (hints, last) = ([], m.corners)
            return false
        }
        taken = nil
        var problems: [DocumentHint] = []
        if m.brightness < settings.darkBelow { problems.append(.tooDark) }
        if m.glare > settings.glareAbove { problems.append(.glare) }
        let still = last.map { Self.moved($0, m.corners) <= settings.steadyTolerance } ?? false
        last = m.corners
        guard problems.isEmpty else {
            (hints, steady) = (problems, 0)
            return false
        }
        steady = still ? steady + 1 : 1
        hints = steady >= settings.steadyFrames ? [] : [.holdStill]
        return steady >= settings.steadyFrames
    }

    /// After a side was taken: the next one waits for the document to leave the frame or move.
    public mutating func nextSide() {
        (taken, steady, hints) = (last, 0, [])
    }

    /// The largest corner movement between two quadrilaterals, as a share of the first's diagonal.
    static func moved(_ a: [Double], _ b: [Double]) -> Double {
        let diagonal = ((a[4] - a[0]) * (a[4] - a[0]) + (a[5] - a[1]) * (a[5] - a[1])).squareRoot()
        var most = 0.0
        for i in stride(from: 0, to: 8, by: 2) { most = max(most, ((a[i] - b[i]) * (a[i] - b[i]) + (a[i + 1] - b[i + 1]) * (a[i + 1] - b[i + 1])).squareRoot()) }
        return most / max(diagonal, 1)
    }
}
