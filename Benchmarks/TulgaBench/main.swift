// tulga-bench: speed figures for README. Build in release: swift build -c release --product tulga-bench
import Foundation
import TulgaFace
import TulgaLiveness

func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e6 }

func percentile(_ values: [Double], _ p: Double) -> Double {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return 0 }
    return sorted[min(sorted.count - 1, Int(Double(sorted.count - 1) * p + 0.5))]
}

struct Options {
    var mode = "liveness"
    var runs = 10
    var models = FileManager.default.currentDirectoryPath + "/Models"
    var video = FileManager.default.currentDirectoryPath + "/../shared/fixtures/video/lin_manuel_miranda_head_turns.mp4"
    var output = "frame.jpg"

    init(_ args: [String]) {
        var it = args.dropFirst().makeIterator()
        while let arg = it.next() {
            switch arg {
            case "--runs": runs = Int(it.next() ?? "") ?? runs
            case "--models": models = it.next() ?? models
            case "--video": video = it.next() ?? video
            case "--output": output = it.next() ?? output
            default: mode = arg
            }
        }
    }
}

/// The fixture video letterboxed to 640x480, decoded once.
func videoFrames(_ path: String) throws -> [Frame] {
    let source = try CaptureSource(videoFile: path)
    var frames: [Frame] = []
    while let f = try source.next() {
        let boxed = try f.image.warped(angle: 0, scale: 1, shiftX: 0, shiftY: 0, width: 640, height: 480)
        frames.append(Frame(image: boxed, index: f.index, timestampMs: f.timestampMs))
    }
    return frames
}

/// Per-frame liveness path: detection, landmarks, pose and quality on every frame, an embedding
/// and a frame hash on the frames the session samples, and the state machine.
func livenessBenchmark(_ options: Options) throws {
    let frames = try videoFrames(options.video)
    let runner = LivenessRunner(engine: try FaceEngine(config: FaceConfig(modelsDirectory: options.models)))
    var perFrame: [Double] = []
    var passFPS: [Double] = []
    for run in 0..<(options.runs + 1) {
        var config = LivenessConfig()
        config.sessionTimeoutMs = .infinity
        config.promptTimeoutMs = .infinity
        // turn_left never completes on this clip, so every frame goes through the whole path.
        var session = LivenessSession(config: config, nonce: makeNonce(), prompts: [.turnLeft], issuedAtMs: 0)
        let start = now()
        var times: [Double] = []
        for frame in frames {
            let t0 = now()
            let observation = try runner.observe(frame, timestampMs: frame.timestampMs, for: session)
            session.observe(observation)
            times.append(now() - t0)
        }
        let elapsed = now() - start
        if run == 0 { continue }  // warm-up
        perFrame += times
        passFPS.append(Double(frames.count) * 1000 / elapsed)
    }
    let median = percentile(perFrame, 0.5)
    print("liveness per-frame path, fixture video letterboxed to 640x480, \(frames.count) frames x \(options.runs) runs, OpenCV \(openCVVersion)")
    print(String(format: "| median ms/frame | p90 ms/frame | fps (1/median) | median fps per pass | 30 fps budget |"))
    print("|---|---|---|---|---|")
    print(String(format: "| %.2f | %.2f | %.1f | %.1f | %@ |", median, percentile(perFrame, 0.9), 1000 / median,
                 percentile(passFPS, 0.5), percentile(passFPS, 0.5) >= 30 ? "kept" : "missed"))
}

let options = Options(CommandLine.arguments)
do {
    switch options.mode {
    case "liveness": try livenessBenchmark(options)
    case "frame":
        // Frame 10 of the fixture video, letterboxed to 640x480, as JPEG (for the load test).
        let frames = try videoFrames(options.video)
        try frames[10].image.jpegData(quality: 90).write(to: URL(fileURLWithPath: options.output))
    default:
        FileHandle.standardError.write(Data("usage: tulga-bench liveness|frame [--runs N] [--models DIR] [--video FILE] [--output FILE]\n".utf8))
        exit(3)
    }
} catch {
    FileHandle.standardError.write(Data("tulga-bench: \(error)\n".utf8))
    exit(3)
}
