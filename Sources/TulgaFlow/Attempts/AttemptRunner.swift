public import Foundation
public import TulgaAttempts
import TulgaCrypto
public import TulgaCore
import TulgaDigitalID
public import TulgaFace
public import TulgaFaceModel
import TulgaIdentity
public import TulgaLiveness
import TulgaLivenessRunner
public import TulgaModeration
public import TulgaPolicy
import TulgaRegistry
import TulgaStorage

/// Why an attempt could not even start.
public enum AttemptStartErrorCode: String, ErrorCode {
    /// The IIN is malformed (422).
    case invalidIIN = "invalid_iin"
    /// The registry has no such person (404).
    case notInRegistry = "not_in_registry"
    /// The registry photo has no usable face (422).
    case unusableReference = "unusable_reference"
    /// 404 for `notInRegistry`, else 422.
    public var kind: ProblemKind { self == .notInRegistry ? .notFound : .invalid }
}

/// A refusal before an attempt starts; nothing is counted.
public typealias AttemptStartError = CodedError<AttemptStartErrorCode>

/// The result of one attempt, as the applicant's shell reports it.
public struct AttemptReport: Sendable, Codable {
    /// The applicant's IIN.
    public var iin: String
    /// Pass, review or fail.
    public var outcome: AttemptOutcome
    /// The selfie's cosine with the registry photo; `nil` without a usable selfie.
    public var score: Double?
    /// The bands the score was judged by.
    public var acceptThreshold, reviewThreshold: Double
    /// Whether the liveness check passed.
    public var livenessPassed: Bool
    /// Why, in words: liveness failures, then the band.
    public var reasons: [String]
    /// How many attempts may still start.
    public var attemptsLeft: Int
    /// Whether the in-person path is open.
    public var inPersonUnlocked: Bool
    /// The moderation case a review opened.
    public var caseID: String?
    /// The liveness report.
    public var liveness: LivenessReport
}

/// What recording an attempt's decision left behind.
public struct AttemptResult: Sendable, Hashable, Codable {
    /// The attempt's id.
    public var attemptID: String
    /// Pass, review or fail.
    public var outcome: AttemptOutcome
    /// How many attempts may still start.
    public var attemptsLeft: Int
    /// Whether the in-person path is open.
    public var inPersonUnlocked: Bool
    /// The moderation case a review opened.
    public var caseID: String?
}

/// A started attempt: the ticket, the reference embedding and the registry photo.
public struct StartedAttempt: Sendable {
    /// The running attempt.
    public let ticket: AttemptTicket
    /// The registry photo's embedding.
    public let reference: Embedding
    /// The registry photo, plain, kept as evidence for a review.
    public let referencePhoto: Data
}

/// The replay ledger of the attempt records, as the liveness shells' ``ReplayGuard``.
public struct LedgerReplayGuard: ReplayGuard {
    let attempts: AttemptRecords
    /// Wraps the attempt records' ledger.
    ///
    /// - Parameter attempts: the attempt records.
    public init(_ attempts: AttemptRecords) { self.attempts = attempts }
    /// Records `hashes` in the ledger, shared by every node.
    ///
    /// - Parameter hashes: a session's sampled frame hashes.
    /// - Returns: `true` when any hash was recorded before.
    /// - Throws: ``DatabaseFailure`` from the database.
    public func checkAndRecord(_ hashes: [String]) async throws -> Bool { try await attempts.checkAndRecordFrames(hashes) }
}

/// One attempt from end to end, for every shell (the CLI's `attempt` and `kiosk`, the HTTP
/// sessions): guidance → liveness → comparison with the registry photo → the policy's decision →
/// the records, the decision's effects in one transaction.
///
/// ```swift
/// let runner = AttemptRunner(records: records, bands: bands, liveness: config)
/// let report = try await runner.run(iin: iin, source: video, engine: engine, streamTimeIsRelative: true)
/// ```
public struct AttemptRunner: Sendable {
    /// Every module's records.
    public let records: Records
    /// The score bands the decision uses.
    public let bands: DecisionBands
    /// The liveness settings.
    public let liveness: LivenessConfig

    /// Creates a runner.
    ///
    /// - Parameters:
    ///   - records: every module's records.
    ///   - bands: the score bands.
    ///   - liveness: the liveness settings.
    public init(records: Records, bands: DecisionBands, liveness: LivenessConfig) {
        (self.records, self.bands, self.liveness) = (records, bands, liveness)
    }

    /// The replay guard every shell uses.
    public var replayGuard: LedgerReplayGuard { LedgerReplayGuard(records.attempts) }

    // MARK: Steps

