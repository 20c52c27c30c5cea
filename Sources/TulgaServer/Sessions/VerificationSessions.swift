import Foundation
import Metrics
import TulgaCore
import TulgaFace
import TulgaFaceModel
import TulgaFlow
import TulgaLiveness
import TulgaLivenessRunner
import HTTPTypes
import Hummingbird
import TulgaConfig
import TulgaAttempts
import TulgaPolicy
import TulgaModeration
import TulgaDigitalID
import TulgaDocument
import Synchronization

/// Whether the identity-document step is required, and where it stands (see ``DocumentView/state``).
struct DocumentStatus: Codable, Sendable {
    var required: Bool
    var state: String
}

/// What a client sees of a session.
struct SessionState: Codable, Sendable {
    var sessionId: String
    var phase: String
    var prompt: String?
    var completed: Int
    var total: Int
    var progress: Double
    var hints: [String]
    var framesSeen: Int
    /// Whether a selfie photo was taken before the video (`POST …/selfie`).
    var selfieTaken: Bool
    /// The identity-document step that follows the video check and the PIN.
    var document: DocumentStatus
}

/// The HTTP side of attempts: live sessions on this node by id, one request at a time each,
/// idle ones reaped. Starting, deciding and recording are the ``AttemptRunner``'s; the face
/// work runs on the pipeline pool; frames are stamped on the injected clock.
actor VerificationSessions {
    struct Entry: Sendable {
        /// The API key that created the session; every other key gets 404.
        let owner: String
        var started: StartedAttempt
        var session: LivenessSession
        /// The selfie photo's embedding, from `POST …/selfie`; without one, the first frontal frame's.
        var selfiePhoto: Embedding?
        /// The selfie photo, or the first frontal frame; kept as evidence.
        var selfieImage: Image?
        /// The first sampled frame that did not match the selfie photo; kept as evidence beside it.
        var mismatchImage: Image?
        var busy = false
        var lastActivity: Double
        var createdAt: Double
        var nextIndex = 0
        /// The server's stamp of the last frame fed; the next frames must come later.
        var lastStampMs: Double?
    }

    var entries: [String: Entry] = [:]
    /// Finished sessions whose identity-document step may still be taken (passed, or sent to a
    /// moderator), with the selfie in memory only; one per key and IIN, for `documentSeconds`.
    var stages: [String: DocumentStage] = [:]
    /// Finished sessions' results, kept `idleSeconds`: a client that lost the answer asks again and
    /// gets the same one (its owner only).
    var finished: [String: (owner: String, result: Result<AttemptReport, AttemptError>, at: Double)] = [:]
    /// Owner and IIN of sessions being created (the actor is re-entered across their awaits).
    private var creating: Set<String> = []
    let pool: FacePipelinePool
    let runner: AttemptRunner
    let clock: any WallClock
    let idleSeconds: Double
    /// How long a session may go without a usable face or a selfie.
    let faceWithinSeconds: Double
    /// The longest a session lives, however active: less than its attempt's lease.
    let lifetimeSeconds: Double
    /// The identity-document step: its order, reading and comparison.
    let documents: DocumentStep
    /// How long after the verification its document step stays open on this node.
    let documentSeconds: Double
    /// Tesseract, loaded on the first document.
    let ocr = LazyOCR()

    init(pool: FacePipelinePool, runner: AttemptRunner, clock: any WallClock, idleSeconds: Double, faceWithinSeconds: Double = 60, lifetimeSeconds: Double,
         documentSeconds: Double = 3600) {
        self.pool = pool
        self.runner = runner
        self.clock = clock
        self.idleSeconds = idleSeconds
        self.faceWithinSeconds = faceWithinSeconds
        self.lifetimeSeconds = lifetimeSeconds
        self.documents = DocumentStep(records: runner.records, bands: runner.bands)
        self.documentSeconds = documentSeconds
    }

    var count: Int { entries.count }

    func state(_ id: String, owner: String) throws -> SessionState {
        Self.state(id, try entry(id, owner: owner), documentRequired: documents.required)
    }

    /// The session's state: a live one's, or, once finished, how it ended and where its document step stands.
    func sessionState(_ id: String, owner: String) async throws -> SessionState {
        if let e = entries[id], e.owner == owner { return Self.state(id, e, documentRequired: documents.required) }
        guard let stage = stages[id], stage.owner == owner, stage.expiresAt >= clock.nowMs() else {
            throw Problem(.notFound, "not_found", "no verification session \(id)")
        }
        var state = stage.ended
        state.document = DocumentStatus(required: documents.required, state: try await documentState(stage))
        return state
    }

    /// The session when `owner` created it; absent otherwise, as if it did not exist.
    private func entry(_ id: String, owner: String?) throws -> Entry {
        guard let e = entries[id], owner == nil || e.owner == owner else { throw Problem(.notFound, "not_found", "no verification session \(id)") }
        return e
    }

    static func state(_ id: String, _ e: Entry, documentRequired: Bool) -> SessionState {
        let s = e.session.status
        return SessionState(sessionId: id, phase: s.phase.rawValue, prompt: s.prompt?.rawValue, completed: s.completed,
                            total: s.total, progress: s.progress, hints: s.hints.map(\.rawValue), framesSeen: e.nextIndex,
                            selfieTaken: e.selfiePhoto != nil,
                            document: DocumentStatus(required: documentRequired, state: documentRequired ? "verification" : "not_required"))
    }

    /// Starts an attempt (counted atomically in the records) and its liveness session. `runBy` is
    /// the caller's owner tag, recorded with the attempt: a pass lets it alone set the first PIN.
    func create(iin: String, language: Language, owner: String, runBy: String) async throws -> SessionState {
        // One live session per person per calling system: a key cannot hold all of someone's attempts at once.
        let slot = owner + " " + iin
        if creating.contains(slot) || entries.values.contains(where: { $0.owner == owner && $0.started.ticket.iin == iin }) {
            throw Problem(.conflict, "session_exists", "this key has a verification session for this IIN already: finish it first")
        }
        creating.insert(slot)
        defer { creating.remove(slot) }
        let runner = runner
        // The registry photo's embedding is cached in the registry (keyed by photo and models), not computed per attempt.
        let pool = pool
        let models = try await pool.pipeline().withEngine { try FaceModels.fingerprint($0.config) }
        let (photo, reference) = try await runner.reference(iin: iin, models: models) { photo in
            try await pool.pipeline().withEngine { try AttemptRunner.referenceEmbedding($0, photo: photo) }
        }
        let started = try await runner.begin(iin: iin, language: language, owner: runBy, reference: reference, photo: photo)
        let now = clock.nowMs()
        let id = "ver-" + makeNonce()
        let entry = Entry(owner: owner, started: started, session: runner.session(issuedAtMs: now), lastActivity: now, createdAt: now)
        entries[id] = entry
        return Self.state(id, entry, documentRequired: documents.required)
    }

    /// Marks the session busy (one request at a time) and hands it out; ``release(_:_:)`` puts it back.
    private func claim(_ id: String, owner: String?, whileRunning: Bool) throws -> Entry {
        var e = try entry(id, owner: owner)
        guard !e.busy else { throw Problem(.conflict, "session_busy", "a frame of this session is being processed; send frames one at a time") }
        if whileRunning, e.session.phase != .baseline, e.session.phase != .prompting {
            throw Problem(.conflict, "session_finished", "the liveness check has ended (\(e.session.phase.rawValue)); finish the session")
        }
        e.busy = true
        entries[id] = e
        return e
    }

    private func claimRunning(_ id: String, owner: String) throws -> Entry { try claim(id, owner: owner, whileRunning: true) }

    private func release(_ id: String, _ e: Entry?) {
        guard var current = entries[id] else { return }
        if let e { current = e }
        current.busy = false
        current.lastActivity = clock.nowMs()
        entries[id] = current
    }

    /// The selfie step: a still photo with one usable face, taken before the video and as often as
    /// the applicant likes until the first frame (nothing is counted). The challenge is issued
    /// anew at the selfie, and every sampled frame of the video is compared with it. The session
    /// is looked up (404) before the body is read, and claimed before it is decoded; decoding and
    /// embedding run outside the actor.
    nonisolated func takeSelfie(_ id: String, owner: String, body: () async throws -> Data, decode: (Data) throws -> Image) async throws -> SessionState {
        _ = try await state(id, owner: owner)
        let data = try await body()
        var e = try await claimRunning(id, owner: owner)
        do {
            guard e.nextIndex == 0 else {
                throw Problem(.conflict, "selfie_after_video", "the selfie comes before the video; this session has frames already")
            }
            let image = try decode(data)
            let embedding = try await pool.pipeline().withEngine { try AttemptRunner.selfieEmbedding($0, image: image) }
            try AttemptRunner.checkNotReference(embedding, reference: e.started.reference)
            (e.selfieImage, e.selfiePhoto) = (image, embedding)
            let old = e.session, now = clock.nowMs()
            e.session = LivenessSession(config: old.config, prompts: old.prompts, issuedAtMs: now, selfiePhoto: embedding)
            e.lastStampMs = nil
        } catch {
            await release(id, nil)
            throw error
        }
        await release(id, e)
        return Self.state(id, e, documentRequired: documents.required)
    }

    /// Feeds frames in order. The session is looked up (404 for another key) before the body is
    /// read, so nothing is buffered for someone else's session; then claimed (409 while busy), so
    /// a stalled upload never holds it; then `frames` decodes the body, given the earliest stamp a
    /// frame may carry. Decoding and the face work run outside the actor, so a large upload never
    /// holds up other sessions. The claim lasts for the whole source (a clip's chunks cannot
    /// interleave with other frames). A source that fails part-way changes nothing: the session
    /// goes back as it was claimed.
    nonisolated func feed(_ id: String, owner: String, body: () async throws -> Data,
                          frames: (_ data: Data, _ notBeforeMs: Double) throws -> any FrameBatches) async throws -> SessionState {
        _ = try await state(id, owner: owner)
        let data = try await body()
        var e = try await claimRunning(id, owner: owner)
        do {
            let source = try frames(data, e.lastStampMs ?? e.session.issuedAtMs)
            let pipeline = pool.pipeline()
            // The whole source is read: once the check has ended, the rest of a clip is only hashed, so
            // the replay ledger holds all of a recording (its unused tail cannot pass another attempt).
            while true {
                let (images, stamps) = try source.next()
                if images.isEmpty { break }
                for (image, stamp) in zip(images, stamps) {
                    guard e.session.phase == .baseline || e.session.phase == .prompting else {
                        let hash = try await pipeline.withEngine { try LivenessRunner(engine: $0).hash(image) }
                        if let hash { e.session.recordAfterEnd(index: e.nextIndex, hash: hash) }
                        e.nextIndex += 1
                        continue
                    }
                    guard stamp > (e.lastStampMs ?? -.infinity) else {
                        throw Problem(.unprocessableContent, "clip_timing", "a frame is stamped before the previous one")
                    }
                    let frame = Frame(image: image, index: e.nextIndex, timestampMs: stamp)
                    let snapshot = e.session
                    let observation = try await pipeline.withEngine { engine in
                        try LivenessRunner(engine: engine).observe(frame, timestampMs: stamp, for: snapshot)
                    }
                    e.session.observe(observation)
                    if e.selfieImage == nil, e.session.selfieFrame == frame.index { e.selfieImage = image }
                    if e.mismatchImage == nil, e.session.selfieMismatch?.frame == frame.index { e.mismatchImage = image }
                    e.nextIndex += 1
                    e.lastStampMs = stamp
                }
            }
            // Judged: if the service stops before the finish, the lease's expiry still counts this failure.
            if e.session.phase == .failed, e.session.usableFaceSeen { try await runner.records.attempts.markFailed(e.started.ticket) }
        } catch {
            await release(id, nil)
            throw error
        }
        await release(id, e)
        return Self.state(id, e, documentRequired: documents.required)
    }

    /// Ends the session through the attempt runner (replay rule, bands, records).
    /// `owner` nil: the reaper, acting for the service.
    func finish(_ id: String, owner: String?) async throws -> AttemptReport {
        if entries[id] == nil, let done = finished[id], owner == nil || done.owner == owner { return try done.result.get() }
        var e = try claim(id, owner: owner, whileRunning: false)
        do {
            let evidence = try AttemptRunner.evidencePhoto(selfie: e.selfieImage, mismatch: e.mismatchImage)
            let selfie = e.selfiePhoto ?? e.session.selfie
            let report = try await runner.finish(e.started, session: &e.session, selfie: selfie, selfieJPEG: evidence)
            entries[id] = nil
            finished[id] = (e.owner, .success(report), clock.nowMs())
            if report.outcome != .fail, documents.required { openDocumentStage(id, e, selfie: selfie, outcome: report.outcome) }
            Counter(label: "tulga_decisions_total", dimensions: [("outcome", report.outcome.rawValue)]).increment()
            return report
        } catch let error as AttemptError where error.code == .noFaceSeen {
            entries[id] = nil   // abandoned, not counted: the session is over
            finished[id] = (e.owner, .failure(error), clock.nowMs())
            throw error
        } catch {
            release(id, nil)
            throw error
        }
    }

    /// At shutdown: a session already judged (its check failed) is finished and counts; any other
    /// is released without counting (the service, not the applicant, stopped).
    func abandonAll() async {
        for (id, e) in entries where !e.busy {
            if e.session.phase == .failed, e.session.usableFaceSeen {
                _ = try? await finish(id, owner: nil)
            } else {
                try? await runner.records.attempts.abandon(e.started.ticket, reason: "service shut down")
            }
            entries[id] = nil
        }
    }

    /// Sessions idle longer than `idleSeconds`, older than `lifetimeSeconds`, or `faceWithinSeconds` old
    /// without a usable face or a selfie, are finished: their liveness check fails, or, with no usable face seen, the
    /// attempt is abandoned (so no key holds someone's attempts with empty sessions).
    func reap() async {
        let now = clock.nowMs()
        finished = finished.filter { $0.value.at >= now - idleSeconds * 1000 }
        stages = stages.filter { $0.value.busy || $0.value.expiresAt >= now }
        for (id, e) in entries where !e.busy && (e.lastActivity < now - idleSeconds * 1000 || e.createdAt < now - lifetimeSeconds * 1000
                                                 || (!e.session.usableFaceSeen && e.selfiePhoto == nil && e.createdAt < now - faceWithinSeconds * 1000)) {
            _ = try? await finish(id, owner: nil)
            entries[id] = nil   // abandoned (no face) or refused: either way it is over
        }
    }
}
