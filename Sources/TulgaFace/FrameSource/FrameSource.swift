import TulgaFaceModel
import CTulgaVision
import Foundation

/// One picture from a frame source.
public struct Frame: Sendable {
    /// The decoded picture.
    public let image: Image
    /// 0-based position in the source.
    public let index: Int
    /// Milliseconds: stream position for files, wall-clock time for a camera.
    public let timestampMs: Double

    /// Creates a frame.
    ///
    /// - Parameters:
    ///   - image: the decoded picture.
    ///   - index: 0-based position in the source.
    ///   - timestampMs: stream position or wall-clock time, in milliseconds.
    public init(image: Image, index: Int, timestampMs: Double) {
        self.image = image
        self.index = index
        self.timestampMs = timestampMs
    }
}

/// Anything that yields frames in order: a V4L2 camera, a video file, a folder of images.
/// `next()` returns nil after the last frame.
///
/// ```swift
/// let source = try openFrameSource("clip.mp4")
/// while let frame = try source.next() { print(frame.index, frame.timestampMs) }
/// ```
public protocol FrameSource: AnyObject {
    /// Nominal frames per second, when known.
    var framesPerSecond: Double? { get }
    /// The next frame, or `nil` after the last one.
    ///
    /// - Returns: The frame, or `nil` at the end.
    /// - Throws: ``FaceError`` if a frame cannot be read or decoded.
    func next() throws(FaceError) -> Frame?
}

/// How large a liveness frame may be, whatever its source, and how long a video file.
public struct FrameLimits: Sendable, Hashable, Codable {
    /// The longer side, in pixels (1920 by default).
    public var maxLongSide: Int
    /// The shorter side, in pixels (1080 by default).
    public var maxShortSide: Int
    /// The most frames a video file may hold.
    public var maxFrames: Int
    /// The latest time a video file's frame may be stamped at, in seconds.
    public var maxSeconds: Double

    /// Creates limits: 1920×1080 either way round, by default 900 frames and 60 seconds.
    ///
    /// - Parameters:
    ///   - maxLongSide: the longer side's limit.
    ///   - maxShortSide: the shorter side's limit.
    ///   - maxFrames: the frame count's limit for a video file.
    ///   - maxSeconds: the duration's limit for a video file.
    public init(maxLongSide: Int = 1920, maxShortSide: Int = 1080, maxFrames: Int = 900, maxSeconds: Double = 60) {
        (self.maxLongSide, self.maxShortSide, self.maxFrames, self.maxSeconds) = (maxLongSide, maxShortSide, maxFrames, maxSeconds)
    }

    /// The most pixels a frame may have.
    public var maxPixels: Int { maxLongSide * maxShortSide }

    /// Decode limits for a still used as a liveness frame or selfie: the header is checked
    /// against ``maxPixels`` before anything is allocated.
    ///
    /// - Parameter maxBytes: the largest file in bytes.
    /// - Returns: Limits for ``Image/init(decoding:limits:)``, without DCT scaling.
    public func decodeLimits(maxBytes: Int) -> DecodeLimits { DecodeLimits(maxPixels: maxPixels, minLongSide: 0, maxBytes: maxBytes) }

    /// Checks a decoded still against the sides' limits (the pixel limit was checked from its header).
    ///
    /// - Parameter image: the decoded still.
    /// - Throws: ``FaceError`` `.tooLarge` when a side is over its limit.
    public func check(_ image: Image) throws(FaceError) {
        if max(image.width, image.height) > maxLongSide || min(image.width, image.height) > maxShortSide {
            throw FaceError(.tooLarge, "the frame is \(image.width)x\(image.height), over the limit of \(maxLongSide)x\(maxShortSide)")
        }
    }
}

/// A V4L2 camera, read through cv::VideoCapture; each frame stamped with the wall-clock time of capture.
public final class CaptureSource: FrameSource {
    private let handle: OpaquePointer
    private let maxPixels: Int
    private var index = 0
    /// Nominal frames per second, when the device states it.
    public let framesPerSecond: Double?

