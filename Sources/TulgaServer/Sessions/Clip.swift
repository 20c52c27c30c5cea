import Foundation
import TulgaFace
import TulgaCore
import HTTPTypes
import Hummingbird
import TulgaFlow
import TulgaConfig
import TulgaAttempts
import TulgaPolicy
import TulgaModeration

/// Frames for a session, a batch at a time; an empty batch ends them.
protocol FrameBatches: AnyObject {
    func next() throws -> (images: [Image], stamps: [Double])
}

/// One posted frame.
final class SingleFrame: FrameBatches {
    private var frame: (Image, Double)?
    init(_ image: Image, stampMs: Double) { frame = (image, stampMs) }
    func next() throws -> (images: [Image], stamps: [Double]) {
        defer { frame = nil }
        return frame.map { ([$0.0], [$0.1]) } ?? ([], [])
    }
}

/// A short recorded clip posted in one body, read through FFmpeg a few frames at a time (so a
/// clip never sits decoded in memory whole), stamped on the server's clock from `startMs` plus
/// each frame's stream position.
final class Clip: FrameBatches {
    private let path: String
    private let source: CaptureSource
    private let startMs: Double
    private let maxFrames: Int
    private(set) var frames = 0

    init(_ data: Data, maxFrames: Int, startMs: Double) throws {
        guard !data.isEmpty else { throw Problem(.badRequest, "empty_body", "the clip is empty") }
        path = FileManager.default.temporaryDirectory.appendingPathComponent("tulga-clip-\(makeID())").path
        guard FileManager.default.createFile(atPath: path, contents: data, attributes: [.posixPermissions: 0o600]) else {
            throw Problem(.internalServerError, "internal", "cannot buffer the clip")
        }
        do { source = try CaptureSource(videoFile: path) } catch {
            try? FileManager.default.removeItem(atPath: path)
            throw Problem(.unprocessableContent, "invalid_video", "the clip cannot be read as a video: \(error.reason)")
        }
        self.startMs = startMs
        self.maxFrames = maxFrames
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    static let batch = 16

    /// Up to 16 more frames; empty at the end. A clip without any frame is refused.
    func next() throws -> (images: [Image], stamps: [Double]) {
        let count = Self.batch
        var images: [Image] = [], stamps: [Double] = []
        do {
            while images.count < count, let frame = try source.next() {
                frames += 1
                guard frames <= maxFrames else { throw Problem(.contentTooLarge, "clip_too_long", "a clip may hold at most \(maxFrames) frames") }
                images.append(frame.image)
                stamps.append(startMs + frame.timestampMs)
            }
        } catch let error as FaceError {
            throw Problem(.unprocessableContent, "invalid_video", "the clip cannot be read as a video: \(error.reason)")
        }
        if frames == 0 { throw Problem(.unprocessableContent, "invalid_video", "the clip holds no frames") }
        return (images, stamps)
    }
}
