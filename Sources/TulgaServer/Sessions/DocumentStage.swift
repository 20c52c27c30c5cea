import Foundation
import HTTPTypes
import Synchronization
import TulgaAttempts
import TulgaCore
import TulgaDigitalID
import TulgaDocument
import TulgaFace
import TulgaFaceModel
import TulgaFlow
import TulgaPolicy

/// A finished session's identity-document step on this node: the selfie (in memory only, never
/// stored unless a case opens), the photos posted so far, the reading, and what confirming did.
struct DocumentStage: Sendable {
    /// The API key that created the session; every other key gets 404.
    let owner: String
    let iin: String
    /// The attempt whose session took the selfie.
    let attemptID: String
    /// Pass, or review (the Digital ID then waits for the moderator).
    let outcome: AttemptOutcome
    /// The session as it ended.
    let ended: SessionState
    /// The session's selfie embedding, and the selfie kept for a case.
    let selfie: Embedding?
    let selfieJPEG: Data?
    /// When the step closes on this node (milliseconds on the injected clock).
    let expiresAt: Double
    var kind: DocumentKind?
    /// The photos as posted (at most `server.documentMaxBytes` each), until confirmation.
    var front: Data?, back: Data?
    var reading: DocumentStepReading?
    var result: DocumentOutcome?
    var busy = false

    /// The sides still to send for the chosen kind.
    var missing: [DocumentSide] {
        if result != nil { return [] }
        guard let kind else { return [.front] }
        return (kind == .idCard ? [DocumentSide.front, .back] : [.front]).filter { side in (side == .front ? front : back) == nil }
    }
}

/// A side of the document as posted: `front` is the ID card's front or the passport's data page.
enum DocumentSide: String, Sendable, Codable { case front, back }

/// What `GET /v1/verifications/{id}/document` shows.
struct DocumentView: Codable, Sendable {
    struct Sides: Codable, Sendable { var front: Bool; var back: Bool }
    var sessionId: String
    var required: Bool
    /// `verification` (the video check first, or its case), `pin` (the PIN first), `photos` (sides to
    /// send), `refused` (the last reading was refused: send a side again), `confirm` (read: confirm the
    /// data), `review` (a moderator has it), `done`, `rejected`, `inactive` (the Digital ID is
    /// suspended or revoked), `not_required`.
    var state: String
    var kind: String?
    var sides: Sides
    /// The sides still to send.
    var missing: [String]
    var data: RecognisedDocument?
    var checks: [DocumentCheck]
    var refusal: DocumentRefusal?
    var comparison: [DocumentCheck]?
    var mismatches: [String]?
    var portraitScore: Double?
    var caseId: String?
}

/// Tesseract, loaded once on the first document (it is not needed until then).
final class LazyOCR: Sendable {
    private let reader = Mutex<MRZReader?>(nil)
    func get() throws -> MRZReader {
        try reader.withLock { loaded throws -> MRZReader in
            if let loaded { return loaded }
            let made = try MRZReader()
            loaded = made
            return made
        }
    }
}

extension VerificationSessions {
    /// Keeps a finished session's document step open: one per key and IIN (a newer session replaces an older one).
    func openDocumentStage(_ id: String, _ e: Entry, selfie: Embedding?, outcome: AttemptOutcome) {
        stages = stages.filter { $0.value.owner != e.owner || $0.value.iin != e.started.ticket.iin }
        var ended = Self.state(id, e, documentRequired: documents.required)
        ended.document.state = "verification"
        stages[id] = DocumentStage(owner: e.owner, iin: e.started.ticket.iin, attemptID: e.started.ticket.id, outcome: outcome, ended: ended,
                                   selfie: selfie, selfieJPEG: try? e.selfieImage?.jpegData(quality: 92),
                                   expiresAt: clock.nowMs() + documentSeconds * 1000)
    }

    /// The stage when `owner` created its session. A session still running, or finished without a
    /// pass, is refused as out of order; anything else is absent, as if it did not exist.
    func documentStage(_ id: String, owner: String) throws -> DocumentStage {
        if let stage = stages[id], stage.owner == owner, stage.expiresAt >= clock.nowMs() { return stage }
        let live = entries[id]?.owner == owner, ended = finished[id]?.owner == owner
        if live || ended, !documents.required {
            throw DocumentStepError(.notRequired, "the policy does not require the identity-document step")
        }
        if live { throw DocumentStepError(.beforeVerification, "the video check of this session is still running: finish it first") }
        if let done = finished[id], ended, ((try? done.result.get().outcome) ?? AttemptOutcome.fail) == .fail {
            throw DocumentStepError(.beforeVerification, "the video check of this session did not pass: there is no document step after it")
        }
        throw Problem(.notFound, "not_found", "no verification session \(id) with a document step (it closes \(Int(documentSeconds / 60)) minutes after the video check)")
    }

    private func claimStage(_ id: String, owner: String) throws -> DocumentStage {
        var stage = try documentStage(id, owner: owner)
        guard !stage.busy else { throw Problem(.conflict, "session_busy", "a document photo of this session is being processed; send them one at a time") }
        stage.busy = true
        stages[id] = stage
        return stage
    }