    /// Opens a V4L2 camera such as `/dev/video0`; a missing device is `FaceError.Code.noCamera`.
    ///
    /// - Parameters:
    ///   - path: the device path.
    ///   - width: the requested width in pixels.
    ///   - height: the requested height in pixels.
    ///   - fps: the requested frame rate.
    ///   - limits: frames over these are refused before conversion.
    /// - Throws: ``FaceError`` `.noCamera` if there is no such device, `.captureFailed` if it cannot be opened.
    public init(camera path: String, width: Int = 640, height: Int = 480, fps: Double = 30, limits: FrameLimits = FrameLimits()) throws(FaceError) {
        var out: OpaquePointer?
        try check { tv_capture_open_device(path, Int32(width), Int32(height), fps, &out, $0) }
        guard let out else { throw FaceError(.internalError, "no capture") }
        handle = out
        maxPixels = limits.maxPixels
        var rate = 0.0, count: Int32 = 0
        tv_capture_properties(out, &rate, &count)
        framesPerSecond = rate > 0 ? rate : nil
    }

    deinit { tv_capture_free(handle) }

    /// Reads the next frame.
    ///
    /// - Returns: The frame, stamped with the wall-clock time of capture.
    /// - Throws: ``FaceError`` `.captureFailed` if reading fails, `.tooLarge` for a frame over the limit.
    public func next() throws(FaceError) -> Frame? {
        var out: OpaquePointer?
        var timestamp = 0.0
        try check { tv_capture_read(handle, Int64(maxPixels), &out, &timestamp, $0) }
        guard let out else { throw FaceError(.internalError, "no frame") }
        defer { index += 1 }
        return Frame(image: Image(handle: out), index: index, timestampMs: timestamp)
    }
}

/// A video file read through FFmpeg's libraries within ``FrameLimits``: sizes checked from the
/// headers before any frame is decoded and again on every frame, the frame count and duration
/// capped, a few containers and codecs only, local files only.
public final class VideoFileSource: FrameSource {
    private let handle: OpaquePointer
    private var index = 0
    /// Nominal frames per second, when the container states it.
    public let framesPerSecond: Double?
    /// Frame count as the container states it, when it does.
    public let declaredFrameCount: Int?
    /// Duration as the container states it, in milliseconds, when it does.
    public let declaredDurationMs: Double?
    /// The span of the packets' timestamps, read from every packet before decoding: the first
    /// presentation time and the last one plus its duration, in milliseconds.
    public let span: (firstMs: Double, endMs: Double)

    /// Opens a video file.
    ///
    /// - Parameters:
    ///   - path: the file's path.
    ///   - limits: the frame size, count and duration limits.
    /// - Throws: ``FaceError`` `.captureFailed` if the file cannot be read as a video, `.tooLarge` if its frames
    ///   are over the limits.
    public init(videoFile path: String, limits: FrameLimits = FrameLimits()) throws(FaceError) {
        var out: OpaquePointer?
        var c = tv_video_limits(max_pixels: Int64(limits.maxPixels), max_long_side: Int32(clamping: limits.maxLongSide),
                                max_short_side: Int32(clamping: limits.maxShortSide), max_frames: Int32(clamping: limits.maxFrames),
                                max_duration_ms: limits.maxSeconds * 1000)
        try check { tv_video_open(path, &c, &out, $0) }
        guard let out else { throw FaceError(.internalError, "no video") }
        handle = out
        var rate = 0.0, count: Int32 = 0, duration = 0.0
        tv_video_properties(out, &rate, &count, &duration)
        framesPerSecond = rate > 0 ? rate : nil
        declaredFrameCount = count > 0 ? Int(count) : nil
        declaredDurationMs = duration > 0 ? duration : nil
        var first = 0.0, end = 0.0
        tv_video_span(out, &first, &end)
        span = (first, end)
    }

    deinit { tv_video_free(handle) }

    /// Decodes the next frame; the end of the stream returns `nil`.
    ///
    /// - Returns: The frame with its stream position in milliseconds (`nan` when the file gives none).
    /// - Throws: ``FaceError`` `.decodeFailed` for damaged data, `.tooLarge` over a limit.
    public func next() throws(FaceError) -> Frame? {
        var out: OpaquePointer?
        var timestamp = 0.0
        do {
            try check { tv_video_read(handle, &out, &timestamp, $0) }
        } catch where error.code == .endOfStream {
            return nil
        }
        guard let out else { throw FaceError(.internalError, "no frame") }
        defer { index += 1 }
        return Frame(image: Image(handle: out), index: index, timestampMs: timestamp)
    }
}

