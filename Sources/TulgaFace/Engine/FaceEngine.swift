public import TulgaFaceModel
import Foundation
import Synchronization

/// Everything the face pipeline needs to know; loaded from the `face` section of tulga's config.
public struct FaceConfig: Sendable, Hashable, Codable {
    /// The folder holding the ONNX models.
    public var modelsDirectory: String
    /// YuNet's file name inside ``modelsDirectory``.
    public var detectorModel: String = "face_detection_yunet_2023mar.onnx"
    /// SFace's file name inside ``modelsDirectory``.
    public var recognizerModel: String = "face_recognition_sface_2021dec.onnx"
    /// Detector thresholds and input size.
    public var detection = DetectionSettings()
    /// Limits on decoded images.
    public var decode = DecodeLimits()
    /// What makes a face unusable.
    public var quality = QualityThresholds()
    /// The kiosk's guide oval.
    public var oval = GuideOval()
    /// Cosine similarity at or above which two faces match (see `tulga eval`).
    public var matchThreshold: Double = 0.363

    /// Creates a configuration with the default models and thresholds.
    ///
    /// - Parameter modelsDirectory: the folder holding the ONNX models.
    public init(modelsDirectory: String = FaceConfig.defaultModelsDirectory()) {
        self.modelsDirectory = modelsDirectory
    }

    /// The detector model's full path.
    public var detectorPath: String { (modelsDirectory as NSString).appendingPathComponent(detectorModel) }
    /// The recognizer model's full path.
    public var recognizerPath: String { (modelsDirectory as NSString).appendingPathComponent(recognizerModel) }

    /// `$TULGA_MODELS`, else `./Models`.
    public static func defaultModelsDirectory() -> String {
        if let env = ProcessInfo.processInfo.environment["TULGA_MODELS"], !env.isEmpty { return env }
        return FileManager.default.currentDirectoryPath + "/Models"
    }
}

/// One face with its measurements.
public struct AnalyzedFace: Sendable, Hashable, Codable {
    /// The face, in original-image pixels.
    public var face: DetectedFace
    /// Its size, oval distance, pixel statistics and pose.
    public var quality: FaceQuality
}

/// What the detector and the quality checks found in one picture. Coordinates are in the
/// original image's pixels (the decode scale is undone).
public struct FrameAnalysis: Sendable, Hashable, Codable {
    /// The original image's width in pixels.
    public var width: Int
    /// The original image's height in pixels.
    public var height: Int
    /// Every face found, best first.
    public var faces: [AnalyzedFace]
}

/// A detector, an embedder and the settings, used from one thread at a time.
///
/// ```swift
/// let engine = try FaceEngine(config: FaceConfig())
/// let photo = try Image(contentsOf: "obama.jpg")
/// let analysis = try engine.analyze(photo)
/// ```
public final class FaceEngine {
    /// The settings it was built with.
    public let config: FaceConfig
    /// YuNet.
    public let detector: FaceDetector
    /// SFace.
    public let embedder: FaceEmbedder

    /// Loads both models.
    ///
    /// - Parameter config: the model paths and settings.
    /// - Throws: ``FaceError`` `.modelUnavailable` if a model cannot be loaded.
    public convenience init(config: FaceConfig) throws(FaceError) {
        // The detector first: a missing models folder is reported by the first model's name.
        let detector = try FaceDetector(modelPath: config.detectorPath, settings: config.detection)
        self.init(config: config, detector: detector, embedder: try FaceEmbedder(modelPath: config.recognizerPath))
    }

    private init(config: FaceConfig, detector: FaceDetector, embedder: FaceEmbedder) {
        (self.config, self.detector, self.embedder) = (config, detector, embedder)
    }

    /// Loads the detector and uses an SFace already loaded (shared between engines).
    ///
    /// - Parameters:
    ///   - config: the model paths and settings.
    ///   - embedder: the shared recognizer.
    /// - Throws: ``FaceError`` `.modelUnavailable` if the detector cannot be loaded.
    public init(config: FaceConfig, embedder: FaceEmbedder) throws(FaceError) {
        self.config = config
        detector = try FaceDetector(modelPath: config.detectorPath, settings: config.detection)
        self.embedder = embedder
    }

    /// Detects faces in decoded pixels (no scale correction).
    ///
    /// - Parameter image: the decoded picture.
    /// - Returns: The faces, best first, in decoded-image pixels.
    /// - Throws: ``FaceError`` if detection fails.
    public func detect(_ image: Image) throws(FaceError) -> [DetectedFace] { try detector.detect(image) }

    /// Detects and measures every face. Sizes and positions are given in original-image pixels.
    ///
    /// - Parameter image: the decoded picture.
    /// - Returns: The original size and every face with its quality.
    /// - Throws: ``FaceError`` if detection or measuring fails.
    public func analyze(_ image: Image) throws(FaceError) -> FrameAnalysis {
        let faces = try detector.detect(image)
        let scale = Double(image.decodeScale)
        let width = image.width * image.decodeScale, height = image.height * image.decodeScale
        var analyzed: [AnalyzedFace] = []
        for face in faces {
            let pixels = try measurePixels(of: face, in: image)
            let original = face.scaled(by: scale)
            let quality = FaceQuality(
                sizePixels: min(original.box.width, original.box.height),
                ovalDistance: config.oval.normalizedDistance(of: original.box.centre, frameWidth: width, frameHeight: height),
                pixels: pixels, pose: original.pose, faceCount: faces.count)
            analyzed.append(AnalyzedFace(face: original, quality: quality))
        }
        return FrameAnalysis(width: width, height: height, faces: analyzed)
    }

