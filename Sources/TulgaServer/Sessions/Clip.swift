internal import Foundation
internal import TulgaFace

/// A short recorded clip posted in one body: frames decoded through FFmpeg, stamped on the
/// server's clock from `startMs` plus their stream position.
enum Clip {
    static func decode(_ data: Data, maxFrames: Int, startMs: Double) throws -> ([Image], [Double]) {
        guard !data.isEmpty else { throw Problem(.badRequest, "empty_body", "the clip is empty") }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("tulga-clip-\(makeID())").path
        guard FileManager.default.createFile(atPath: path, contents: data, attributes: [.posixPermissions: 0o600]) else {
            throw Problem(.internalServerError, "internal", "cannot buffer the clip")
        }
        defer { try? FileManager.default.removeItem(atPath: path) }
        var images: [Image] = [], stamps: [Double] = []
        do {
            let source = try CaptureSource(videoFile: path)
            while let frame = try source.next() {
                guard images.count < maxFrames else {
                    throw Problem(.contentTooLarge, "clip_too_long", "a clip may hold at most \(maxFrames) frames")
                }
                images.append(frame.image)
                stamps.append(startMs + frame.timestampMs)
            }
        } catch let error as FaceError {
            throw Problem(.unprocessableContent, "invalid_video", "the clip cannot be read as a video: \(error.reason)")
        }
        guard !images.isEmpty else { throw Problem(.unprocessableContent, "invalid_video", "the clip holds no frames") }
        return (images, stamps)
    }
}