/// The JPEG and PNG files of a folder, in name order, at a nominal frame rate.
public final class ImageFolderSource: FrameSource {
    private let paths: [String]
    private let limits: FrameLimits
    private var index = 0
    /// The nominal rate the timestamps are computed from.
    public let framesPerSecond: Double?

    /// Lists the folder's `.jpg`, `.jpeg` and `.png` files, sorted by name.
    ///
    /// - Parameters:
    ///   - folder: the folder's path.
    ///   - framesPerSecond: the nominal rate; frame *n* is stamped *n* × 1000 / rate ms.
    ///   - limits: each image is checked against the frame limits (its header before decoding).
    /// - Throws: ``FaceError`` `.captureFailed` if the folder cannot be listed or holds no images.
    public init(folder: String, framesPerSecond: Double = 30, limits: FrameLimits = FrameLimits()) throws(FaceError) {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: folder)
        } catch {
            throw FaceError(.captureFailed, "cannot list the folder \(folder)")
        }
        let extensions: Set<String> = ["jpg", "jpeg", "png"]
        paths = names.filter { extensions.contains(($0 as NSString).pathExtension.lowercased()) }.sorted()
            .map { (folder as NSString).appendingPathComponent($0) }
        guard !paths.isEmpty else { throw FaceError(.captureFailed, "the folder \(folder) holds no .jpg or .png files") }
        self.framesPerSecond = framesPerSecond
        self.limits = limits
    }

    /// Decodes the next file.
    ///
    /// - Returns: The frame, or `nil` after the last file.
    /// - Throws: ``FaceError`` from decoding (see ``Image/init(contentsOf:limits:)``).
    public func next() throws(FaceError) -> Frame? {
        guard index < paths.count else { return nil }
        guard index < limits.maxFrames else { throw FaceError(.tooLarge, "the folder holds more than \(limits.maxFrames) frames") }
        defer { index += 1 }
        let image = try Image(contentsOf: paths[index], limits: limits.decodeLimits(maxBytes: DecodeLimits().maxBytes))
        try limits.check(image)
        return Frame(image: image, index: index, timestampMs: Double(index) * 1000 / (framesPerSecond ?? 30))
    }
}

/// Opens `path` as a camera (`/dev/video*`), a folder of images or a video file, within the default ``FrameLimits``.
///
/// - Parameter path: a `/dev/video*` device, a folder, or a video file.
/// - Returns: A ``CaptureSource``, an ``ImageFolderSource`` or a ``VideoFileSource``.
/// - Throws: ``FaceError`` if the source cannot be opened.
public func openFrameSource(_ path: String) throws(FaceError) -> any FrameSource {
    if path.hasPrefix("/dev/video") { return try CaptureSource(camera: path) }
    var isDirectory: ObjCBool = false
    if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
        return try ImageFolderSource(folder: path)
    }
    return try VideoFileSource(videoFile: path)
}

/// Frames held in memory, for clips built by tests or posted over HTTP.
public final class MemoryFrameSource: FrameSource {
    private var frames: [Frame]
    private var position = 0
    /// The rate the frames were given at; `nil` for frames with their own timestamps.
    public let framesPerSecond: Double?

    /// `images` at a fixed rate, timestamps from 0.
    ///
    /// - Parameters:
    ///   - images: the frames, in order.
    ///   - framesPerSecond: the rate the timestamps are computed from.
    public init(images: [Image], framesPerSecond: Double) {
        frames = images.enumerated().map { Frame(image: $1, index: $0, timestampMs: Double($0) * 1000 / framesPerSecond) }
        self.framesPerSecond = framesPerSecond
    }

    /// Frames as given, with their own indices and timestamps.
    ///
    /// - Parameter frames: the frames, in order.
    public init(frames: [Frame]) {
        self.frames = frames
        framesPerSecond = nil
    }

    /// The next frame; never throws.
    ///
    /// - Returns: The frame, or `nil` after the last one.
    public func next() throws(FaceError) -> Frame? {
        guard position < frames.count else { return nil }
        defer { position += 1 }
        return frames[position]
    }
}