    /// The embedding of a face given in original-image pixels.
    ///
    /// - Parameters:
    ///   - face: the face, in original-image pixels (as ``analyze(_:)`` gives it).
    ///   - image: the picture it was found in.
    /// - Returns: The 128-value SFace embedding.
    /// - Throws: ``FaceError`` if alignment or the network fails.
    public func embed(_ face: DetectedFace, in image: Image) throws(FaceError) -> Embedding {
        try embedder.embed(face.scaled(by: 1 / Double(image.decodeScale)), in: image)
    }
}

extension DetectedFace {
    /// The same face with every coordinate multiplied by `factor`.
    ///
    /// - Parameter factor: the scale; 1 returns the face unchanged.
    public func scaled(by factor: Double) -> DetectedFace {
        guard factor != 1 else { return self }
        return DetectedFace(
            box: Rect(x: box.x * factor, y: box.y * factor, width: box.width * factor, height: box.height * factor),
            landmarks: landmarks.map { Point(x: $0.x * factor, y: $0.y * factor) }, score: score)
    }
}

/// A `FaceEngine` behind an actor on a thread of its own, so any task may use it without holding one
/// of Swift's cooperative threads; for throughput, keep one per core (see ``FacePipelinePool``).
public actor FacePipeline {
    private let engine: FaceEngine
    /// Where the actor runs: a thread of its own, off Swift's cooperative threads (``PipelineExecutor``).
    private let executor = PipelineExecutor(name: "tulga-face")
    public nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }
    /// The settings the engine was built with.
    public nonisolated let config: FaceConfig

    /// Loads both models into a new engine.
    ///
    /// - Parameter config: the model paths and settings.
    /// - Throws: ``FaceError`` `.modelUnavailable` if a model cannot be loaded.
    public init(config: FaceConfig) throws(FaceError) {
        try self.init(config: config, embedder: FaceEmbedder(modelPath: config.recognizerPath))
    }

    /// A new engine with its own detector and a shared SFace.
    ///
    /// - Parameters:
    ///   - config: the model paths and settings.
    ///   - embedder: the recognizer shared between pipelines.
    /// - Throws: ``FaceError`` `.modelUnavailable` if the detector cannot be loaded.
    public init(config: FaceConfig, embedder: FaceEmbedder) throws(FaceError) {
        engine = try FaceEngine(config: config, embedder: embedder)
        self.config = config
    }

    /// ``FaceEngine/analyze(_:)`` on the actor.
    ///
    /// - Parameter image: the decoded picture.
    /// - Returns: The original size and every face with its quality.
    /// - Throws: ``FaceError`` if detection or measuring fails.
    public func analyze(_ image: Image) throws(FaceError) -> FrameAnalysis { try engine.analyze(image) }
    /// ``FaceEngine/embed(_:in:)`` on the actor.
    ///
    /// - Parameters:
    ///   - face: the face, in original-image pixels.
    ///   - image: the picture it was found in.
    /// - Returns: The 128-value SFace embedding.
    /// - Throws: ``FaceError`` if alignment or the network fails.
    public func embed(_ face: DetectedFace, in image: Image) throws(FaceError) -> Embedding { try engine.embed(face, in: image) }

    /// Runs `body` with exclusive use of the engine.
    ///
    /// - Parameter body: the work to do; it must not keep the engine.
    /// - Returns: What `body` returned.
    /// - Throws: Whatever `body` throws.
    public func withEngine<T: Sendable>(_ body: (FaceEngine) throws -> T) rethrows -> T { try body(engine) }
}

/// A fixed set of pipelines handed out round-robin; each runs on its own actor with its own
/// detector, and all share one SFace (loaded once, from its packed copy: about 37 MiB of weights).
public final class FacePipelinePool: Sendable {
    /// The pipelines, each with its own engine.
    public let pipelines: [FacePipeline]
    /// The SFace they share.
    public let embedder: FaceEmbedder
    private let next = Counter()

    /// Builds `size` pipelines.
    ///
    /// - Parameters:
    ///   - config: the model paths and settings.
    ///   - size: how many pipelines, at least 1; one per core suits throughput.
    /// - Throws: ``FaceError`` `.modelUnavailable` if a model cannot be loaded.
    public init(config: FaceConfig, size: Int) throws(FaceError) {
        let shared = try FaceEmbedder(modelPath: config.recognizerPath)
        var built: [FacePipeline] = []
        for _ in 0..<max(1, size) { built.append(try FacePipeline(config: config, embedder: shared)) }
        embedder = shared
        pipelines = built
    }

    /// The next pipeline, round-robin.
    public func pipeline() -> FacePipeline { pipelines[next.increment() % pipelines.count] }
}

final class Counter: Sendable {
    private let value = Mutex(0)
    func increment() -> Int { value.withLock { v in defer { v &+= 1 }; return v } }
}
