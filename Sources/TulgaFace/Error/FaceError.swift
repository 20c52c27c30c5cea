import TulgaFaceModel
import CTulgaVision
public import TulgaCore

/// An error from the face pipeline: a stable `code`, a reason in words, and where it was raised.
///
/// ```swift
/// do { _ = try Image(decoding: bytes) }
/// catch let error as FaceError where error.code == .truncated { print(error.reason) }
/// ```
/// Equality compares `code` only.
public struct FaceError: Error, Hashable, Sendable {
    /// Stable error codes; scripts and the HTTP layer key on their raw values.
    public enum Code: String, Sendable, CaseIterable {
        /// The input is empty.
        case emptyInput = "empty_input"
        /// Neither JPEG nor PNG.
        case unsupportedFormat = "unsupported_format"
        /// The file ends early.
        case truncated = "truncated"
        /// Over a ``DecodeLimits`` limit (413).
        case tooLarge = "too_large"
        /// The decoder refused the bytes.
        case decodeFailed = "decode_failed"
        /// A model or cascade file is missing or cannot be loaded (500).
        case modelUnavailable = "model_unavailable"
        /// No camera at the device path (503).
        case noCamera = "no_camera"
        /// A camera, video file or image folder cannot be opened or read.
        case captureFailed = "capture_failed"
        /// The video ended; frame sources turn this into `nil`.
        case endOfStream = "end_of_stream"
        /// An argument is out of range, or a file cannot be read.
        case invalidArgument = "invalid_argument"
        /// A bug on our side (500).
        case internalError = "internal_error"
        /// libTulgaVideo.so (clips) or libTulgaCamera.so (cameras) cannot be loaded (500).
        case videoLibraryUnavailable = "video_library_unavailable"
    }

    /// The stable code.
    public let code: Code
    /// A sentence for a person.
    public let reason: String
    /// The `#fileID` of the file that raised it.
    public let fileID: String
    /// The `#line` it was raised on.
    public let line: Int

    /// Creates an error.
    ///
    /// - Parameters:
    ///   - code: the stable code.
    ///   - reason: a sentence for a person.
    ///   - fileID: the raising file; leave the default.
    ///   - line: the raising line; leave the default.
    public init(_ code: Code, _ reason: String, fileID: String = #fileID, line: Int = #line) {
        self.code = code
        self.reason = reason
        self.fileID = fileID
        self.line = line
    }


    /// Compares codes only.
    public static func == (lhs: FaceError, rhs: FaceError) -> Bool { lhs.code == rhs.code }
    /// Hashes the code only, matching `==`.
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }
}

extension FaceError {
    init(status: tv_status, error: tv_error, fileID: String = #fileID, line: Int = #line) {
        let code: Code
        switch status {
        case TV_ERR_EMPTY: code = .emptyInput
        case TV_ERR_UNSUPPORTED_FORMAT: code = .unsupportedFormat
        case TV_ERR_TRUNCATED: code = .truncated
        case TV_ERR_TOO_LARGE: code = .tooLarge
        case TV_ERR_DECODE: code = .decodeFailed
        case TV_ERR_MODEL: code = .modelUnavailable
        case TV_ERR_NO_CAMERA: code = .noCamera
        case TV_ERR_CAPTURE: code = .captureFailed
        case TV_ERR_END_OF_STREAM: code = .endOfStream
        case TV_ERR_INVALID_ARGUMENT: code = .invalidArgument
        case TV_ERR_VIDEO_LIBRARY: code = .videoLibraryUnavailable
        default: code = .internalError
        }
        self.init(code, error.text, fileID: fileID, line: line)
    }
}

extension tv_error {
    /// The message, up to its first NUL.
    var text: String {
        var copy = self
        return withUnsafeBytes(of: &copy.message) { raw in String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self) }
    }
}

/// Runs a shim call and turns a failing status into a `FaceError`.
@inline(__always)
func check(fileID: String = #fileID, line: Int = #line, _ body: (UnsafeMutablePointer<tv_error>) -> tv_status) throws(FaceError) {
    var error = tv_error()
    let status = body(&error)
    guard status == TV_OK else { throw FaceError(status: status, error: error, fileID: fileID, line: line) }
}

extension FaceError: TulgaError {
    /// The code's raw value, e.g. `"too_large"`.
    public var errorCode: String { code.rawValue }
    /// `.internalError` for a missing model or a bug, `.tooLarge`, `.unavailable` for no camera, else `.invalid`.
    public var kind: ProblemKind {
        switch code {
        case .modelUnavailable, .internalError, .videoLibraryUnavailable: .internalError
        case .tooLarge: .tooLarge
        case .noCamera: .unavailable
        default: .invalid
        }
    }
}
