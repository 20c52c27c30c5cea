public import TulgaFaceModel
public import Foundation
import CTulgaVision

/// Limits applied before and during decoding.
public struct DecodeLimits: Sendable, Hashable, Codable {
    /// Refuse images whose header announces more pixels than this (checked before allocating).
    public var maxPixels: Int
    /// JPEGs are decoded at 1/2, 1/4 or 1/8 scale while the long side stays at or above this.
    /// 0 decodes at full size.
    public var minLongSide: Int
    /// Refuse inputs larger than this many bytes.
    public var maxBytes: Int

    /// Creates limits.
    ///
    /// - Parameters:
    ///   - maxPixels: the most pixels a header may announce (40 million by default).
    ///   - minLongSide: the smallest long side JPEG scaling may reach; 0 decodes at full size.
    ///   - maxBytes: the largest input in bytes (25 MiB by default).
    public init(maxPixels: Int = 40_000_000, minLongSide: Int = 640, maxBytes: Int = 25 << 20) {
        self.maxPixels = maxPixels
        self.minLongSide = minLongSide
        self.maxBytes = maxBytes
    }
}

/// What a JPEG or PNG header says, read without decoding.
public struct ImageInfo: Sendable, Hashable {
    /// The container format.
    public enum Format: String, Sendable { case jpeg, png }
    /// The width in pixels, from the header.
    public let width: Int
    /// The height in pixels, from the header.
    public let height: Int
    /// JPEG or PNG.
    public let format: Format
    /// Colour channels: 1 grey, 3 colour, 2 or 4 with alpha.
    public let channels: Int
    /// Bits per channel: 8, or 16 for some PNGs.
    public let bitDepth: Int

    /// Reads the header of `data`.
    ///
    /// - Parameter data: the file's bytes; only the header is read.
    /// - Throws: ``FaceError`` `.emptyInput`, `.unsupportedFormat` or `.truncated` for a header it cannot read.
    public init(probing data: Data) throws(FaceError) {
        var info = tv_image_info()
        try checkBytes(data) { tv_image_probe($0, $1, &info, $2) }
        width = Int(info.width)
        height = Int(info.height)
        format = info.format == TV_FORMAT_PNG.rawValue ? .png : .jpeg
        channels = Int(info.channels)
        bitDepth = Int(info.bit_depth)
    }
}

/// A decoded 8-bit BGR picture. Immutable: drawing returns a new image.
///
/// ```swift
/// let photo = try Image(decoding: Data(contentsOf: url))
/// print(photo.width, photo.height, photo.decodeScale)
/// ```
public final class Image: @unchecked Sendable {
    // Safe to share: nothing mutates `handle` after init (drawing works on a clone).
    let handle: OpaquePointer
    /// Width and height in pixels as decoded.
    public let width: Int
    /// Height in pixels as decoded.
    public let height: Int
    /// The divisor libjpeg's DCT scaling applied (1, 2, 4 or 8); coordinates are in decoded pixels.
    public let decodeScale: Int

    init(handle: OpaquePointer, decodeScale: Int = 1) {
        self.handle = handle
        self.width = Int(tv_image_width(handle))
        self.height = Int(tv_image_height(handle))
        self.decodeScale = decodeScale
    }

    deinit { tv_image_free(handle) }

    /// Decodes JPEG or PNG bytes (8 or 16 bit, grey, colour or with alpha) to 8-bit BGR.
    ///
    /// Large JPEGs are decoded at a reduced scale (see ``DecodeLimits/minLongSide`` and ``decodeScale``).
    ///
    /// - Parameters:
    ///   - data: the file's bytes.
    ///   - limits: size limits checked before and during decoding.
    /// - Throws: ``FaceError`` `.tooLarge` over a limit; `.emptyInput`, `.unsupportedFormat`, `.truncated` or
    ///   `.decodeFailed` for bytes it cannot decode.
    public convenience init(decoding data: Data, limits: DecodeLimits = DecodeLimits()) throws(FaceError) {
        guard data.count <= limits.maxBytes else {
            throw FaceError(.tooLarge, "the file is \(data.count) bytes, over the limit of \(limits.maxBytes) bytes")
        }
        var out: OpaquePointer?
        var scale: Int32 = 1
        try checkBytes(data) {
            tv_image_decode($0, $1, Int64(limits.maxPixels), Int32(clamping: limits.minLongSide), &out, &scale, $2)
        }
        guard let out else { throw FaceError(.internalError, "decoder returned no image") }
        self.init(handle: out, decodeScale: Int(scale))
    }

