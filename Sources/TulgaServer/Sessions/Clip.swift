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

/// A short recorded clip posted in one body, read through FFmpeg a few frames at a time within
/// ``FrameLimits`` (so a clip never sits decoded in memory whole). The server stamps it: the clip
/// is laid on the server's clock so that its last frame ends at receipt, and a clip longer than
/// the time since the session started (or since its previous frame) is refused, as are
/// timestamps that do not increase or fall outside the packets' span.
final class Clip: FrameBatches {
    private let path: String
    private let source: VideoFileSource
    private let offsetMs: Double
    private var lastPts = -Double.infinity
    private(set) var frames = 0

    /// - Parameters:
    ///   - data: the clip's bytes.
    ///   - limits: frame size, count and duration limits.
    ///   - receivedMs: when the server received it (the injected clock).
    ///   - notBeforeMs: the earliest time a frame of the session may carry.
    ///   - folder: the server's private temporary folder (emptied at start-up, so a crash leaves nothing for long).
    init(_ data: Data, limits: FrameLimits, receivedMs: Double, notBeforeMs: Double, folder: String) throws {
        guard !data.isEmpty else { throw Problem(.badRequest, "empty_body", "the clip is empty") }
        path = (folder as NSString).appendingPathComponent("clip-\(makeID())")
        // Private from the first byte: created 0600, exclusively.
        // A scratch buffer, read at once and removed: no fsync on the request path.
        do { try PrivateFile.create(path, data, durable: false) } catch { throw Problem(.internalServerError, "internal", "cannot buffer the clip") }
        do { source = try VideoFileSource(videoFile: path, limits: limits) } catch {
            unlink(path)
            throw Self.problem(error)
        }
        let length = source.span.endMs - source.span.firstMs
        offsetMs = receivedMs - source.span.endMs
        guard receivedMs - length >= notBeforeMs else {
            unlink(path)
            throw Problem(.unprocessableContent, "clip_timing", String(format: "the clip lasts %.1f s, longer than the %.1f s since the session started or its previous frame: record it after the prompt and send it at once", length / 1000, max(0, receivedMs - notBeforeMs) / 1000))
        }
    }

    deinit { unlink(path) }

    /// Frames decoded at a time: 4 frames of 640×360 are 2.6 MiB (16 held 10.5 MiB at the clip's peak).
    static let batch = 4

    static func problem(_ error: FaceError) -> Problem {
        error.code == .tooLarge ? Problem(.contentTooLarge, "clip_too_large", "the clip is over the limits: \(error.reason)")
            : Problem(.unprocessableContent, "invalid_video", "the clip cannot be read as a video: \(error.reason)")
    }

    /// Up to ``batch`` more frames; empty at the end. A clip without any frame is refused.
    func next() throws -> (images: [Image], stamps: [Double]) {
        var images: [Image] = [], stamps: [Double] = []
        do {
            while images.count < Self.batch, let frame = try source.next() {
                frames += 1
                let pts = frame.timestampMs
                guard pts.isFinite, pts > lastPts, pts >= source.span.firstMs - 1, pts <= source.span.endMs + 1 else {
                    throw Problem(.unprocessableContent, "clip_timing", "frame \(frames) of the clip has a timestamp (\(pts) ms) that does not increase or lies outside the clip")
                }
                lastPts = pts
                images.append(frame.image)
                stamps.append(offsetMs + pts)
            }
        } catch let error as FaceError {
            throw Self.problem(error)
        }
        if frames == 0 { throw Problem(.unprocessableContent, "invalid_video", "the clip holds no frames") }
        return (images, stamps)
    }
}