    /// The registry photo for `iin`, after checking the IIN.
    ///
    /// - Parameter iin: the applicant's IIN.
    /// - Returns: The registry photo, plain.
    /// - Throws: ``AttemptStartError`` `.invalidIIN` or `.notInRegistry`;
    ///   `CryptoFailure` if the photo does not open; ``StorageError``; ``DatabaseFailure``.
    public func registryPhoto(iin: String) async throws -> Data {
        do { _ = try IIN(iin) } catch { throw AttemptStartError(.invalidIIN, "invalid IIN \(iin): \(error)") }
        guard let entry = try await records.registry.entry(iin) else { throw AttemptStartError(.notInRegistry, "IIN \(iin) is not in the registry") }
        return entry.photo
    }

    /// The registry photo's face embedding.
    ///
    /// The largest face is used, even if the photo holds several.
    ///
    /// - Parameters:
    ///   - engine: the face engine.
    ///   - photo: the registry photo's bytes.
    /// - Returns: The 128-value embedding.
    /// - Throws: ``AttemptStartError`` `.unusableReference` with the photo's problems.
    ///   A ``FaceError`` from decoding or the engine is reported as `.unusableReference` too.
    public static func referenceEmbedding(_ engine: FaceEngine, photo: Data) throws -> Embedding {
        do {
            let image = try Image(decoding: photo, limits: engine.config.decode)
            switch selectFace(try engine.analyze(image), thresholds: engine.config.quality, allowSeveral: true) {
            case .success(let face): return try engine.embed(face.face, in: image)
            case .failure(let list):
                throw AttemptStartError(.unusableReference, "the registry photo cannot be used: " + list.issues.map(\.explanation).joined(separator: "; "))
            }
        } catch let error as FaceError {
            throw AttemptStartError(.unusableReference, "the registry photo cannot be used: \(error.reason)")
        }
    }

    /// Takes an attempt (counted atomically per IIN in the attempt records).
    ///
    /// - Parameters:
    ///   - iin: the applicant's IIN.
    ///   - language: the applicant's language for SMS.
    ///   - reference: the registry photo's embedding.
    ///   - photo: the registry photo, kept as evidence.
    /// - Returns: The started attempt.
    /// - Throws: ``AttemptError`` `.attemptsExhausted` when no attempt is free; ``StorageError``; ``DatabaseFailure``;
    ///   `CryptoFailure`.
    public func begin(iin: String, language: Language, reference: Embedding, photo: Data) async throws -> StartedAttempt {
        StartedAttempt(ticket: try await records.attempts.begin(iin: iin, language: language), reference: reference, referencePhoto: photo)
    }

    /// A new liveness session, prompts drawn from the CSPRNG unless given.
    ///
    /// - Parameters:
    ///   - started: the attempt; its reference is checked on sampled frames.
    ///   - prompts: fixed prompts, for tests and demos.
    ///   - issuedAtMs: the challenge's issue time, in milliseconds.
    /// - Returns: The session, in its baseline phase.
    public func session(for started: StartedAttempt, prompts: [Prompt]? = nil, issuedAtMs: Double) -> LivenessSession {
        var generator = SystemRandomNumberGenerator()
        let drawn = prompts ?? LivenessSession.drawPrompts(liveness, using: &generator)
        return LivenessSession(config: liveness, nonce: makeNonce(), prompts: drawn, issuedAtMs: issuedAtMs, reference: started.reference)
    }

    /// Ends the session (an unfinished check fails), applies the replay rule and the bands, and
    /// records the attempt with its evidence.
    ///
    /// - Parameters:
    ///   - started: the attempt.
    ///   - session: the session; ended if unfinished, failed if replayed.
    ///   - selfie: the embedding compared with the reference (the session's own, or a still's).
    ///   - selfieJPEG: the selfie photo kept as evidence for a review.
    /// - Returns: The report the shell shows.
    /// - Throws: ``AttemptError`` `.invalidState` if the attempt is not running, `.noFaceSeen` (the attempt is then
    ///   abandoned, not counted) when no frame gave a usable face; ``DatabaseFailure``; ``StorageError``; `CryptoFailure`.
    public func finish(_ started: StartedAttempt, session: inout LivenessSession, selfie: Embedding?, selfieJPEG: Data?) async throws -> AttemptReport {
        if session.phase == .baseline || session.phase == .prompting { session.endOfStream() }
        // Nobody was judged: no frame gave a usable face. Not the applicant's failure, and no way to
        // burn their attempts with sessions that show nothing.
        guard session.usableFaceSeen else {
            try await records.attempts.abandon(started.ticket, reason: "no usable face was seen")
            throw AttemptError(.noFaceSeen, "no usable face was seen, so this attempt was not counted: face the camera alone, in good light, and try again")
        }
        try await replayGuard.check(&session)
        let report = session.report
        let score = selfie.map { $0.cosine(started.reference) }
        let outcome = score.map { bands.decide(score: $0, livenessPassed: report.passed) } ?? .fail
        var reasons = report.reasons
        if score == nil { reasons.append("no usable selfie to compare") }
        switch outcome {
        case .review: reasons.append(String(format: "score %.3f is in the review band [%.3f, %.3f)", score ?? 0, bands.review, bands.accept))
        case .fail where report.passed: reasons.append(String(format: "score %.3f is below the review threshold %.3f", score ?? 0, bands.review))
        default: break
        }
        let reportJSON = String(decoding: try JSONEncoder().encode(report), as: UTF8.self)
        let result = try await record(started.ticket, outcome: outcome, score: score, livenessPassed: report.passed, reason: reasons.joined(separator: "; "),
                                      evidence: Evidence(selfie: selfieJPEG, reference: started.referencePhoto, livenessReport: reportJSON))
        return AttemptReport(iin: started.ticket.iin, outcome: outcome, score: score, acceptThreshold: bands.accept, reviewThreshold: bands.review,
                             livenessPassed: report.passed, reasons: reasons, attemptsLeft: result.attemptsLeft,
                             inPersonUnlocked: result.inPersonUnlocked, caseID: result.caseID, liveness: report)
    }

