public import Foundation
public import TulgaAttempts
import TulgaCrypto
public import TulgaCore
public import TulgaDigitalID
public import TulgaFace
public import TulgaFaceModel
import TulgaIdentity
public import TulgaLiveness
public import TulgaLivenessRunner
public import TulgaModeration
public import TulgaPolicy
public import TulgaRegistry
public import TulgaStorage

/// Why an attempt could not even start.
public enum AttemptStartErrorCode: String, ErrorCode {
    case invalidIIN = "invalid_iin"
    case notInRegistry = "not_in_registry"
    case unusableReference = "unusable_reference"
    public var kind: ProblemKind { self == .notInRegistry ? .notFound : .invalid }
}

public typealias AttemptStartError = CodedError<AttemptStartErrorCode>

/// The result of one attempt, as the applicant's shell reports it.
public struct AttemptReport: Sendable, Codable {
    public var iin: String
    public var outcome: AttemptOutcome
    public var score: Double?
    public var acceptThreshold, reviewThreshold: Double
    public var livenessPassed: Bool
    /// Why, in words: liveness failures, then the band.
    public var reasons: [String]
    public var attemptsLeft: Int
    public var inPersonUnlocked: Bool
    /// The moderation case a review opened.
    public var caseID: String?
    public var liveness: LivenessReport
}

/// What recording an attempt's decision left behind.
public struct AttemptResult: Sendable, Hashable, Codable {
    public var attemptID: String
    public var outcome: AttemptOutcome
    public var attemptsLeft: Int
    public var inPersonUnlocked: Bool
    /// The moderation case a review opened.
    public var caseID: String?
}

/// A started attempt: the ticket, the reference embedding and the registry photo.
public struct StartedAttempt: Sendable {
    public let ticket: AttemptTicket
    public let reference: Embedding
    public let referencePhoto: Data
}

/// The replay ledger of the attempt records, as the liveness shells' ``ReplayGuard``.
public struct LedgerReplayGuard: ReplayGuard {
    let attempts: AttemptRecords
    public init(_ attempts: AttemptRecords) { self.attempts = attempts }
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
    public let records: Records
    public let bands: DecisionBands
    public let liveness: LivenessConfig

    public init(records: Records, bands: DecisionBands, liveness: LivenessConfig) {
        (self.records, self.bands, self.liveness) = (records, bands, liveness)
    }

    /// The replay guard every shell uses.
    public var replayGuard: LedgerReplayGuard { LedgerReplayGuard(records.attempts) }

    // MARK: Steps

    /// The registry photo for `iin`, after checking the IIN.
    /// - Throws: ``AttemptStartError`` `.invalidIIN` or `.notInRegistry`.
    public func registryPhoto(iin: String) async throws -> Data {
        do { _ = try IIN(iin) } catch { throw AttemptStartError(.invalidIIN, "invalid IIN \(iin): \(error)") }
        guard let entry = try await records.registry.entry(iin) else { throw AttemptStartError(.notInRegistry, "IIN \(iin) is not in the registry") }
        return entry.photo
    }

    /// The registry photo's face embedding.
    /// - Throws: ``AttemptStartError`` `.unusableReference` with the photo's problems.
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
    public func begin(iin: String, language: Language, reference: Embedding, photo: Data) async throws -> StartedAttempt {
        StartedAttempt(ticket: try await records.attempts.begin(iin: iin, language: language), reference: reference, referencePhoto: photo)
    }

    /// A new liveness session, prompts drawn from the CSPRNG unless given.
    public func session(for started: StartedAttempt, prompts: [Prompt]? = nil, issuedAtMs: Double) -> LivenessSession {
        var generator = SystemRandomNumberGenerator()
        let drawn = prompts ?? LivenessSession.drawPrompts(liveness, using: &generator)
        return LivenessSession(config: liveness, nonce: makeNonce(), prompts: drawn, issuedAtMs: issuedAtMs, reference: started.reference)
    }

    /// Ends the session (an unfinished check fails), applies the replay rule and the bands, and
    /// records the attempt with its evidence.
    /// - Parameters:
    ///   - selfie: the embedding compared with the reference (the session's own, or a still's).
    public func finish(_ started: StartedAttempt, session: inout LivenessSession, selfie: Embedding?, selfieJPEG: Data?) async throws -> AttemptReport {
        if session.phase == .baseline || session.phase == .prompting { session.endOfStream() }
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
    /// - Parameters:
    ///   - issuedAtMs: the challenge's issue time when not guided (a video file: 0, its stream time is relative).
    ///   - onHints: guidance hints per frame; `onStatus`: the session's status per frame.
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