    /// Reads and decodes a file. A missing or unreadable file is `invalidArgument`.
    ///
    /// - Parameters:
    ///   - path: the file's path.
    ///   - limits: size limits checked before and during decoding.
    /// - Throws: ``FaceError`` `.invalidArgument` if the file cannot be read; otherwise what
    ///   ``init(decoding:limits:)`` throws, with the path in the reason.
    public convenience init(contentsOf path: String, limits: DecodeLimits = DecodeLimits()) throws(FaceError) {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw FaceError(.invalidArgument, "cannot read \(path): \(error.localizedDescription)")
        }
        do {
            try self.init(decoding: data, limits: limits)
        } catch {
            throw FaceError(error.code, "\(path): \(error.reason)")
        }
    }

    /// Wraps packed BGR pixels (width × height × 3 bytes).
    ///
    /// - Parameters:
    ///   - pixels: blue, green, red bytes, row by row.
    ///   - width: the width in pixels.
    ///   - height: the height in pixels.
    /// - Throws: ``FaceError`` `.invalidArgument` if the byte count does not match the size.
    public convenience init(bgr pixels: [UInt8], width: Int, height: Int) throws(FaceError) {
        guard width > 0, height > 0, pixels.count == width * height * 3 else {
            throw FaceError(.invalidArgument, "expected \(width)x\(height)x3 bytes, got \(pixels.count)")
        }
        var out: OpaquePointer?
        try pixels.withUnsafeBufferPointer { (buffer) throws(FaceError) in
            try check { tv_image_from_bgr(buffer.baseAddress, Int32(width), Int32(height), &out, $0) }
        }
        guard let out else { throw FaceError(.internalError, "no image") }
        self.init(handle: out)
    }

    /// The packed BGR pixels.
    ///
    /// - Returns: Blue, green, red bytes, row by row (width × height × 3).
    /// - Throws: ``FaceError`` if the pixels cannot be copied.
    public func bgrBytes() throws(FaceError) -> [UInt8] {
        let count = width * height * 3
        var bytes = [UInt8](repeating: 0, count: count)
        try bytes.withUnsafeMutableBufferPointer { (buffer) throws(FaceError) in
            try check { tv_image_copy_bgr(handle, buffer.baseAddress, count, $0) }
        }
        return bytes
    }

    /// PNG bytes at 8 or 16 bits per channel, optionally with an (opaque) alpha channel.
    ///
    /// - Parameters:
    ///   - bitDepth: 8 or 16.
    ///   - alpha: whether to add an opaque alpha channel.
    /// - Returns: The PNG file's bytes.
    /// - Throws: ``FaceError`` if encoding fails, e.g. an unsupported bit depth.
    public func pngData(bitDepth: Int = 8, alpha: Bool = false) throws(FaceError) -> Data {
        try encoded { tv_image_encode_png(handle, Int32(bitDepth), alpha ? 1 : 0, &$0, &$1, $2) }
    }

    /// JPEG bytes at the given quality (1...100).
    ///
    /// - Parameter quality: 1...100.
    /// - Returns: The JPEG file's bytes.
    /// - Throws: ``FaceError`` if encoding fails.
    public func jpegData(quality: Int = 90) throws(FaceError) -> Data {
        try encoded { tv_image_encode_jpeg(handle, Int32(quality), &$0, &$1, $2) }
    }

    private func encoded(
        _ body: (inout UnsafeMutablePointer<UInt8>?, inout Int, UnsafeMutablePointer<tv_error>) -> tv_status
    ) throws(FaceError) -> Data {
        var buffer: UnsafeMutablePointer<UInt8>?
        var length = 0
        try check { body(&buffer, &length, $0) }
        guard let buffer else { throw FaceError(.internalError, "encoder returned nothing") }
        defer { tv_buffer_free(buffer) }
        return Data(bytes: buffer, count: length)
    }

    /// Rotates (degrees, about the centre), scales and shifts this picture onto a grey canvas.
    ///
    /// - Parameters:
    ///   - angle: degrees, counter-clockwise, about the centre.
    ///   - scale: the zoom factor.
    ///   - shiftX: pixels to move right.
    ///   - shiftY: pixels to move down.
    ///   - width: the canvas width.
    ///   - height: the canvas height.
    /// - Returns: The new image.
    /// - Throws: ``FaceError`` `.invalidArgument` for a size or scale that is not positive.
    public func warped(angle: Double, scale: Double, shiftX: Double, shiftY: Double, width: Int, height: Int) throws(FaceError) -> Image {
        try derived { tv_image_warp(handle, angle, scale, shiftX, shiftY, Int32(width), Int32(height), &$0, $1) }
    }

    /// `self × gain + bias`, then blurred with a Gaussian of `blurSigma` pixels.
    ///
    /// - Parameters:
    ///   - gain: the contrast factor.
    ///   - bias: added to every channel after the gain.
    ///   - blurSigma: the blur's standard deviation in pixels; 0 for none.
    /// - Returns: The new image.
    /// - Throws: ``FaceError`` if OpenCV refuses the arguments.
    public func adjusted(gain: Double = 1, bias: Double = 0, blurSigma: Double = 0) throws(FaceError) -> Image {
        try derived { tv_image_adjust(handle, gain, bias, blurSigma, &$0, $1) }
    }

    /// Resized to exactly `width` × `height`.
    ///
    /// - Parameters:
    ///   - width: the new width in pixels.
    ///   - height: the new height in pixels.
    /// - Returns: The new image.
    /// - Throws: ``FaceError`` `.invalidArgument` for a size that is not positive.
    public func resized(width: Int, height: Int) throws(FaceError) -> Image {
        try derived { tv_image_resize(handle, Int32(width), Int32(height), &$0, $1) }
    }

    /// Perceptual hashes of the region around a face (see `tv_image_face_hashes`): the square of
    /// side `scale` × the face box's longer side, turned by each angle, and the same mirrored.
    ///
    /// - Parameters:
    ///   - face: the face, in this picture's decoded pixels.
    ///   - scale: the square's side as a multiple of the face box's longer side.
    ///   - angles: the turns, in degrees counter-clockwise.
    /// - Returns: One hash per angle, then one per angle mirrored.
    /// - Throws: ``FaceError`` `.invalidArgument` for a face too small or outside the picture, or no angle.
    public func faceHashes(_ face: DetectedFace, scale: Double, angles: [Double]) throws(FaceError) -> [UInt64] {
        guard !angles.isEmpty else { throw FaceError(.invalidArgument, "no angle") }
        var hashes = [UInt64](repeating: 0, count: 2 * angles.count)
        var f = face.cValue
        let turns = angles.map(Float.init)
        try hashes.withUnsafeMutableBufferPointer { (h) throws(FaceError) in
            try turns.withUnsafeBufferPointer { (t) throws(FaceError) in
                try check { tv_image_face_hashes(handle, &f, Float(scale), t.baseAddress, Int32(turns.count), h.baseAddress, $0) }
            }
        }
        return hashes
    }

    /// This picture and `other` side by side at a common height.
    ///
    /// - Parameters:
    ///   - other: the picture for the right side.
    ///   - height: the common height in pixels.
    /// - Returns: The new image.
    /// - Throws: ``FaceError`` if OpenCV refuses the arguments.
    public func sideBySide(with other: Image, height: Int) throws(FaceError) -> Image {
        try derived { tv_image_side_by_side(handle, other.handle, Int32(height), &$0, $1) }
    }

    /// A copy with rectangles and labels drawn on it.
    ///
    /// Text is drawn in ASCII; other characters become `?`.
    ///
    /// - Parameter marks: what to draw, in image pixels.
    /// - Returns: The new image; `self` is unchanged.
    /// - Throws: ``FaceError`` if drawing fails.
    public func annotated(_ marks: [Annotation]) throws(FaceError) -> Image {
        let copy = try derived { tv_image_clone(handle, &$0, $1) }
        for mark in marks {
            let (r, g, b) = mark.color
            switch mark.kind {
            case .rect(let rect):
                try check { tv_image_draw_rect(copy.handle, Float(rect.x), Float(rect.y), Float(rect.width), Float(rect.height), r, g, b, $0) }
            case .polyline(let points, let thickness):
                let xy = points.flatMap { [Float($0.x), Float($0.y)] }
                try check { tv_image_draw_polyline(copy.handle, xy, Int32(points.count), r, g, b, Int32(thickness), $0) }
            case .text(let text, let at, let size):
                let ascii = String(text.unicodeScalars.map { $0.isASCII ? Character($0) : "?" })
                try check { tv_image_draw_text(copy.handle, ascii, Float(at.x), Float(at.y), size, r, g, b, $0) }
            }
        }
        return copy
    }

    private func derived(_ body: (inout OpaquePointer?, UnsafeMutablePointer<tv_error>) -> tv_status) throws(FaceError) -> Image {
        var out: OpaquePointer?
        try check { body(&out, $0) }
        guard let out else { throw FaceError(.internalError, "no image") }
        return Image(handle: out)
    }
}

