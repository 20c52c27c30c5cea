internal import Foundation
public import TulgaFace
public import TulgaLiveness
public import TulgaPolicy
public import TulgaStorage
internal import TulgaIdentity

/// Frame hashes kept in the store, so a recording cannot pass two sessions on any node.
public struct StoreReplayGuard: ReplayGuard {
    let store: Store
    public init(store: Store) { self.store = store }
    public func checkAndRecord(_ hashes: [String]) async throws -> Bool { try await store.checkAndRecordFrames(hashes) }
}

/// Why a verification could not even start.
public struct VerificationError: Error, CustomStringConvertible, Sendable {
    public enum Code: String, Sendable { case invalidIIN = "invalid_iin", notInRegistry = "not_in_registry", unusableReference = "unusable_reference" }
    public let code: Code
    public let reason: String
    public var description: String { reason }
}

/// The result of one verification attempt.
public struct VerificationReport: Sendable, Codable {
    public var iin: String
    public var outcome: AttemptOutcome
    public var score: Double?
    public var acceptThreshold: Double
    public var reviewThreshold: Double
    public var livenessPassed: Bool
    public var reasons: [String]
    public var attemptsLeft: Int
    public var inPersonUnlocked: Bool
    public var caseID: String?
    public var liveness: LivenessReport
}

/// One attempt = liveness plus comparison with the registry photo, then the policy's decision,
/// recorded atomically. The imperative shell over the face engine, the liveness machine and
/// the store.
public final class VerificationService {
    public let store: Store
    public let engine: FaceEngine
    public let bands: DecisionBands
    public let liveness: LivenessConfig

    public init(store: Store, engine: FaceEngine, bands: DecisionBands, liveness: LivenessConfig) {
        self.store = store
        self.engine = engine
        self.bands = bands
        self.liveness = liveness
    }

    /// The reference photo's face embedding, or why it cannot be used.
    func reference(_ iin: String) async throws -> (Embedding, Data) {
        guard let entry = try await store.registryEntry(iin) else {
            throw VerificationError(code: .notInRegistry, reason: "IIN \(iin) is not in the registry")
        }
        do {
            let photo = try Image(decoding: entry.photo, limits: engine.config.decode)
            switch selectFace(try engine.analyze(photo), thresholds: engine.config.quality, allowSeveral: true) {
            case .success(let face): return (try engine.embed(face.face, in: photo), entry.photo)
            case .failure(let list):
                throw VerificationError(code: .unusableReference, reason: "the registry photo cannot be used: " + list.issues.map(\.explanation).joined(separator: "; "))
            }
        } catch let error as FaceError {
            throw VerificationError(code: .unusableReference, reason: "the registry photo cannot be used: \(error.reason)")
        }
    }

    /// Runs one attempt over `source`. `selfie` (optional) is a still photo compared with the
    /// reference instead of the session's own selfie frame.
    public func verify(iin: String, source: any FrameSource, streamTimeIsRelative: Bool, selfie: Image? = nil,
                       prompts: [Prompt]? = nil, language: String = "ru", issuedAtMs: Double? = nil) async throws -> VerificationReport {
        do { _ = try IIN(iin) } catch { throw VerificationError(code: .invalidIIN, reason: "invalid IIN \(iin): \(error)") }
        let (referenceEmbedding, referencePhoto) = try await reference(iin)
        let ticket = try await store.beginAttempt(iin: iin, language: language)
        do {
            var generator = SystemRandomNumberGenerator()
            let drawn = prompts ?? LivenessSession.drawPrompts(liveness, using: &generator)
            var session = LivenessSession(config: liveness, nonce: makeNonce(), prompts: drawn,
                                          issuedAtMs: issuedAtMs ?? Date().timeIntervalSince1970 * 1000, reference: referenceEmbedding)
            let run = try await LivenessRunner(engine: engine).run(&session, source: source, streamTimeIsRelative: streamTimeIsRelative,
                                                                   replay: StoreReplayGuard(store: store))
            var score: Double?
            var selfieImage = run.selfie
            if let selfie {
                selfieImage = selfie
                if case .success(let face) = selectFace(try engine.analyze(selfie), thresholds: engine.config.quality, allowSeveral: false) {
                    score = try engine.embed(face.face, in: selfie).cosine(referenceEmbedding)
                }
            } else if let own = session.selfie {
                score = own.cosine(referenceEmbedding)
            }
            let outcome = score.map { bands.decide(score: $0, livenessPassed: run.report.passed) } ?? .fail
            var reasons = run.report.reasons
            if score == nil { reasons.append("no usable selfie to compare") }
            switch outcome {
            case .review: reasons.append(String(format: "score %.3f is in the review band [%.3f, %.3f)", score ?? 0, bands.review, bands.accept))
            case .fail where run.report.passed: reasons.append(String(format: "score %.3f is below the review threshold %.3f", score ?? 0, bands.review))
            default: break
            }
            let reportJSON = String(decoding: try JSONEncoder().encode(run.report), as: UTF8.self)
            let result = try await store.finishAttempt(
                ticket, outcome: outcome, score: score, livenessPassed: run.report.passed, reason: reasons.joined(separator: "; "),
                evidence: Evidence(selfie: try selfieImage?.jpegData(quality: 92), reference: referencePhoto, livenessReport: reportJSON))
            return VerificationReport(iin: iin, outcome: outcome, score: score, acceptThreshold: bands.accept, reviewThreshold: bands.review,
                                      livenessPassed: run.report.passed, reasons: reasons, attemptsLeft: result.attemptsLeft,
                                      inPersonUnlocked: result.inPersonUnlocked, caseID: result.caseID, liveness: run.report)
        } catch {
            try? await store.abandonAttempt(ticket, reason: "processing error: \(error)")
            throw error
        }
    }
}
