import Foundation
import Testing
import TulgaTestSupport

/// What `tulga` maps: no video or image-codec layer of OpenCV, no FFmpeg, no Tesseract, no libcurl; clips
/// through libTulgaVideo.so (FFmpeg), cameras through libTulgaCamera.so (videoio) and documents through
/// libtesseract, each loaded only when used.
@Suite("the tulga process links no video library", .serialized)
struct LeanProcessTests {
    /// Runs a tool and returns its standard output.
    static func output(_ tool: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }

    static var videoLibrary: String { (CLI.binary as NSString).deletingLastPathComponent + "/libTulgaVideo.so" }
    static var cameraLibrary: String { (CLI.binary as NSString).deletingLastPathComponent + "/libTulgaCamera.so" }

    @Test("tulga's DT_NEEDED names neither videoio, imgcodecs, FFmpeg nor FoundationNetworking; libTulgaVideo.so names FFmpeg, libTulgaCamera.so videoio")
    func needed() throws {
        let own = try Self.output("/usr/bin/readelf", ["-d", CLI.binary])
        #expect(own.contains("libopencv_dnn"))
        for library in ["libopencv_videoio", "libopencv_imgcodecs", "libavformat", "libavcodec", "libFoundationNetworking", "libcurl", "libtesseract"] {
            #expect(!own.contains(library), "tulga needs \(library)")
        }
        #expect(own.contains("libjpeg") && own.contains("libpng16"))
        let video = try Self.output("/usr/bin/readelf", ["-d", Self.videoLibrary])
        #expect(video.contains("libavcodec") && !video.contains("libopencv_videoio"))
        let camera = try Self.output("/usr/bin/readelf", ["-d", Self.cameraLibrary])
        #expect(camera.contains("libopencv_videoio") && !camera.contains("libavcodec"))
    }

    @Test("the whole closure ldd loads for tulga holds no FFmpeg, GStreamer, GDAL, Tesseract, libarchive or libcurl")
    func closure() throws {
        let all = try Self.output("/usr/bin/ldd", [CLI.binary])
        #expect(!all.contains("not found"))
        for library in ["libavcodec", "libgstreamer", "libgdal", "libopencv_videoio", "libopencv_imgcodecs", "libcurl", "libFoundationNetworking",
                        "libtesseract", "libarchive", "liblept"] {
            #expect(!all.contains(library), "tulga loads \(library)")
        }
    }

    @Test("a camera path that is no device is refused before the camera library loads; a device that is no camera reaches V4L2")
    func cameraPath() throws {
        let missing = ["TULGA_CAMERA_LIBRARY": "/nonexistent/libTulgaCamera.so"]
        let none = try CLI.run(["kiosk", "--camera", "/dev/video97", "--reference", KioskCommandTests.reference], environment: missing)
        #expect(none.status == 4 && none.stderr.contains("no camera at /dev/video97"), "\(none.stderr)")
        // /dev/null is a character device: the camera library is loaded and V4L2 refuses it.
        let unloadable = try CLI.run(["kiosk", "--camera", "/dev/null", "--reference", KioskCommandTests.reference], environment: missing)
        #expect(unloadable.status != 0 && unloadable.stderr.contains("the camera library /nonexistent/libTulgaCamera.so cannot be loaded"),
                "\(unloadable.stderr)")
        let v4l2 = try CLI.run(["kiosk", "--camera", "/dev/null", "--reference", KioskCommandTests.reference],
                               environment: ["TULGA_CAMERA_LIBRARY": Self.cameraLibrary])
        #expect(v4l2.status != 0 && v4l2.stderr.contains("cannot be opened through V4L2"), "\(v4l2.stderr)")
    }

    @Test("a clip with the video library missing is a clear error naming it")
    func missingLibrary() throws {
        let r = try CLI.run(["kiosk", "--source", KioskCommandTests.video, "--reference", KioskCommandTests.reference],
                            environment: ["TULGA_VIDEO_LIBRARY": "/nonexistent/libTulgaVideo.so"])
        #expect(r.status != 0)
        #expect(r.stderr.contains("the video library /nonexistent/libTulgaVideo.so cannot be loaded"), "\(r.stderr)")
    }

    @Test("the same clip through TULGA_VIDEO_LIBRARY set to the built library passes")
    func namedLibrary() throws {
        let r = try CLI.run(["kiosk", "--source", KioskCommandTests.video, "--reference", KioskCommandTests.reference,
                             "--prompts", "turn_right", "--lang", "en"], environment: ["TULGA_VIDEO_LIBRARY": Self.videoLibrary])
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        #expect(r.stdout.contains("Check passed"))
    }

    /// ArgumentParser derives a missing command name from `String(describing:)` of the type, which on
    /// Linux scans every protocol conformance in the binary (about 2.4 M instructions a command, 36 M of
    /// `tulga --help`'s 120 M before every command named itself).
    @Test("every command's configuration names it, so --help derives no name at startup")
    func commandsNameThemselves() throws {
        let folder = RepositoryPaths.root + "/Sources/TulgaCLI"
        for file in try FileManager.default.contentsOfDirectory(atPath: folder) where file.hasSuffix(".swift") {
            let text = try String(contentsOfFile: folder + "/" + file, encoding: .utf8)
            for part in text.components(separatedBy: "CommandConfiguration(").dropFirst() {
                let head = part.drop(while: { $0 == " " || $0 == "\n" })
                #expect(head.hasPrefix("commandName:"), "\(file): a CommandConfiguration without commandName: \(head.prefix(60))")
            }
        }
    }
}
