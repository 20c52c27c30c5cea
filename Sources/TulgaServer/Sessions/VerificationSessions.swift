internal import Foundation
internal import Metrics
internal import TulgaFace
internal import TulgaLiveness
internal import TulgaPolicy
internal import TulgaStorage
internal import TulgaVerification

/// What a client sees of a session.
struct SessionState: Codable, Sendable {
    var sessionId: String
    var nonce: String
    var phase: String
    var prompt: String?
    var completed: Int
    var total: Int
    var progress: Double
    var hints: [String]
    var framesSeen: Int
}

/// Live verification sessions on this node. Each holds its attempt ticket and the pure
/// liveness machine; the face work runs on the pipeline pool, one frame of a session at a time.
actor VerificationSessions {
    struct Entry {
        var started: StartedAttempt
        var session: LivenessSession
        var selfieJPEG: Data?
        var busy = false
        var lastActivity: Double
        var nextIndex = 0
    }

    private var entries: [String: Entry] = [:]
    let pool: FacePipelinePool
    let store: Store
    let bands: DecisionBands
    let liveness: LivenessConfig
    let idleSeconds: Double

    init(pool: FacePipelinePool, store: Store, bands: DecisionBands, liveness: LivenessConfig, idleSeconds: Double) {
        self.pool = pool
        self.store = store
        self.bands = bands
        self.liveness = liveness
        self.idleSeconds = idleSeconds
    }

    static func nowMs() -> Double { Date().timeIntervalSince1970 * 1000 }
    var count: Int { entries.count }

    func state(_ id: String) throws -> SessionState {
        guard let e = entries[id] else { throw Problem(.notFound, "not_found", "no verification session \(id)") }
        return Self.state(id, e)
    }

    static func state(_ id: String, _ e: Entry) -> SessionState {
        let s = e.session.status
        return SessionState(sessionId: id, nonce: e.session.nonce, phase: s.phase.rawValue, prompt: s.prompt?.rawValue, completed: s.completed,
                            total: s.total, progress: s.progress, hints: s.hints.map(\.rawValue), framesSeen: e.nextIndex)
    }

    /// Starts an attempt (counted atomically in the store) and its liveness session.
    func create(iin: String, language: String) async throws -> SessionState {
        let photo = try await VerificationSteps.registryPhoto(store: store, iin: iin)
        let reference = try await pool.pipeline().withEngine { try VerificationSteps.referenceEmbedding($0, photo: photo) }
        let started = try await VerificationSteps.begin(store: store, iin: iin, language: language, reference: reference, photo: photo)
        let now = Self.nowMs()
        let id = "ver-" + makeNonce()
        let entry = Entry(started: started, session: VerificationSteps.session(liveness, for: started, issuedAtMs: now), lastActivity: now)
        entries[id] = entry
        return Self.state(id, entry)
    }

    private func claim(_ id: String) throws -> Entry {
        guard var e = entries[id] else { throw Problem(.notFound, "not_found", "no verification session \(id)") }
        guard !e.busy else { throw Problem(.conflict, "session_busy", "a frame of this session is being processed; send frames one at a time") }
        guard e.session.phase == .baseline || e.session.phase == .prompting else {
            throw Problem(.conflict, "session_finished", "the liveness check has ended (\(e.session.phase.rawValue)); finish the session")
        }
        e.busy = true
        entries[id] = e
        return e
    }

    private func release(_ id: String, _ update: (inout Entry) -> Void) {
        guard var e = entries[id] else { return }
        update(&e)
        e.busy = false
        e.lastActivity = Self.nowMs()
        entries[id] = e
    }

    /// Feeds frames, stamped on this server's clock, in order, holding the session for the whole
    /// source (a clip's chunks cannot interleave with other frames) until it ends or the check does.
    func feed(_ id: String, frames source: sending any FrameBatches) async throws -> SessionState {
        var e = try claim(id)
        let pipeline = pool.pipeline()
        do {
            batches: while e.session.phase == .baseline || e.session.phase == .prompting {
                let (images, stamps) = try source.next()
                if images.isEmpty { break }
                for (image, stamp) in zip(images, stamps) {
                    guard e.session.phase == .baseline || e.session.phase == .prompting else { break batches }
                    let frame = Frame(image: image, index: e.nextIndex, timestampMs: stamp)
                    let snapshot = e.session
                    let observation = try await pipeline.withEngine { engine in
                        try LivenessRunner(engine: engine).observe(frame, timestampMs: stamp, for: snapshot)
                    }
                    e.session.observe(observation)
                    if e.selfieJPEG == nil, e.session.selfieFrame == frame.index { e.selfieJPEG = try image.jpegData(quality: 92) }
                    e.nextIndex += 1
                }
            }
        } catch {
            release(id) { $0 = e }
            throw error
        }
        release(id) { $0 = e }
        return Self.state(id, e)
    }

    /// Ends the session: replay check, bands, record. An unfinished liveness check fails.
    func finish(_ id: String) async throws -> VerificationReport {
        var e = try claimForFinish(id)
        if e.session.phase == .baseline || e.session.phase == .prompting { e.session.endOfStream() }
        if try await store.checkAndRecordFrames(e.session.report.sampledFrameHashes), e.session.phase == .passed {
            e.session.rejectAsReplay()
        }
        do {
            let report = try await VerificationSteps.finish(store: store, bands: bands, started: e.started, report: e.session.report,
                                                            selfie: e.session.selfie, selfieJPEG: e.selfieJPEG)
            entries[id] = nil
            Counter(label: "tulga_decisions_total", dimensions: [("outcome", report.outcome.rawValue)]).increment()
            return report
        } catch {
            release(id) { _ in }
            throw error
        }
    }

    private func claimForFinish(_ id: String) throws -> Entry {
        guard var e = entries[id] else { throw Problem(.notFound, "not_found", "no verification session \(id)") }
        guard !e.busy else { throw Problem(.conflict, "session_busy", "a frame of this session is being processed") }
        e.busy = true
        entries[id] = e
        return e
    }

    /// Releases every idle session's attempt without counting it (shutdown).
    func abandonAll() async {
        for (id, e) in entries where !e.busy {
            try? await store.abandonAttempt(e.started.ticket, reason: "service shut down")
            entries[id] = nil
        }
    }

    /// Sessions idle longer than `idleSeconds` are finished (their liveness check fails).
    func reap() async {
        let limit = Self.nowMs() - idleSeconds * 1000
        for (id, e) in entries where !e.busy && e.lastActivity < limit {
            _ = try? await finish(id)
        }
    }
}
