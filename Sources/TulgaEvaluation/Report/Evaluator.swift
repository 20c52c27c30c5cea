internal import Foundation
public import TulgaFace
public import TulgaCore
internal import TulgaFaceModel
public import TulgaLiveness
internal import TulgaLivenessRunner

/// Runs every measurement of ``AccuracyReport`` with one face engine, in order, telling `progress`
/// what it is doing.
///
/// ```swift
/// let report = try await Evaluator(engine: engine, inputs: EvaluationInputs(), accept: 0.363, review: 0.31,
///                                  liveness: LivenessConfig()).run { print($0) }
/// ```
public struct Evaluator {
    public let engine: FaceEngine
    public let inputs: EvaluationInputs
    public let accept: Double
    public let review: Double
    public let liveness: LivenessConfig

    public init(engine: FaceEngine, inputs: EvaluationInputs, accept: Double, review: Double, liveness: LivenessConfig) {
        (self.engine, self.inputs, self.accept, self.review, self.liveness) = (engine, inputs, accept, review, liveness)
    }

    /// Measures everything.
    ///
    /// - Parameter progress: called with a line for each step and trial.
    /// - Returns: The report.
    /// - Throws: ``EvaluationError`` naming the input that is missing or cannot be read.
    public func run(progress: (String) -> Void = { _ in }) async throws(EvaluationError) -> AccuracyReport {
        let face = try faceComparison(progress)
        let continuity = try continuityCalibration(progress)
        let trials = try await livenessTrials(progress)
        return AccuracyReport(face: face, continuity: continuity, liveness: trials,
                              calibration: Calibration(face: face, continuity: continuity, liveness: trials))
    }

    /// The largest face's embedding, or nil when there is none.
    func embedding(_ image: Image) throws(FaceError) -> Embedding? {
        guard let face = try engine.analyze(image).faces.max(by: { $0.face.box.area < $1.face.box.area }) else { return nil }
        return try engine.embed(face.face, in: image)
    }

    func faceComparison(_ progress: (String) -> Void) throws(EvaluationError) -> FaceComparison {
        let items = try LabelledFace.collect(inputs, limits: engine.config.decode)
        var embedded: [(LabelledFace, Embedding)] = []
        var notEnrolled: [String] = []
        for (i, item) in items.enumerated() {
            progress("face comparison: [\(i + 1)/\(items.count)] \(item.name)")
            if let e = try? embedding(item.image) { embedded.append((item, e)) } else { notEnrolled.append(item.name) }
        }
        var pairs: [ScoredPair] = []
        for i in embedded.indices {
            // Video frame against video frame is left out: neighbouring frames are near copies.
            for j in embedded.indices where j > i && !(embedded[i].0.video && embedded[j].0.video) {
                let (a, ea) = embedded[i], (b, eb) = embedded[j]
                pairs.append(ScoredPair(a: a.name, b: b.name, genuine: a.identity == b.identity, score: ea.cosine(eb)))
            }
        }
        let genuine = pairs.filter(\.genuine), impostor = pairs.filter { !$0.genuine }
        guard let lowest = genuine.min(by: { $0.score < $1.score }), let highest = impostor.max(by: { $0.score < $1.score }) else {
            throw EvaluationError(.input, "the labelled faces give no genuine or no impostor pair")
        }
        let evaluation = ScoreEvaluation(genuine: genuine.map(\.score), impostor: impostor.map(\.score))
        let eer = evaluation.eer
        let thresholds = [("accept", accept), ("review", review), ("EER", eer.threshold)].map {
            FaceComparison.AtThreshold(name: $0.0, threshold: $0.1, fmr: evaluation.fmr(at: $0.1), fnmr: evaluation.fnmr(at: $0.1))
        }
        return FaceComparison(images: items.count, identities: Set(items.map(\.identity)).count, videoStep: inputs.videoStep, notEnrolled: notEnrolled,
                              genuinePairs: genuine.count, impostorPairs: impostor.count, lowestGenuine: lowest, highestImpostor: highest,
                              eer: eer.rate, eerThreshold: eer.threshold, thresholds: thresholds,
                              smallestMeasurableFMR: 1 / Double(impostor.count), pairs: pairs)
    }

    /// The photos of people other than the video's, for the continuity threshold.
    func otherPeople() throws(EvaluationError) -> [String] {
        let video = try inputs.video()
        let faces = try inputs.manifest().faces.filter { $0.identity != video.identity }.map { inputs.shared + "/" + $0.file }
        let photos = EvaluationInputs.sdist.filter { !$0.file.contains("partial") }.map { inputs.photos + "/" + $0.file }
        return photos + faces
    }

