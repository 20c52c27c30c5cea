// tulga-bench: speed figures for README. Build in release: swift build -c release --product tulga-bench
import Foundation
import TulgaFace
import TulgaLiveness
import TulgaFaceModel
import TulgaLivenessRunner

func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e6 }

func percentile(_ values: [Double], _ p: Double) -> Double {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return 0 }
    return sorted[min(sorted.count - 1, Int(Double(sorted.count - 1) * p + 0.5))]
}

struct Options {
    var mode = "liveness"
    var threads = 2
    var throughput: Double?
    var images: [String] = []
    var runs = 30
    var models = FileManager.default.currentDirectoryPath + "/Models"
    var video = FileManager.default.currentDirectoryPath + "/../shared/fixtures/video/lin_manuel_miranda_head_turns.mp4"
    var output = "frame.jpg"
    var index = 10
    var directory: String?
    var kind: String?
    var faces: String?

    init(_ args: [String]) {
        var it = args.dropFirst().makeIterator()
        while let arg = it.next() {
            switch arg {
            case "--runs": runs = Int(it.next() ?? "") ?? runs
            case "--models": models = it.next() ?? models
            case "--video": video = it.next() ?? video
            case "--output": output = it.next() ?? output
            case "--index": index = Int(it.next() ?? "") ?? index
            case "--threads": threads = Int(it.next() ?? "") ?? threads
            case "--throughput": throughput = Double(it.next() ?? "")
            case "--image": images.append(it.next() ?? "")
            case "--dir": directory = it.next()
            case "--kind": kind = it.next()
            case "--faces": faces = it.next()
            default: mode = arg
            }
        }
    }
}

/// The fixture video letterboxed to 640x480, decoded once.
func videoFrames(_ path: String) throws -> [Frame] {
    let source = try VideoFileSource(videoFile: path)
    var frames: [Frame] = []
    while let f = try source.next() {
        let boxed = try f.image.warped(angle: 0, scale: 1, shiftX: 0, shiftY: 0, width: 640, height: 480)
        frames.append(Frame(image: boxed, index: f.index, timestampMs: f.timestampMs))
    }
    return frames
}

/// Per-frame liveness path: detection, landmarks, pose and quality on every frame, an embedding
/// and a perceptual hash on the frames the session samples, and the state machine.
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
        var session = LivenessSession(config: config, prompts: [.turnLeft], issuedAtMs: 0)
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

/// Decode, detect, align+embed and compare, per image, as medians over `runs` (after a warm-up);
/// or, with --throughput, images/s with `threads` pipelines of one OpenCV thread each.
func stagesBenchmark(_ options: Options) async throws {
    var config = FaceConfig(modelsDirectory: options.models)
    config.decode = DecodeLimits(minLongSide: 640)
    let data = try options.images.map { try Data(contentsOf: URL(fileURLWithPath: $0)) }
    if let seconds = options.throughput {
        setVisionThreads(1)
        let pool = try FacePipelinePool(config: config, size: options.threads)
        let start = now()
        let done = try await withThrowingTaskGroup(of: Int.self) { group in
            for pipeline in pool.pipelines {
                group.addTask { [data, config, start] in
                    var n = 0
                    while now() - start < seconds * 1000 {
                        for bytes in data {
                            let image = try Image(decoding: bytes, limits: config.decode)
                            try await pipeline.withEngine { engine in
                                guard let face = try engine.detector.detect(image).first else { return }
                                _ = try engine.embedder.embed(face, in: image)
                            }
                            n += 1
                        }
                    }
                    return n
                }
            }
            return try await group.reduce(0, +)
        }
        print(String(format: "{\"images_per_second\": %.2f}", Double(done) * 1000 / (now() - start)))
        return
    }
    setVisionThreads(options.threads)
    let engine = try FaceEngine(config: config)
    var decode: [Double] = [], detect: [Double] = [], embed: [Double] = [], compare: [Double] = [], total: [Double] = []
    var reference: Embedding?
    for bytes in data {
        for run in 0...options.runs {
            let t0 = now()
            let image = try Image(decoding: bytes, limits: config.decode)
            let t1 = now()
            guard let face = try engine.detector.detect(image).first else { continue }
            let t2 = now()
            let embedding = try engine.embedder.embed(face, in: image)
            let t3 = now()
            if reference == nil { reference = embedding }
            let score = embedding.cosine(reference ?? embedding)
            let t4 = now()
            precondition(score > -2)
            if run == 0 { continue }
            decode.append(t1 - t0); detect.append(t2 - t1); embed.append(t3 - t2); compare.append(t4 - t3); total.append(t4 - t0)
        }
    }
    print(String(format: "{\"decode\": %.3f, \"detect\": %.3f, \"embed\": %.3f, \"compare\": %.4f, \"total\": %.3f, \"samples\": %d, \"opencv\": \"%@\"}",
                 percentile(decode, 0.5), percentile(detect, 0.5), percentile(embed, 0.5), percentile(compare, 0.5), percentile(total, 0.5),
                 total.count, openCVVersion))
}

let options = Options(CommandLine.arguments)
do {
    switch options.mode {
    case "liveness": try livenessBenchmark(options)
    case "stages": try await stagesBenchmark(options)
    case "documents": try documentsBenchmark(options)
    case "portraits": try portraitsBenchmark(options)
    case "frame":
        // A frame of the fixture video (--index, default 10), letterboxed to 640x480, as JPEG.
        let frames = try videoFrames(options.video)
        guard frames.indices.contains(options.index) else { throw FaceError(.invalidArgument, "the video has \(frames.count) frames") }
        try frames[options.index].image.jpegData(quality: 90).write(to: URL(fileURLWithPath: options.output))
    default:
        FileHandle.standardError.write(Data("usage: tulga-bench liveness|frame|stages|documents|portraits [--runs N] [--dir DIR] [--kind K] [--faces DIR] [--models DIR] [--video FILE] [--output FILE]\n".utf8))
        exit(3)
    }
} catch {
    FileHandle.standardError.write(Data("tulga-bench: \(error)\n".utf8))
    exit(3)
}