/// A rectangle or a label to draw with `Image.annotated(_:)`.
public struct Annotation: Sendable {
    /// What to draw.
    public enum Kind: Sendable {
        /// A rectangle's outline.
        case rect(Rect)
        /// A label whose baseline starts at `at`, at font scale `size`.
        case text(String, at: Point, size: Double)
        /// Connected line segments, `thickness` pixels wide.
        case polyline([Point], thickness: Int)
    }
    /// The shape or label.
    public var kind: Kind
    /// Red, green, blue.
    public var color: (UInt8, UInt8, UInt8)

    /// A rectangle's outline.
    ///
    /// - Parameters:
    ///   - rect: the rectangle, in image pixels.
    ///   - color: red, green, blue; green by default.
    public static func rect(_ rect: Rect, color: (UInt8, UInt8, UInt8) = (0, 220, 0)) -> Annotation {
        Annotation(kind: .rect(rect), color: color)
    }
    /// Connected line segments.
    ///
    /// - Parameters:
    ///   - points: the points to join, in order.
    ///   - thickness: the line width in pixels.
    ///   - color: red, green, blue; blue by default.
    public static func polyline(_ points: [Point], thickness: Int = 2, color: (UInt8, UInt8, UInt8) = (0, 0, 255)) -> Annotation {
        Annotation(kind: .polyline(points, thickness: thickness), color: color)
    }
    /// A label.
    ///
    /// - Parameters:
    ///   - text: the label; non-ASCII characters are drawn as `?`.
    ///   - point: where its baseline starts.
    ///   - size: the font scale.
    ///   - color: red, green, blue; white by default.
    public static func text(_ text: String, at point: Point, size: Double = 1.0, color: (UInt8, UInt8, UInt8) = (255, 255, 255)) -> Annotation {
        Annotation(kind: .text(text, at: point, size: size), color: color)
    }
}

/// Runs a shim call over the bytes of `data`.
private func checkBytes(
    _ data: Data, fileID: String = #fileID, line: Int = #line,
    _ body: (UnsafePointer<UInt8>?, Int, UnsafeMutablePointer<tv_error>) -> tv_status
) throws(FaceError) {
    var error = tv_error()
    let status = data.withUnsafeBytes { raw in body(raw.bindMemory(to: UInt8.self).baseAddress, raw.count, &error) }
    guard status == TV_OK else { throw FaceError(status: status, error: error, fileID: fileID, line: line) }
}