    private func releaseStage(_ id: String, _ stage: DocumentStage?) {
        guard var current = stages[id] else { return }
        if let stage { current = stage }
        current.busy = false
        stages[id] = current
    }

    /// Where the step stands (``DocumentView/state``), from the Digital ID and the stage.
    func documentState(_ stage: DocumentStage) async throws -> String {
        guard documents.required else { return "not_required" }
        guard let record = try await documents.records.digitalIDs.record(stage.iin) else { return "verification" }
        guard record.status == .active else { return "inactive" }
        switch record.documentState {
        case .done: return "done"
        case .review: return "review"
        case .rejected: return "rejected"
        case .pending:
            if !record.hasPIN { return "pin" }
            if let reading = stage.reading { return reading.isAccepted ? "confirm" : "refused" }
            return "photos"
        }
    }

    func view(_ id: String, _ stage: DocumentStage) async throws -> DocumentView {
        DocumentView(sessionId: id, required: documents.required, state: try await documentState(stage), kind: stage.kind?.rawValue,
                     sides: DocumentView.Sides(front: stage.front != nil, back: stage.back != nil), missing: stage.missing.map(\.rawValue),
                     data: stage.reading?.data, checks: stage.reading?.checks ?? [], refusal: stage.reading?.refusal,
                     comparison: stage.result?.comparison, mismatches: stage.result?.mismatches, portraitScore: stage.result?.portraitScore,
                     caseId: stage.result?.caseID)
    }

    /// The step as it stands: the recognised data and every check.
    func documentView(_ id: String, owner: String) async throws -> DocumentView {
        try await view(id, try documentStage(id, owner: owner))
    }

    /// One side of the document. In order, before a byte of the body is read: the session is looked
    /// up (404 for another key; 409 while its video check runs or when it did not pass), the step's
    /// order is checked (the Digital ID, its PIN, not done), and the kind (`id-card` or `passport`,
    /// given with the first photo; a new kind starts over). Then the stage is claimed and the photo decoded (outside the actor);
    /// once every side of the kind is in, the document is read on a face pipeline. A refused reading
    /// is kept (the view shows it) and thrown; the photos stay, so one side can be sent again.
    nonisolated func documentPhoto(_ id: String, owner: String, side: DocumentSide, kind raw: String?, body: () async throws -> Data,
                                   decode: @escaping @Sendable (Data) throws -> Image) async throws -> DocumentView {
        let stage = try await documentStage(id, owner: owner)
        try await documents.checkOpen(iin: stage.iin)
        let kind = try raw.map { raw in
            guard let kind = DocumentKind(rawValue: raw) else { throw DocumentStepError(.invalidKind, "kind must be id-card or passport") }
            return kind
        }
        guard let chosen = kind ?? stage.kind else {
            throw DocumentStepError(.kindRequired, "say which document this is: ?kind=id-card or ?kind=passport")
        }
        if side == .back, chosen == .passport {
            throw DocumentStepError(.sideNotExpected, "a passport's data page is one photo: send it as the front")
        }
        let data = try await body()
        var s = try await claimStage(id, owner: owner)
        do {
            let image = try decode(data)
            if s.kind != chosen { (s.front, s.back) = (nil, nil) }
            s.kind = chosen
            if side == .front { s.front = data } else { s.back = data }
            (s.reading, s.result) = (nil, nil)
            if s.missing.isEmpty {
                var photos: [Image] = []
                for (posted, bytes) in [(DocumentSide.front, s.front), (.back, s.back)] {
                    guard let bytes else { continue }
                    photos.append(posted == side ? image : try decode(bytes))
                }
                let ocr = try ocr.get(), clock = clock, images = photos
                s.reading = try await pool.pipeline().withEngine { engine in
                    DocumentStep.read(images, kind: chosen, engine: engine, ocr: ocr, clock: clock)
                }
            }
        } catch {
            await releaseStage(id, nil)
            throw error
        }
        await releaseStage(id, s)
        if let refusal = s.reading?.error { throw refusal }
        return try await view(id, s)
    }

    /// The applicant confirms the recognised data: compared with the registry and the selfie (see
    /// ``DocumentStep/confirm(iin:attemptID:reading:selfie:selfieJPEG:front:back:)``). The photos are
    /// dropped from memory afterwards (a case keeps them sealed).
    func confirmDocument(_ id: String, owner: String) async throws -> DocumentView {
        var s = try claimStage(id, owner: owner)
        do {
            guard let reading = s.reading else {
                try await documents.checkOpen(iin: s.iin)
                throw DocumentStepError(.notRead, "send the document's photos first: " + (s.missing.isEmpty ? "none is read" : "missing " + s.missing.map(\.rawValue).joined(separator: ", ")))
            }
            s.result = try await documents.confirm(iin: s.iin, attemptID: s.attemptID, reading: reading, selfie: s.selfie, selfieJPEG: s.selfieJPEG,
                                                   front: s.front, back: s.back)
            (s.front, s.back) = (nil, nil)
        } catch {
            releaseStage(id, nil)
            throw error
        }
        releaseStage(id, s)
        return try await view(id, s)
    }
}
