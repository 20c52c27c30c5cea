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

/// A V4L2 device or a video file, read through cv::VideoCapture.
public final class CaptureSource: FrameSource {
    private let handle: OpaquePointer
    private var index = 0
    /// Nominal frames per second, when the device or container states it.
    public let framesPerSecond: Double?
    /// Frame count as the container states it (nil for cameras or when unknown).
    public let declaredFrameCount: Int?

    /// Opens a V4L2 camera such as `/dev/video0`; a missing device is `FaceError.Code.noCamera`.
    ///
    /// - Parameters:
    ///   - path: the device path.
    ///   - width: the requested width in pixels.
    ///   - height: the requested height in pixels.
    ///   - fps: the requested frame rate.
    /// - Throws: ``FaceError`` `.noCamera` if there is no such device, `.captureFailed` if it cannot be opened.
    public init(camera path: String, width: Int = 640, height: Int = 480, fps: Double = 30) throws(FaceError) {
        var out: OpaquePointer?
        try check { tv_capture_open_device(path, Int32(width), Int32(height), fps, &out, $0) }
        guard let out else { throw FaceError(.internalError, "no capture") }
        handle = out
        (framesPerSecond, declaredFrameCount) = CaptureSource.properties(out)
    }

    /// Opens a video file (any container and codec Debian's FFmpeg reads).
    ///
    /// - Parameter path: the file's path.
    /// - Throws: ``FaceError`` `.captureFailed` if the file cannot be opened.
    public init(videoFile path: String) throws(FaceError) {
        var out: OpaquePointer?
        try check { tv_capture_open_file(path, &out, $0) }
        guard let out else { throw FaceError(.internalError, "no capture") }
        handle = out
        (framesPerSecond, declaredFrameCount) = CaptureSource.properties(out)
    }

    private static func properties(_ handle: OpaquePointer) -> (Double?, Int?) {
        var fps = 0.0
        var count: Int32 = 0
        tv_capture_properties(handle, &fps, &count)
        return (fps > 0 ? fps : nil, count > 0 ? Int(count) : nil)
    }

    deinit { tv_capture_free(handle) }

    /// Reads the next frame; the end of the stream returns `nil`.
    ///
    /// - Returns: The frame, with the stream position (files) or wall-clock time (cameras).
    /// - Throws: ``FaceError`` `.captureFailed` if reading fails.
    public func next() throws(FaceError) -> Frame? {
        var out: OpaquePointer?
        var timestamp = 0.0
        do {
            try check { tv_capture_read(handle, &out, &timestamp, $0) }
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
    private let limits: DecodeLimits
    private var index = 0
    /// The nominal rate the timestamps are computed from.
    public let framesPerSecond: Double?

    /// Lists the folder's `.jpg`, `.jpeg` and `.png` files, sorted by name.
    ///
    /// - Parameters:
    ///   - folder: the folder's path.
    ///   - framesPerSecond: the nominal rate; frame *n* is stamped *n* × 1000 / rate ms.
    ///   - limits: decode limits; full size by default.
    /// - Throws: ``FaceError`` `.captureFailed` if the folder cannot be listed or holds no images.
    public init(folder: String, framesPerSecond: Double = 30, limits: DecodeLimits = DecodeLimits(minLongSide: 0)) throws(FaceError) {
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
        defer { index += 1 }
        let image = try Image(contentsOf: paths[index], limits: limits)
        return Frame(image: image, index: index, timestampMs: Double(index) * 1000 / (framesPerSecond ?? 30))
    }
}

/// Opens `path` as a camera (`/dev/video*`), a folder of images or a video file.
///
/// - Parameter path: a `/dev/video*` device, a folder, or a video file.
/// - Returns: A ``CaptureSource`` or an ``ImageFolderSource``.
/// - Throws: ``FaceError`` if the source cannot be opened.
public func openFrameSource(_ path: String) throws(FaceError) -> any FrameSource {
    if path.hasPrefix("/dev/video") { return try CaptureSource(camera: path) }
    var isDirectory: ObjCBool = false
    if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
        return try ImageFolderSource(folder: path)
    }
    return try CaptureSource(videoFile: path)
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