    func continuityCalibration(_ progress: (String) -> Void) throws(EvaluationError) -> ContinuityCalibration {
        let video = try inputs.video()
        var frames: [(yaw: Double, embedding: Embedding)] = []
        do {
            let source = try VideoFileSource(videoFile: video.path)
            while let frame = try source.next() {
                progress("continuity: frame \(frame.index)")
                let analysis = try engine.analyze(frame.image)
                guard analysis.faces.count == 1, let face = analysis.faces.first else { continue }
                frames.append((face.quality.pose.yaw, try engine.embed(face.face, in: frame.image)))
            }
        } catch { throw EvaluationError(.input, error.reason) }
        guard let frontal = frames.first(where: { abs($0.yaw) <= liveness.baselineMaxYaw }) else {
            throw EvaluationError(.input, "\(video.path) has no frontal frame")
        }
        // The frames a session may sample: within embedMaxYaw of the (near-zero) baseline.
        let genuine = frames.filter { abs($0.yaw - frontal.yaw) <= liveness.embedMaxYaw }.map { $0.embedding.cosine(frontal.embedding) }
        var impostors: [Double] = []
        for path in try otherPeople() {
            progress("continuity: \((path as NSString).lastPathComponent)")
            do {
                guard let e = try embedding(try Image(contentsOf: path, limits: engine.config.decode)) else { continue }
                impostors.append(e.cosine(frontal.embedding))
            } catch { throw EvaluationError(.input, error.reason) }
        }
        guard let low = genuine.min(), let high = impostors.max() else { throw EvaluationError(.input, "no frames or no other people to calibrate on") }
        let threshold = liveness.continuityThreshold
        return ContinuityCalibration(sampledFrames: genuine.count, lowestGenuine: low, otherPeople: impostors.count, highestImpostor: high,
                                     midpoint: (low + high) / 2, threshold: threshold, separates: high < threshold && threshold <= low)
    }

    /// One presentation through the liveness runner, as a session of one prompt.
    func present(_ source: any FrameSource, prompt: Prompt, ledger: any ReplayGuard) async throws(EvaluationError) -> LivenessSession {
        var session = LivenessSession(config: liveness, prompts: [prompt], issuedAtMs: 1_000_000)
        do {
            _ = try await LivenessRunner(engine: engine).run(&session, source: source, streamTimeIsRelative: true, replay: ledger)
        } catch let error as FaceError {
            throw EvaluationError(.presentation, error.reason)
        } catch {
            throw EvaluationError(.presentation, "\(error)")
        }
        return session
    }

