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

    public init(maxPixels: Int = 40_000_000, minLongSide: Int = 640, maxBytes: Int = 25 << 20) {
        self.maxPixels = maxPixels
        self.minLongSide = minLongSide
        self.maxBytes = maxBytes
    }
}

/// What a JPEG or PNG header says, read without decoding.
public struct ImageInfo: Sendable, Hashable {
    public enum Format: String, Sendable { case jpeg, png }
    public let width: Int
    public let height: Int
    public let format: Format
    public let channels: Int
    public let bitDepth: Int

    /// Reads the header of `data`.
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
    public func bgrBytes() throws(FaceError) -> [UInt8] {
        let count = width * height * 3
        var bytes = [UInt8](repeating: 0, count: count)
        try bytes.withUnsafeMutableBufferPointer { (buffer) throws(FaceError) in
            try check { tv_image_copy_bgr(handle, buffer.baseAddress, count, $0) }
        }
        return bytes
    }

    /// PNG bytes at 8 or 16 bits per channel, optionally with an (opaque) alpha channel.
    public func pngData(bitDepth: Int = 8, alpha: Bool = false) throws(FaceError) -> Data {
        try encoded { tv_image_encode_png(handle, Int32(bitDepth), alpha ? 1 : 0, &$0, &$1, $2) }
    }

    /// JPEG bytes at the given quality (1...100).
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
    public func warped(angle: Double, scale: Double, shiftX: Double, shiftY: Double, width: Int, height: Int) throws(FaceError) -> Image {
        try derived { tv_image_warp(handle, angle, scale, shiftX, shiftY, Int32(width), Int32(height), &$0, $1) }
    }

    /// `self × gain + bias`, then blurred with a Gaussian of `blurSigma` pixels.
    public func adjusted(gain: Double = 1, bias: Double = 0, blurSigma: Double = 0) throws(FaceError) -> Image {
        try derived { tv_image_adjust(handle, gain, bias, blurSigma, &$0, $1) }
    }

    /// Resized to exactly `width` × `height`.
    public func resized(width: Int, height: Int) throws(FaceError) -> Image {
        try derived { tv_image_resize(handle, Int32(width), Int32(height), &$0, $1) }
    }

    /// This picture and `other` side by side at a common height.
    public func sideBySide(with other: Image, height: Int) throws(FaceError) -> Image {
        try derived { tv_image_side_by_side(handle, other.handle, Int32(height), &$0, $1) }
    }

    /// A copy with rectangles and labels drawn on it.
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
    public enum Kind: Sendable {
        case rect(Rect)
        case text(String, at: Point, size: Double)
        case polyline([Point], thickness: Int)
    }
    public var kind: Kind
    public var color: (UInt8, UInt8, UInt8)

    public static func rect(_ rect: Rect, color: (UInt8, UInt8, UInt8) = (0, 220, 0)) -> Annotation {
        Annotation(kind: .rect(rect), color: color)
    }
    public static func polyline(_ points: [Point], thickness: Int = 2, color: (UInt8, UInt8, UInt8) = (0, 0, 255)) -> Annotation {
        Annotation(kind: .polyline(points, thickness: thickness), color: color)
    }
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
