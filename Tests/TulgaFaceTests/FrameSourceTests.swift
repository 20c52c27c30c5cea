import Foundation
import Testing
import TulgaFace
import TulgaFaceModel
import TulgaCore

@Suite("Frame sources")
struct FrameSourceTests {
    @Test("the fixture video yields 129 frames, one face in at least 90%")
    func video() async throws {
        let source = try VideoFileSource(videoFile: Paths.video)
        let engine = try await Shared.instance.engine()
        var frames = 0, single = 0
        var lastTimestamp = -1.0
        while let frame = try source.next() {
            #expect(frame.index == frames)
            #expect(frame.timestampMs > lastTimestamp || frames == 0)
            lastTimestamp = frame.timestampMs
            frames += 1
            if try await engine.analyze(frame.image).faces.count == 1 { single += 1 }
        }
        #expect(frames == 129)
        #expect(Double(single) / Double(frames) >= 0.9, "\(single)/\(frames)")
        #expect(try source.next() == nil)
    }

    @Test("a missing camera is a clear error")
    func noCamera() {
        let error = faceError { _ = try CaptureSource(camera: "/dev/video97") }
        #expect(error?.code == .noCamera)
        #expect(error?.description == "no camera at /dev/video97")
        #expect(faceError { _ = try openFrameSource("/dev/video98") }?.code == .noCamera)
    }

    @Test("a path that is not a camera device is refused")
    func notADevice() {
        #expect(faceError { _ = try CaptureSource(camera: "/dev/null") }?.code != nil)
    }

    @Test func missingOrBadVideo() throws {
        #expect(faceError { _ = try VideoFileSource(videoFile: "/nonexistent.mp4") }?.code == .captureFailed)
        let junk = FileManager.default.temporaryDirectory.appendingPathComponent("junk-\(UUID()).mp4")
        try Data(repeating: 7, count: 1000).write(to: junk)
        defer { try? FileManager.default.removeItem(at: junk) }
        #expect(faceError { _ = try VideoFileSource(videoFile: junk.path) }?.code == .captureFailed)
    }

    @Test("widths that are not a multiple of 16 decode whole (swscale writes whole vectors: its rows must be padded)",
          arguments: [(712, 514), (714, 518), (718, 514), (640, 360)])
    func oddWidths(size: (Int, Int)) throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("odd-\(UUID()).mp4").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let ffmpeg = Process()
        ffmpeg.executableURL = URL(fileURLWithPath: "/usr/bin/ffmpeg")
        ffmpeg.arguments = ["-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=\(size.0)x\(size.1):rate=30", "-t", "1", "-pix_fmt", "yuv420p", path]
        try ffmpeg.run()
        ffmpeg.waitUntilExit()
        #expect(ffmpeg.terminationStatus == 0)
        let source = try VideoFileSource(videoFile: path)
        var frames = 0
        while let frame = try source.next() {
            #expect(frame.image.width == size.0 && frame.image.height == size.1)
            #expect(try frame.image.bgrBytes().count == size.0 * size.1 * 3)
            frames += 1
        }
        #expect(frames == 30)
    }

    @Test("a folder of images is a frame source")
    func folder() throws {
        let source = try openFrameSource(Paths.shared + "/faces")
        var names = 0
        while let frame = try source.next() {
            #expect(frame.image.width > 0)
            names += 1
        }
        #expect(names == 9)
        let empty = FileManager.default.temporaryDirectory.appendingPathComponent("empty-\(UUID())")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        #expect(faceError { _ = try ImageFolderSource(folder: empty.path) }?.code == .captureFailed)
    }
}

@Suite("Pose and quality are pure functions")
struct PoseTests {
    func face(noseX: Double, noseY: Double = 60, tilt: Double = 0) -> DetectedFace {
        DetectedFace(box: Rect(x: 0, y: 0, width: 100, height: 120),
                     landmarks: [Point(x: 30, y: 40), Point(x: 70, y: 40 + tilt), Point(x: noseX, y: noseY),
                                 Point(x: 35, y: 80), Point(x: 65, y: 80)], score: 0.9)
    }

    @Test func yawSign() {
        #expect(abs(face(noseX: 50).pose.yaw) < 1)
        #expect(face(noseX: 35).pose.yaw > 20)   // nose toward the image's left: subject turns right
        #expect(face(noseX: 65).pose.yaw < -20)
    }

    @Test func pitchSign() {
        #expect(abs(face(noseX: 50, noseY: 40 + 0.58 * 40).pose.pitch) < 1)
        #expect(face(noseX: 50, noseY: 50).pose.pitch > 10)   // nose nearer the eyes: looking up
        #expect(face(noseX: 50, noseY: 72).pose.pitch < -10)
    }

    @Test func roll() {
        #expect(face(noseX: 50, tilt: 40).pose.roll > 40)
    }

    @Test func qualityIssues() {
        let stats = PixelStats(brightness: 120, darkFraction: 0, brightFraction: 0, contrast: 40, sharpness: 100)
        var q = FaceQuality(sizePixels: 200, ovalDistance: 0.2, pixels: stats, pose: face(noseX: 50).pose, faceCount: 1)
        #expect(q.issues(QualityThresholds()).isEmpty)
        q.faceCount = 2
        q.sizePixels = 10
        q.pixels.brightness = 20
        q.pixels.sharpness = 1
        q.ovalDistance = 3
        #expect(q.issues(QualityThresholds(), requireCentred: true) == [.severalFaces, .tooSmall, .tooDark, .blurred, .offCentre])
    }

    @Test func oval() {
        let oval = GuideOval()
        #expect(oval.normalizedDistance(of: Point(x: 320, y: 240), frameWidth: 640, frameHeight: 480) == 0)
        #expect(oval.normalizedDistance(of: Point(x: 0, y: 0), frameWidth: 640, frameHeight: 480) > 1)
    }
}