    /// Records a decided attempt in one transaction: the attempt and the counter; a pass creates
    /// the Digital ID, a review opens a case with sealed evidence, a failure counts.
    ///
    /// - Parameters:
    ///   - ticket: the running attempt.
    ///   - outcome: the decision.
    ///   - score: the face-comparison score, when there is one.
    ///   - livenessPassed: whether liveness passed.
    ///   - reason: why, in words; stored with the attempt and any case.
    ///   - evidence: the selfie, reference and liveness report; sealed before storing.
    /// - Returns: The attempt's outcome, the attempts left, and any case opened.
    /// - Throws: ``AttemptError`` `.invalidState` or `.notFound`; ``AttemptStartError`` `.notInRegistry` for a pass
    ///   without a registry entry; `CryptoFailure`; ``StorageError``; ``DatabaseFailure``.
    public func record(_ ticket: AttemptTicket, outcome: AttemptOutcome, score: Double?, livenessPassed: Bool, reason: String,
                       evidence: Evidence) async throws -> AttemptResult {
        let now = records.clock.now(), policy = records.settings.attempts, cipher = records.cipher, caseID = try newRecordID("case")
        let sealed = (selfie: try evidence.selfie.map { try cipher.seal($0) }, reference: try evidence.reference.map { try cipher.seal($0) },
                      keyID: cipher.keyID)
        return try await records.database.transaction { db in
            let counter = try AttemptRecords.end(db, ticket, event: .finish(outcome), score: score, livenessPassed: livenessPassed, reason: reason, at: now)
            var opened: String?
            switch outcome {
            case .pass:
                guard let person = try RegistryRecords.person(db, iin: ticket.iin) else {
                    throw AttemptStartError(.notInRegistry, "IIN \(ticket.iin) is not in the registry")
                }
                try DigitalIDRecords.create(db, iin: ticket.iin, surname: person.surname, givenName: person.givenName,
                                            documentNumber: person.documentNumber, verifiedBy: "automatic", at: now)
            case .review:
                try ModerationRecords.openCase(db, id: caseID, iin: ticket.iin, attemptID: ticket.id, score: score ?? 0, reason: reason,
                                               sealed: sealed, livenessReport: evidence.livenessReport, at: now)
                opened = caseID
            case .fail: break
            }
            try AuditLog.append(db, at: now, actor: "policy", action: "attempt.\(outcome.rawValue)", subject: ticket.id,
                                detail: String(format: "score=%.4f liveness=%@", score ?? -1, livenessPassed ? "passed" : "failed"))
            return AttemptResult(attemptID: ticket.id, outcome: outcome, attemptsLeft: policy.attemptsLeft(failures: counter.failures, running: counter.running),
                                 inPersonUnlocked: policy.inPersonUnlocked(failures: counter.failures), caseID: opened)
        }
    }

    // MARK: Whole runs

