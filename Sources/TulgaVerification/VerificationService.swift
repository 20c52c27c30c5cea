public import Foundation
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

/// A started attempt: the ticket, the reference embedding and the registry photo.
public struct StartedAttempt: Sendable {
    public let ticket: AttemptTicket
    public let reference: Embedding
    public let referencePhoto: Data
}

/// The steps of one attempt, usable from any shell: the CLI's `VerificationService` runs
/// them with its own engine, the HTTP server with its pipeline pool.
public enum VerificationSteps {
    /// The registry photo for `iin`, after checking the IIN.
    public static func registryPhoto(store: Store, iin: String) async throws -> Data {
        do { _ = try IIN(iin) } catch { throw VerificationError(code: .invalidIIN, reason: "invalid IIN \(iin): \(error)") }
        guard let entry = try await store.registryEntry(iin) else {
            throw VerificationError(code: .notInRegistry, reason: "IIN \(iin) is not in the registry")
        }
        return entry.photo
    }

    /// The registry photo's face embedding, or why the photo cannot be used.
    public static func referenceEmbedding(_ engine: FaceEngine, photo: Data) throws -> Embedding {
        do {
            let image = try Image(decoding: photo, limits: engine.config.decode)
            switch selectFace(try engine.analyze(image), thresholds: engine.config.quality, allowSeveral: true) {
            case .success(let face): return try engine.embed(face.face, in: image)
            case .failure(let list):
                throw VerificationError(code: .unusableReference, reason: "the registry photo cannot be used: " + list.issues.map(\.explanation).joined(separator: "; "))
            }
        } catch let error as FaceError {
            throw VerificationError(code: .unusableReference, reason: "the registry photo cannot be used: \(error.reason)")
        }
    }

    /// Takes an attempt (counted atomically in the store).
    public static func begin(store: Store, iin: String, language: String, reference: Embedding, photo: Data) async throws -> StartedAttempt {
        StartedAttempt(ticket: try await store.beginAttempt(iin: iin, language: language), reference: reference, referencePhoto: photo)
    }

    /// A new liveness session, prompts drawn from the CSPRNG unless given.
    public static func session(_ config: LivenessConfig, for started: StartedAttempt, prompts: [Prompt]? = nil, issuedAtMs: Double) -> LivenessSession {
        var generator = SystemRandomNumberGenerator()
        let drawn = prompts ?? LivenessSession.drawPrompts(config, using: &generator)
        return LivenessSession(config: config, nonce: makeNonce(), prompts: drawn, issuedAtMs: issuedAtMs, reference: started.reference)
    }

    /// Applies the bands to the finished session and records the attempt with its evidence.
    /// `selfie` is the embedding compared with the reference (the session's own, or a still's).
    public static func finish(store: Store, bands: DecisionBands, started: StartedAttempt, report: LivenessReport,
                              selfie: Embedding?, selfieJPEG: Data?) async throws -> VerificationReport {
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
        let result = try await store.finishAttempt(
            started.ticket, outcome: outcome, score: score, livenessPassed: report.passed, reason: reasons.joined(separator: "; "),
            evidence: Evidence(selfie: selfieJPEG, reference: started.referencePhoto, livenessReport: reportJSON))
        return VerificationReport(iin: started.ticket.iin, outcome: outcome, score: score, acceptThreshold: bands.accept, reviewThreshold: bands.review,
                                  livenessPassed: report.passed, reasons: reasons, attemptsLeft: result.attemptsLeft,
                                  inPersonUnlocked: result.inPersonUnlocked, caseID: result.caseID, liveness: report)
    }
}

/// One attempt = liveness plus comparison with the registry photo, then the policy's decision,
/// recorded atomically: `VerificationSteps` with one engine, for the command line.
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

    /// Runs one attempt over `source`. `selfie` (optional) is a still photo compared with the
    /// reference instead of the session's own selfie frame.
    public func verify(iin: String, source: any FrameSource, streamTimeIsRelative: Bool, selfie: Image? = nil,
                       prompts: [Prompt]? = nil, language: String = "ru", issuedAtMs: Double? = nil) async throws -> VerificationReport {
        let photo = try await VerificationSteps.registryPhoto(store: store, iin: iin)
        let reference = try VerificationSteps.referenceEmbedding(engine, photo: photo)
        let started = try await VerificationSteps.begin(store: store, iin: iin, language: language, reference: reference, photo: photo)
        do {
            var session = VerificationSteps.session(liveness, for: started, prompts: prompts, issuedAtMs: issuedAtMs ?? Date().timeIntervalSince1970 * 1000)
            let run = try await LivenessRunner(engine: engine).run(&session, source: source, streamTimeIsRelative: streamTimeIsRelative,
                                                                   replay: StoreReplayGuard(store: store))
            var embedding = session.selfie
            var jpeg = try run.selfie?.jpegData(quality: 92)
            if let selfie {
                jpeg = try selfie.jpegData(quality: 92)
                embedding = nil
                if case .success(let face) = selectFace(try engine.analyze(selfie), thresholds: engine.config.quality, allowSeveral: false) {
                    embedding = try engine.embed(face.face, in: selfie)
                }
            }
            return try await VerificationSteps.finish(store: store, bands: bands, started: started, report: session.report,
                                                      selfie: embedding, selfieJPEG: jpeg)
        } catch {
            try? await store.abandonAttempt(started.ticket, reason: "processing error: \(type(of: error))")
            throw error
        }
    }
}
