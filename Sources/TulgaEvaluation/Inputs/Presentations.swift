internal import Foundation
public import TulgaFace
internal import TulgaCore
internal import TulgaLiveness

/// Clips made from the fixture video and photos: the bona fide presentations it really contains
/// and the attacks the tests make.
public enum Presentations {
    /// The frames of `path`, each changed by `transform`, from `first` to `last` (by index), with
    /// timestamps starting at 0.
    public static func clip(_ path: String, first: Int = 0, last: Int = .max,
                            transform: (Image) throws(FaceError) -> Image = { $0 }) throws(FaceError) -> MemoryFrameSource {
        let source = try VideoFileSource(videoFile: path)
        var frames: [Frame] = []
        var start: Double?
        while let frame = try source.next() {
            guard frame.index >= first else { continue }
            guard frame.index <= last else { break }
            let origin = start ?? frame.timestampMs
            start = origin
            frames.append(Frame(image: try transform(frame.image), index: frames.count, timestampMs: frame.timestampMs - origin))
        }
        return MemoryFrameSource(frames: frames)
    }

    /// A flat-photo attack: the photo moved, scaled and tilted in 2D in a 640×480 frame at 15 fps,
    /// still for the first 10 frames. Its head never turns, so no prompt should pass.
    public static func flatPhoto(_ photo: Image, frames: Int = 100) throws(FaceError) -> MemoryFrameSource {
        var images: [Image] = []
        for i in 0..<frames {
            let t = Double(max(0, i - 10)) / 15
            let phase = sin(2 * .pi * t / 2)
            images.append(try photo.warped(angle: 15 * phase, scale: 0.5 * (1 + 0.15 * sin(2 * .pi * t / 3)),
                                           shiftX: 50 * phase, shiftY: 110 + 20 * cos(2 * .pi * t / 2.5), width: 640, height: 480))
        }
        return MemoryFrameSource(images: images, framesPerSecond: 15)
    }

    /// The recording as it is and under capture changes a real camera makes: each a bona fide presentation.
    static var captures: [(name: String, transform: (Image) throws(FaceError) -> Image)] { [
        ("as recorded", { $0 }),
        ("compressed as JPEG q60", { i throws(FaceError) in try Image(decoding: try i.jpegData(quality: 60)) }),
        ("at 75% size", { i throws(FaceError) in try i.resized(width: i.width * 3 / 4, height: i.height * 3 / 4) }),
        ("darker (gain 0.6)", { i throws(FaceError) in try i.adjusted(gain: 0.6) }),
        ("out of focus (blur σ 1.5)", { i throws(FaceError) in try i.adjusted(blurSigma: 1.5) }),
    ] }

    /// Re-encoded copies of a recording that already passed: each must be refused as a replay.
    static var replays: [(name: String, first: Int, transform: (Image) throws(FaceError) -> Image)] { [
        ("re-encoded as JPEG q75", 0, { i throws(FaceError) in try Image(decoding: try i.jpegData(quality: 75)) }),
        ("resized to 95% and re-encoded", 0, { i throws(FaceError) in
            try Image(decoding: try i.resized(width: i.width * 95 / 100, height: i.height * 95 / 100).jpegData(quality: 85))
        }),
        ("cropped to 90%", 0, { i throws(FaceError) in try i.warped(angle: 0, scale: 1 / 0.9, shiftX: 0, shiftY: 0, width: i.width, height: i.height) }),
        ("trimmed by 6 frames", 6, { $0 }),
    ] }
}

/// A replay ledger that holds fixed earlier sessions and records nothing, so every trial meets
/// the same ledger.
struct FixedLedger: ReplayGuard {
    let earlier: [[FrameSignature]]
    let rule: ReplayRule
    func checkAndRecord(_ signatures: [FrameSignature]) async throws -> Bool { rule.isReplay(signatures, earlier: earlier) }
}