    /// Guidance (when `guided`), then the liveness prompts over `source`, for a shell that reads
    /// frames itself. Returns the finished session and the frame that became its selfie.
    ///
    /// - Parameters:
    ///   - liveness: the liveness settings.
    ///   - source: the frames.
    ///   - engine: the face engine.
    ///   - reference: the registry photo's embedding, checked on sampled frames.
    ///   - prompts: fixed prompts, for tests and demos.
    ///   - guided: run the guidance phase first, as a kiosk does.
    ///   - issuedAtMs: the challenge's issue time when not guided (a video file: 0, its stream time is relative).
    ///   - streamTimeIsRelative: `true` for a file (timestamps from 0), `false` for a camera.
    ///   - replay: the guard the sampled frame hashes are checked against.
    ///   - onHints: guidance hints per frame.
    ///   - onStatus: the session's status per frame.
    /// - Returns: The finished session and the selfie frame; a source that ends during guidance gives a failed
    ///   session and no frame.
    /// - Throws: ``FaceError`` from the frame source or the face engine; whatever `replay` throws.
    public static func runLiveness(config liveness: LivenessConfig, source: any FrameSource, engine: FaceEngine, reference: Embedding?, prompts: [Prompt]? = nil, guided: Bool,
                         issuedAtMs: Double, streamTimeIsRelative: Bool, replay: any ReplayGuard,
                         onHints: ([Hint]) -> Void = { _ in },
                         onStatus: (LivenessStatus, FrameObservation) -> Void = { _, _ in }) async throws -> (session: LivenessSession, selfie: Image?) {
        let runner = LivenessRunner(engine: engine, eyes: liveness.promptPool.contains(.blink) ? try? EyeDetector() : nil)
        var issued: Double? = issuedAtMs
        if guided {
            var guidance = Guidance(config: liveness)
            issued = try runner.guide(&guidance, source: source, onHints: onHints)
        }
        var generator = SystemRandomNumberGenerator()
        var session = LivenessSession(config: liveness, nonce: makeNonce(), prompts: prompts ?? LivenessSession.drawPrompts(liveness, using: &generator),
                                      issuedAtMs: issued ?? 0, reference: reference)
        guard issued != nil else {
            session.endOfStream()
            return (session, nil)
        }
        let run = try await runner.run(&session, source: source, streamTimeIsRelative: streamTimeIsRelative, replay: replay, onStatus: onStatus)
        return (session, run.selfie)
    }

    /// A whole attempt for `iin` over `source` (the CLI's `attempt`). `selfie`, when given, is a
    /// still photo compared with the reference instead of the session's own selfie frame. An
    /// attempt we fail to process is abandoned, not counted.
    ///
    /// - Parameters:
    ///   - iin: the applicant's IIN.
    ///   - source: the frames.
    ///   - engine: the face engine.
    ///   - streamTimeIsRelative: `true` for a file (timestamps from 0), `false` for a camera.
    ///   - selfie: a still photo to compare instead of the session's selfie frame.
    ///   - prompts: fixed prompts, for tests and demos.
    ///   - language: the applicant's language for SMS.
    ///   - guided: run the guidance phase first, as a kiosk does.
    ///   - issuedAtMs: the challenge's issue time; the clock's now by default.
    /// - Returns: The attempt's report.
    /// - Throws: ``AttemptStartError`` before the attempt starts; ``AttemptError`` `.attemptsExhausted`; a
    ///   ``FaceError``, ``DatabaseFailure``, ``StorageError`` or `CryptoFailure` while processing (the attempt is then
    ///   abandoned).
    public func run(iin: String, source: any FrameSource, engine: FaceEngine, streamTimeIsRelative: Bool, selfie: Image? = nil,
                    prompts: [Prompt]? = nil, language: Language = .ru, guided: Bool = false, issuedAtMs: Double? = nil) async throws -> AttemptReport {
        let photo = try await registryPhoto(iin: iin)
        let reference = try Self.referenceEmbedding(engine, photo: photo)
        let started = try await begin(iin: iin, language: language, reference: reference, photo: photo)
        do {
            var (session, frame) = try await Self.runLiveness(config: liveness, source: source, engine: engine, reference: reference, prompts: prompts, guided: guided,
                                                      issuedAtMs: issuedAtMs ?? records.clock.nowMs(), streamTimeIsRelative: streamTimeIsRelative,
                                                      replay: NoReplayGuard())
            var embedding = session.selfie
            var jpeg = try frame?.jpegData(quality: 92)
            if let selfie {
                jpeg = try selfie.jpegData(quality: 92)
                embedding = nil
                if case .success(let face) = selectFace(try engine.analyze(selfie), thresholds: engine.config.quality, allowSeveral: false) {
                    embedding = try engine.embed(face.face, in: selfie)
                }
            }
            return try await finish(started, session: &session, selfie: embedding, selfieJPEG: jpeg)
        } catch {
            try? await records.attempts.abandon(started.ticket, reason: "processing error: \(type(of: error))")
            throw error
        }
    }
}

/// For a run whose replay check happens later, in ``AttemptRunner/finish(_:session:selfie:selfieJPEG:)``.
struct NoReplayGuard: ReplayGuard {
    func checkAndRecord(_ hashes: [String]) async throws -> Bool { false }
}
