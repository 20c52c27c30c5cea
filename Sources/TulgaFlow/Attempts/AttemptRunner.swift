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

    /// The replay rule, applied in the transaction that records an attempt.
    public var replayRule: ReplayRule { ReplayRule() }

    // MARK: Steps

    /// The registry photo for `iin`, after checking the IIN.
    ///
    /// - Parameter iin: the applicant's IIN.
    /// - Returns: The registry photo, plain.
    /// - Throws: ``AttemptStartError`` `.invalidIIN` or `.notInRegistry`;
    ///   `CryptoFailure` if the photo does not open; ``StorageError``; ``DatabaseFailure``.
    public func registryPhoto(iin: String) async throws -> Data { try await registryEntry(iin: iin).photo }

    /// The registry entry for `iin`, photo opened, after checking the IIN; throws as ``registryPhoto(iin:)``.
    func registryEntry(iin: String) async throws -> RegistryEntry {
        do { _ = try IIN(iin) } catch { throw AttemptStartError(.invalidIIN, "invalid IIN \(iin): \(error)") }
        guard let entry = try await records.registry.entry(iin) else { throw AttemptStartError(.notInRegistry, "IIN \(iin) is not in the registry") }
        return entry
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
    public func begin(iin: String, language: Language, owner: String? = nil, reference: Embedding, photo: Data) async throws -> StartedAttempt {
        StartedAttempt(ticket: try await records.attempts.begin(iin: iin, language: language, owner: owner), reference: reference, referencePhoto: photo)
    }

    /// A new liveness session, prompts drawn from the CSPRNG unless given.
    ///
    /// - Parameters:
    ///   - prompts: fixed prompts, for tests and demos.
    ///   - issuedAtMs: the challenge's issue time, in milliseconds.
    ///   - selfiePhoto: the selfie photo's embedding, when one was taken; sampled frames must match it.
    /// - Returns: The session, in its baseline phase.
    public func session(prompts: [Prompt]? = nil, issuedAtMs: Double, selfiePhoto: Embedding? = nil) -> LivenessSession {
        var generator = SystemRandomNumberGenerator()
        let drawn = prompts ?? LivenessSession.drawPrompts(liveness, using: &generator)
        return LivenessSession(config: liveness, prompts: drawn, issuedAtMs: issuedAtMs, selfiePhoto: selfiePhoto)
    }

    /// What an attempt's result is, judged from the liveness report, the replay rule and the
    /// scores against the registry photo. Pure.
    ///
    /// - A replayed session, or one whose prompts failed, fails.
    /// - A passed session whose video did not match its selfie photo goes to a moderator when both
    ///   the selfie and the best video frame reach the review band against the registry photo
    ///   (seed 004: a selfie that does not match the video is checked by a moderator, who sees the
    ///   selfie, the video frame and the registry photo), else fails.
    /// - Any other passed session is judged by the bands on the lower of the selfie's and the best
    ///   video frame's score, so a still photo alone (the registry photo itself, say) never
    ///   carries a decision the live face would not.
    ///
    /// - Parameters:
    ///   - report: the liveness report.
    ///   - replayed: whether the replay rule matched an earlier attempt.
    ///   - selfie: the selfie's cosine with the registry photo, when there is a usable selfie.
    ///   - live: the best sampled video frame's cosine with it.
    ///   - bands: the decision bands.
    /// - Returns: The outcome, the reasons in words, and the score judged.
    public static func decide(_ report: LivenessReport, replayed: Bool, selfie: Double?, live: Double?,
                              bands: DecisionBands) -> (outcome: AttemptOutcome, reasons: [String], score: Double?) {
        var reasons = report.reasons
        guard let selfie else { return (.fail, reasons + ["no usable selfie to compare"], nil) }
        let score = min(selfie, live ?? -1)
        if replayed { return (.fail, [FailureReason.replayed.words], score) }
        guard report.passed else { return (.fail, reasons, score) }
        if let mismatch = report.selfieMismatch {
            reasons.append(String(format: "video frame %d does not match the selfie photo (%.3f)", mismatch.frame, mismatch.score))
            // Both must resemble the registry photo: someone else's live face with the citizen's photo opens no case.
            guard selfie >= bands.review, (live ?? -1) >= bands.review else {
                return (.fail, reasons + [String(format: "the selfie scores %.3f and the best video frame %.3f against the registry photo; a case needs both at the review threshold %.3f",
                                                 selfie, live ?? -1, bands.review)], score)
            }
            return (.review, reasons + ["a moderator compares the selfie, the video frame and the registry photo"], score)
        }
        if live ?? -1 < selfie { reasons.append(String(format: "the best video frame scores %.3f against the registry photo, the selfie %.3f", live ?? -1, selfie)) }
        let outcome = bands.decide(score: score, livenessPassed: true)
        switch outcome {
        case .review: reasons.append(String(format: "score %.3f is in the review band [%.3f, %.3f)", score, bands.review, bands.accept))
        case .fail: reasons.append(String(format: "score %.3f is below the review threshold %.3f", score, bands.review))
        case .pass: break
        }
        return (outcome, reasons, score)
    }

    /// A selfie that is the registry photo itself (or nearly) scores at least this against it; no
    /// camera takes such a picture again, so it is refused.
    public static let duplicateOfReference = 0.95

    /// Refuses a selfie that is the registry photo over again.
    ///
    /// - Parameters:
    ///   - selfie: the selfie's embedding.
    ///   - reference: the registry photo's embedding.
    /// - Throws: ``SelfieError`` `.registryPhoto`.
    public static func checkNotReference(_ selfie: Embedding, reference: Embedding) throws {
        if selfie.cosine(reference) >= duplicateOfReference {
            throw SelfieError(.registryPhoto, "the selfie is the registry photo: take it now with the camera")
        }
    }

    /// The selfie kept as evidence: the selfie photo, and beside it the video frame that did not
    /// match it, when there is one (the moderator compares both with the registry photo).
    ///
    /// - Parameters:
    ///   - selfie: the selfie photo or frame.
    ///   - mismatch: the video frame that did not match it.
    /// - Returns: A JPEG, or `nil` without a selfie.
    /// - Throws: ``FaceError`` if the pictures cannot be joined or encoded.
    public static func evidencePhoto(selfie: Image?, mismatch: Image?) throws -> Data? {
        guard let selfie else { return try mismatch?.jpegData(quality: 92) }
        guard let mismatch else { return try selfie.jpegData(quality: 92) }
        return try selfie.sideBySide(with: mismatch, height: 480).jpegData(quality: 92)
    }

    /// Ends the session (an unfinished check fails), then records the attempt: in one transaction
    /// holding the applicant's lock, the replay rule against the IIN's earlier attempts, the
    /// decision, the frames' sealed signatures, and the decision's effects.
    ///
    /// - Parameters:
    ///   - started: the attempt.
    ///   - session: the session; ended if unfinished, failed if replayed.
    ///   - selfie: the selfie's embedding (the selfie photo's, or the session's first frontal frame's).
    ///   - selfieJPEG: the selfie kept as evidence for a review (see ``evidencePhoto(selfie:mismatch:)``).
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
        let signatures = session.signatures
        let selfieScore = selfie.map { $0.cosine(started.reference) }
        let liveScore = signatures.compactMap { $0.embedding?.cosine(started.reference) }.max()
        let (report, bands, rule, cipher) = (session.report, bands, replayRule, records.cipher)
        let encodedSignatures = try JSONEncoder().encode(signatures)
        let ticket = started.ticket
        let (result, decision, replayed) = try await records.database.transaction { db in
            try db.lock("applicant:" + ticket.iin)
            let earlier = try AttemptRecords.frameSignatures(db, iin: ticket.iin, key: cipher).map {
                try JSONDecoder().decode([FrameSignature].self, from: $0)
            }
            let replayed = rule.isReplay(signatures, earlier: earlier)
            var judged = report
            if replayed { (judged.passed, judged.failure, judged.reasons) = (false, .replayed, [FailureReason.replayed.words]) }
            let decision = Self.decide(judged, replayed: replayed, selfie: selfieScore, live: liveScore, bands: bands)
            try AttemptRecords.recordFrameSignatures(db, ticket, encodedSignatures, key: cipher, at: records.clock.now())
            let evidence = Evidence(selfie: selfieJPEG, reference: started.referencePhoto,
                                    livenessReport: String(decoding: try JSONEncoder().encode(judged), as: UTF8.self))
            let result = try record(db, ticket, outcome: decision.outcome, score: decision.score, livenessPassed: judged.passed,
                                    reason: decision.reasons.joined(separator: "; "), evidence: evidence)
            return (result, decision, replayed)
        }
        if replayed { session.rejectAsReplay() }
        return AttemptReport(iin: ticket.iin, outcome: decision.outcome, score: decision.score, acceptThreshold: bands.accept, reviewThreshold: bands.review,
                             livenessPassed: session.report.passed, reasons: decision.reasons, attemptsLeft: result.attemptsLeft,
                             inPersonUnlocked: result.inPersonUnlocked, caseID: result.caseID, liveness: session.report)
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
    ///   - evidence: the selfie, reference and liveness report; sealed to the case's row if one opens.
    /// - Returns: The attempt's outcome, the attempts left, and any case opened.
    /// - Throws: ``AttemptError`` `.invalidState` or `.notFound`; ``AttemptStartError`` `.notInRegistry` for a pass
    ///   without a registry entry; `CryptoFailure`; ``StorageError``; ``DatabaseFailure``.
    public func record(_ ticket: AttemptTicket, outcome: AttemptOutcome, score: Double?, livenessPassed: Bool, reason: String,
                       evidence: Evidence) async throws -> AttemptResult {
        try await records.database.transaction { db in
            try record(db, ticket, outcome: outcome, score: score, livenessPassed: livenessPassed, reason: reason, evidence: evidence)
        }
    }

    private func record(_ db: any SQLSession, _ ticket: AttemptTicket, outcome: AttemptOutcome, score: Double?, livenessPassed: Bool, reason: String,
                        evidence: Evidence) throws -> AttemptResult {
        let now = records.clock.now(), policy = records.settings.attempts
        let counter = try AttemptRecords.end(db, ticket, event: .finish(outcome), score: score, livenessPassed: livenessPassed, reason: reason, at: now)
        var opened: String?
        switch outcome {
        case .pass:
            guard let person = try RegistryRecords.person(db, iin: ticket.iin) else {
                throw AttemptStartError(.notInRegistry, "IIN \(ticket.iin) is not in the registry")
            }
            try DigitalIDRecords.create(db, iin: ticket.iin, surname: person.surname, givenName: person.givenName, patronymic: person.patronymic,
                                        documentNumber: person.documentNumber, verifiedBy: "automatic", pinSetter: ticket.owner, at: now)
        case .review:
            let caseID = try newRecordID("case")
            try ModerationRecords.openCase(db, key: records.cipher, id: caseID, iin: ticket.iin, attemptID: ticket.id, score: score ?? 0,
                                           reason: reason, evidence: evidence, at: now)
            opened = caseID
        case .fail: break
        }
        try AuditLog.append(db, at: now, actor: "policy", action: "attempt.\(outcome.rawValue)", subject: ticket.id,
                            detail: String(format: "score=%.4f liveness=%@", score ?? -1, livenessPassed ? "passed" : "failed"))
        return AttemptResult(attemptID: ticket.id, outcome: outcome, attemptsLeft: policy.attemptsLeft(failures: counter.failures, running: counter.running),
                             inPersonUnlocked: policy.inPersonUnlocked(failures: counter.failures), caseID: opened)
    }

    // MARK: Whole runs

    /// The selfie photo's embedding: one usable face (size, light, sharpness, frontal pose), or a
    /// refusal the applicant can act on by taking it again («Попробовать еще раз»).
    ///
    /// - Parameters:
    ///   - engine: the face engine.
    ///   - image: the still photo.
    /// - Returns: The embedding.
    /// - Throws: ``SelfieError`` `.unusableSelfie` with what to fix; ``FaceError`` from the engine.
    public static func selfieEmbedding(_ engine: FaceEngine, image: Image) throws -> Embedding {
        switch selectFace(try engine.analyze(image), thresholds: engine.config.quality, allowSeveral: false) {
        case .success(let face): return try engine.embed(face.face, in: image)
        case .failure(let list):
            throw SelfieError(.unusableSelfie, "the selfie cannot be used: " + list.issues.map(\.explanation).joined(separator: "; ") + "; take it again")
        }
    }

    /// Guidance (when `guided`), then the liveness prompts over `source`, for a shell that reads
    /// frames itself. Guided, the frame at which guidance is satisfied becomes the selfie photo
    /// (one usable face, frontal, centred, steady) unless one is given.
    ///
    /// - Parameters:
    ///   - liveness: the liveness settings.
    ///   - source: the frames.
    ///   - engine: the face engine.
    ///   - selfiePhoto: the selfie photo's embedding, when one was taken; sampled frames must match it.
    ///   - prompts: fixed prompts, for tests and demos.
    ///   - guided: run the guidance phase first, as a kiosk does.
    ///   - issuedAtMs: the challenge's issue time when not guided (a video file: 0, its stream time is relative).
    ///   - streamTimeIsRelative: `true` for a file (timestamps from 0), `false` for a camera.
    ///   - replay: the guard the sampled frames are checked against.
    ///   - onHints: guidance hints per frame.
    ///   - onStatus: the session's status per frame.
    /// - Returns: The finished session, the selfie frame, the selfie photo's embedding and the first frame that did
    ///   not match it; a source that ends during guidance gives a failed session and no frame.
    /// - Throws: ``FaceError`` from the frame source or the face engine; whatever `replay` throws.
    public static func runLiveness(config liveness: LivenessConfig, source: any FrameSource, engine: FaceEngine, selfiePhoto: Embedding? = nil,
                                   prompts: [Prompt]? = nil, guided: Bool, issuedAtMs: Double, streamTimeIsRelative: Bool, replay: any ReplayGuard,
                                   onHints: ([Hint]) -> Void = { _ in },
                                   onStatus: (LivenessStatus, FrameObservation) -> Void = { _, _ in }) async throws
        -> (session: LivenessSession, selfie: Image?, selfiePhoto: Embedding?, mismatch: Image?) {
        let runner = LivenessRunner(engine: engine, eyes: liveness.promptPool.contains(.blink) ? try? EyeDetector() : nil)
        var issued: Double? = issuedAtMs
        var photo = selfiePhoto
        var still: Image?
        if guided {
            var guidance = Guidance(config: liveness)
            let ready = try runner.guide(&guidance, source: source, onHints: onHints)
            issued = guidance.readyAtMs
            if photo == nil, let ready, let embedding = try? selfieEmbedding(engine, image: ready.image) { (photo, still) = (embedding, ready.image) }
        }
        var generator = SystemRandomNumberGenerator()
        var session = LivenessSession(config: liveness, prompts: prompts ?? LivenessSession.drawPrompts(liveness, using: &generator),
                                      issuedAtMs: issued ?? 0, selfiePhoto: photo)
        guard issued != nil else {
            session.endOfStream()
            return (session, nil, photo, nil)
        }
        let run = try await runner.run(&session, source: source, streamTimeIsRelative: streamTimeIsRelative, replay: replay, onStatus: onStatus)
        return (session, still ?? run.selfie, photo, run.mismatch)
    }

    /// A whole attempt for `iin` over `source` (the CLI's `attempt`, the kiosk). `selfie`, when
    /// given, is a still photo taken before the video: checked before the attempt starts (an
    /// unusable one counts nothing), matched by every sampled frame, and compared with the registry
    /// photo. Guided without one, the kiosk takes it when guidance is satisfied. An attempt we fail
    /// to process is abandoned, not counted.
    ///
    /// - Parameters:
    ///   - iin: the applicant's IIN.
    ///   - source: the frames.
    ///   - engine: the face engine.
    ///   - streamTimeIsRelative: `true` for a file (timestamps from 0), `false` for a camera.
    ///   - selfie: a still photo taken before the video.
    ///   - prompts: fixed prompts, for tests and demos.
    ///   - language: the applicant's language for SMS.
    ///   - guided: run the guidance phase first, as a kiosk does.
    ///   - issuedAtMs: the challenge's issue time; the clock's now by default.
    ///   - onHints: guidance hints per frame.
    ///   - onStatus: the session's status per frame.
    ///   - onSelfie: the attempt's id, the selfie's embedding and JPEG, before the attempt is recorded (for the document step that follows).
    /// - Returns: The attempt's report.
    /// - Throws: ``AttemptStartError`` or ``SelfieError`` before the attempt starts; ``AttemptError`` `.attemptsExhausted`;
    ///   a ``FaceError``, ``DatabaseFailure``, ``StorageError`` or `CryptoFailure` while processing (the attempt is then
    ///   abandoned).
    public func run(iin: String, source: any FrameSource, engine: FaceEngine, streamTimeIsRelative: Bool, selfie: Image? = nil,
                    prompts: [Prompt]? = nil, language: Language = .ru, guided: Bool = false, issuedAtMs: Double? = nil,
                    onHints: ([Hint]) -> Void = { _ in },
                    onStatus: (LivenessStatus, FrameObservation) -> Void = { _, _ in },
                    onSelfie: (_ attemptID: String, Embedding?, Data?) -> Void = { _, _, _ in }) async throws -> AttemptReport {
        let (photo, reference) = try await self.reference(iin: iin, models: try FaceModels.fingerprint(engine.config)) {
            try Self.referenceEmbedding(engine, photo: $0)
        }
        let still = try selfie.map { try Self.selfieEmbedding(engine, image: $0) }
        if let still { try Self.checkNotReference(still, reference: reference) }
        let started = try await begin(iin: iin, language: language, reference: reference, photo: photo)
        do {
            var (session, frame, selfiePhoto, mismatch) = try await Self.runLiveness(
                config: liveness, source: source, engine: engine, selfiePhoto: still, prompts: prompts, guided: guided,
                issuedAtMs: issuedAtMs ?? records.clock.nowMs(), streamTimeIsRelative: streamTimeIsRelative, replay: NoReplayGuard(),
                onHints: onHints, onStatus: onStatus)
            let jpeg = try Self.evidencePhoto(selfie: selfie ?? frame, mismatch: mismatch)
            onSelfie(started.ticket.id, selfiePhoto ?? session.selfie, try (selfie ?? frame)?.jpegData(quality: 92))
            return try await finish(started, session: &session, selfie: selfiePhoto ?? session.selfie, selfieJPEG: jpeg)
        } catch {
            try? await records.attempts.abandon(started.ticket, reason: "processing error: \(type(of: error))")
            throw error
        }
    }
}

/// For a run whose replay check happens later, in ``AttemptRunner/finish(_:session:selfie:selfieJPEG:)``.
struct NoReplayGuard: ReplayGuard {
    func checkAndRecord(_ signatures: [FrameSignature]) async throws -> Bool { false }
}

/// Why a selfie photo was refused; nothing is counted, and it may be taken again.
public enum SelfieErrorCode: String, ErrorCode {
    /// No single usable face in the selfie (422).
    case unusableSelfie = "unusable_selfie"
    /// The selfie is the registry photo over again (422).
    case registryPhoto = "selfie_is_registry_photo"
    /// Always `.invalid` (422).
    public var kind: ProblemKind { .invalid }
}

/// A refused selfie photo.
public typealias SelfieError = CodedError<SelfieErrorCode>