    func livenessTrials(_ progress: (String) -> Void) async throws(EvaluationError) -> LivenessTrials {
        let video = try inputs.video()
        var rows: [LivenessTrials.Row] = []
        func record(_ species: String, _ presentation: String, _ prompt: Prompt, _ report: LivenessReport) {
            let frames = report.prompts.first.map { " (movement at frames \($0.evidenceFrames.map(String.init).joined(separator: ", ")))" } ?? ""
            progress("liveness: \(presentation), \(prompt.rawValue): \(report.passed ? "accepted" : report.failure?.rawValue ?? "refused")\(frames)")
            if let i = rows.firstIndex(where: { $0.species == species && $0.presentation == presentation && $0.prompt == prompt.rawValue }) {
                rows[i].trials += 1
                if report.passed { rows[i].accepted += 1 } else { rows[i].refusals[report.failure?.rawValue ?? "refused", default: 0] += 1 }
            } else {
                rows.append(LivenessTrials.Row(species: species, presentation: presentation, prompt: prompt.rawValue, trials: 1,
                                               accepted: report.passed ? 1 : 0,
                                               refusals: report.passed ? [:] : [report.failure?.rawValue ?? "refused": 1]))
            }
        }
        func source(_ make: () throws -> MemoryFrameSource) throws(EvaluationError) -> MemoryFrameSource {
            do { return try make() } catch let error as FaceError { throw EvaluationError(.input, error.reason) } catch {
                throw EvaluationError(.input, "\(error)")
            }
        }
        let rule = ReplayRule()
        // Bona fide: the recording turns right fully once (its second turn runs past the end of the clip),
        // so that is the one prompt it can show; as recorded and under capture changes, each a fresh session.
        var recorded: [FrameSignature] = []
        for capture in Presentations.captures {
            let session = try await present(try source { try Presentations.clip(video.path, transform: capture.transform) }, prompt: .turnRight,
                                            ledger: FixedLedger(earlier: [], rule: rule))
            if recorded.isEmpty { recorded = session.signatures }
            record("bona_fide", "the fixture video, " + capture.name, .turnRight, session.report)
        }
        // Attacks: a flat photo moved, scaled and tilted in front of the camera, for every movement prompt.
        for file in EvaluationInputs.sdist.filter({ !$0.file.contains("partial") }).map(\.file) {
            let photo: Image
            do { photo = try Image(contentsOf: inputs.photos + "/" + file, limits: engine.config.decode) } catch {
                throw EvaluationError(.input, error.reason)
            }
            for prompt in [Prompt.turnLeft, .turnRight, .lookUp, .lookDown] {
                let session = try await present(try source { try Presentations.flatPhoto(photo) }, prompt: prompt,
                                                ledger: FixedLedger(earlier: [], rule: rule))
                record("flat_photo", "a flat photo moved, scaled and tilted", prompt, session.report)
            }
        }
        // Attacks: copies of the recording that passed, against a ledger holding it.
        let ledger = FixedLedger(earlier: [recorded], rule: rule)
        for copy in Presentations.replays {
            let session = try await present(try source { try Presentations.clip(video.path, first: copy.first, transform: copy.transform) },
                                            prompt: .turnRight, ledger: ledger)
            record("replay", "a replay of a passed recording, " + copy.name, .turnRight, session.report)
        }
        let summaries = ["bona_fide", "flat_photo", "replay"].map { species -> LivenessTrials.Summary in
            let these = rows.filter { $0.species == species }
            let trials = these.map(\.trials).reduce(0, +), accepted = these.map(\.accepted).reduce(0, +)
            let errors = species == "bona_fide" ? trials - accepted : accepted
            return LivenessTrials.Summary(species: species, metric: species == "bona_fide" ? "BPCER" : "APCER", trials: trials, errors: errors,
                                          rate: trials == 0 ? 0 : Double(errors) / Double(trials),
                                          upper95: errors == 0 && trials > 0 ? 3 / Double(trials) : nil)
        }
        return LivenessTrials(sessionPrompts: liveness.promptCount, promptPool: liveness.promptPool.count, rows: rows, summaries: summaries)
    }
}

extension Calibration {
    /// The config's block from the report, rounded as it is written there.
    init(face: FaceComparison, continuity: ContinuityCalibration, liveness: LivenessTrials) {
        func r(_ v: Double, _ digits: Int) -> Double { (v * pow(10, Double(digits))).rounded() / pow(10, Double(digits)) }
        self.init()
        images = face.images
        identities = face.identities
        genuinePairs = face.genuinePairs
        impostorPairs = face.impostorPairs
        genuineMin = r(face.lowestGenuine.score, 3)
        impostorMax = r(face.highestImpostor.score, 3)
        eer = r(face.eer, 4)
        let accept = face.thresholds.first { $0.name == "accept" }, review = face.thresholds.first { $0.name == "review" }
        fmrAtAccept = r(accept?.fmr ?? 0, 4)
        fnmrAtAccept = r(accept?.fnmr ?? 0, 4)
        fmrAtReview = r(review?.fmr ?? 0, 4)
        fnmrAtReview = r(review?.fnmr ?? 0, 4)
        continuityFrames = continuity.sampledFrames
        continuityGenuineMin = r(continuity.lowestGenuine, 3)
        continuityImpostorMax = r(continuity.highestImpostor, 3)
        let bonaFide = liveness.summaries.first { $0.metric == "BPCER" }
        let attacks = liveness.summaries.filter { $0.metric == "APCER" }
        bonaFideTrials = bonaFide?.trials ?? 0
        bpcer = r(bonaFide?.rate ?? 0, 4)
        attackTrials = attacks.map(\.trials).reduce(0, +)
        apcer = r(attackTrials == 0 ? 0 : Double(attacks.map(\.errors).reduce(0, +)) / Double(attackTrials), 4)
        caveat = "\(identities) identities and \(genuinePairs + impostorPairs) pairs: an FMR below 1/\(impostorPairs) cannot be measured here; "
            + "\(bonaFideTrials) bona fide and \(attackTrials) attack presentations bound BPCER and APCER only loosely; "
            + "SFace's published LFW accuracy is at one threshold on another population"
    }
}
