public import Foundation
import TulgaAttempts
public import TulgaCore
import TulgaCrypto
public import TulgaDigitalID
public import TulgaDocument
public import TulgaFace
public import TulgaFaceModel
import TulgaIdentity
public import TulgaMRZ
import TulgaModeration
public import TulgaPolicy
public import TulgaRegistry
import TulgaStorage

/// Refusals of the identity-document step's order and state (the reader's own are `DocumentError`
/// and `MRZError`; a photo that does not decode is a `FaceError`).
public enum DocumentStepErrorCode: String, ErrorCode {
    /// No Digital ID yet: the video check has not passed, or its case is with a moderator (409).
    case beforeVerification = "document_before_verification"
    /// The Digital ID has no PIN yet: the PIN comes first (409).
    case beforePIN = "document_before_pin"
    /// The policy does not require the step (`policy.documentStepRequired` is false) (409).
    case notRequired = "document_step_not_required"
    /// The step is done already (409).
    case done = "document_step_done"
    /// A moderator has the document (409).
    case inReview = "document_step_in_review"
    /// A moderator rejected the document: a new passed verification opens the step again (409).
    case rejected = "document_step_rejected"
    /// The Digital ID is suspended or revoked (409).
    case digitalIDInactive = "digital_id_not_active"
    /// Confirmation before every side was read and accepted (409).
    case notRead = "document_not_read"
    /// The first photo came without the document's kind (422).
    case kindRequired = "document_kind_required"
    /// A kind other than `id-card` or `passport` (422).
    case invalidKind = "invalid_document_kind"
    /// A back side for a passport, whose data page is one photo (422).
    case sideNotExpected = "document_side_not_expected"

    /// 422 for the input's own faults, 409 for the step's order and state.
    public var kind: ProblemKind {
        switch self {
        case .kindRequired, .invalidKind, .sideNotExpected: .invalid
        default: .conflict
        }
    }
}

/// A refused document-step request, with the rule in words.
public typealias DocumentStepError = CodedError<DocumentStepErrorCode>

/// The data read from the document's MRZ, as the applicant confirms it.
public struct RecognisedDocument: Sendable, Hashable, Codable {
    /// ID card or passport.
    public var kind: DocumentKind
    /// `ID`, `I`, `P`…; the issuing state and nationality (three letters).
    public var documentCode, issuingState, nationality: String
    /// The document's number.
    public var documentNumber: String
    /// `YYYY-MM-DD` (the raw `YYMMDD` when it is no calendar date).
    public var birthDate, expiryDate: String
    /// `M`, `F` or `X`.
    public var sex: String
    /// The names as the MRZ prints them, `<` as spaces.
    public var surname, givenNames: String
    /// The IIN in the optional data, when there is one.
    public var iin: String?

    /// The fields of a parsed zone.
    ///
    /// - Parameters:
    ///   - kind: the document's kind.
    ///   - mrz: the zone, after correction.
    public init(kind: DocumentKind, mrz: MRZ) {
        self.kind = kind
        (documentCode, issuingState, nationality, documentNumber) = (mrz.documentCode, mrz.issuingState, mrz.nationality, mrz.documentNumber)
        (birthDate, expiryDate, sex) = (mrz.birthDate.description, mrz.expiryDate.description, mrz.sex)
        (surname, givenNames, iin) = (mrz.surname, mrz.givenNames, mrz.iin)
    }
}

/// A refusal as a client reads it: the code and the reason.
public struct DocumentRefusal: Sendable, Hashable, Codable {
    /// The stable code (`no_mrz`, `check_digit_document_number`, `document_expired`, `invalid_image`…).
    public var code: String
    /// The rule in words.
    public var reason: String

    /// Creates a refusal.
    ///
    /// - Parameters:
    ///   - code: the stable code.
    ///   - reason: the rule in words.
    public init(code: String, reason: String) { (self.code, self.reason) = (code, reason) }
}

/// One document read from its photos for the step: what the applicant confirms, every check, the
/// refusal, and what the comparison needs (the zone and the portrait's embedding).
public struct DocumentStepReading: Sendable {
    /// The kind chosen.
    public var kind: DocumentKind
    /// The recognised data, when a zone was parsed.
    public var data: RecognisedDocument?
    /// Every check the reader made, in order.
    public var checks: [DocumentCheck]
    /// The first failed check, when the reading is refused.
    public var refusal: DocumentRefusal?
    /// The refusal as the error it was, to throw.
    public var error: (any TulgaError)?
    /// The zone after correction, when parsed.
    public var mrz: MRZ?
    /// SFace's embedding of the portrait, when one face was found on the front.
    public var portrait: Embedding?

    /// Whether every check passed.
    public var isAccepted: Bool { refusal == nil && mrz != nil && portrait != nil }
}

/// The confirmed data against the registry and the portrait against the selfie. Pure.
///
/// ```swift
/// let checks = DocumentComparison.compare(mrz, kind: .idCard, iin: iin, person: person, today: 2027_01_15)
///     + [DocumentComparison.portrait(score: 0.52, bands: bands)]
/// let mismatches = checks.filter { !$0.passed }.map(\.name)   // ["surname"], say
/// ```
public enum DocumentComparison {
    /// Upper case, no spaces or fillers: how document numbers are compared.
    static func number(_ text: String) -> String { text.uppercased().filter { $0 != " " && $0 != "<" } }

    /// Checks the confirmed data against the person's registry record, each field by name:
    /// `document_number` (the ID card's, or the passport's), `birth_date` (the registry's IIN's
    /// digits 1–6 against the MRZ's `YYMMDD`, so no century is guessed), `surname` and
    /// `given_names` (the Latin names as the documents print them), `iin` (when the document
    /// carries one) and `not_expired` (today from the injected clock).
    ///
    /// - Parameters:
    ///   - mrz: the zone the applicant confirmed.
    ///   - kind: the document's kind.
    ///   - iin: the applicant's IIN (the registry record's key).
    ///   - person: the registry record.
    ///   - today: today as `yyyymmdd`.
    /// - Returns: One check per field, in that order.
    public static func compare(_ mrz: MRZ, kind: DocumentKind, iin: String, person: RegistryPerson, today: Int) -> [DocumentCheck] {
        var checks: [DocumentCheck] = []
        let registered = kind == .idCard ? person.documentNumber : person.passportNumber
        if let registered {
            let same = number(registered) == number(mrz.documentNumber)
            checks.append(DocumentCheck(name: "document_number", passed: same,
                                        detail: same ? "\(mrz.documentNumber), as registered" : "the document says \(mrz.documentNumber), the registry \(registered)"))
        } else {
            checks.append(DocumentCheck(name: "document_number", passed: false, detail: "the registry has no passport number for this person"))
        }
        let born = String(iin.prefix(6))
        let sameBirth = mrz.birthDate.raw == born
        let bornText = (try? IIN(iin)).map { String(format: "%04d-%02d-%02d", $0.birthYear, $0.birthMonth, $0.birthDay) } ?? born
        checks.append(DocumentCheck(name: "birth_date", passed: sameBirth,
                                    detail: sameBirth ? "\(mrz.birthDate), as the IIN says" : "the document says \(mrz.birthDate), the IIN \(bornText)"))
        if let latin = person.latin {
            for (name, read, registry) in [("surname", mrz.surname, latin.surname), ("given_names", mrz.givenNames, latin.givenNames)] {
                let same = LatinNames.normalised(read) == registry
                checks.append(DocumentCheck(name: name, passed: same, detail: same ? "\(read), as registered" : "the document says \(read), the registry \(registry)"))
            }
        } else {
            for name in ["surname", "given_names"] {
                checks.append(DocumentCheck(name: name, passed: false, detail: "the registry has no Latin names for this person"))
            }
        }
        if let onDocument = mrz.iin {
            checks.append(DocumentCheck(name: "iin", passed: onDocument == iin, detail: onDocument == iin ? "the applicant's" : "the document carries another IIN"))
        } else {
            checks.append(DocumentCheck(name: "iin", passed: true, detail: "not on the document"))
        }
        let expiry = mrz.expiryDate.ordinal
        checks.append(DocumentCheck(name: "not_expired", passed: (expiry ?? 0) >= today,
                                    detail: expiry.map { $0 >= today ? "valid until \(mrz.expiryDate)" : "expired on \(mrz.expiryDate)" } ?? "no expiry date"))
        return checks
    }

    /// The portrait against the selfie: passed at or above the accept threshold; the review band
    /// and below go to a moderator.
    ///
    /// - Parameters:
    ///   - score: the cosine of the two embeddings, or `nil` without a selfie.
    ///   - bands: the decision bands.
    /// - Returns: The check `portrait`.
    public static func portrait(score: Double?, bands: DecisionBands) -> DocumentCheck {
        guard let score else { return DocumentCheck(name: "portrait", passed: false, detail: "no selfie to compare the portrait with") }
        let passed = score >= bands.accept
        return DocumentCheck(name: "portrait", passed: passed,
                             detail: String(format: passed ? "%.3f against the selfie, at or above %.3f" : "%.3f against the selfie, below the accept threshold %.3f",
                                            score, bands.accept))
    }
}

/// What confirming the document did.
public struct DocumentOutcome: Sendable, Hashable, Codable {
    /// `done` (it matched) or `review` (a moderator has it).
    public var state: DocumentStepState
    /// The comparison with the registry and the selfie, field by field.
    public var comparison: [DocumentCheck]
    /// The names of the checks that failed.
    public var mismatches: [String]
    /// The portrait's cosine with the selfie.
    public var portraitScore: Double?
    /// The case opened for a moderator.
    public var caseID: String?
}

/// What a document case's sealed data holds, for the moderator.
struct DocumentCaseData: Codable {
    var data: RecognisedDocument?
    var checks: [DocumentCheck]
    var comparison: [DocumentCheck]
    var mismatches: [String]
    var portraitScore: Double?
}

/// The identity-document step (seed 001: after the video check and the PIN): the document's
/// photos are read, the applicant confirms the recognised data, and it is compared with the
/// registry and its portrait with the session's selfie. A match completes the Digital ID; a
/// mismatch, or a portrait in the review band or below, opens a case of kind `document`.
///
/// ```swift
/// let step = DocumentStep(records: records, bands: bands)
/// try await step.checkOpen(iin: iin)                                   // the order: Digital ID, PIN, not done
/// let reading = DocumentStep.read([front, back], kind: .idCard, engine: engine, ocr: ocr, clock: records.clock)
/// let outcome = try await step.confirm(iin: iin, attemptID: attempt, reading: reading, selfie: selfie,
///                                      selfieJPEG: jpeg, front: frontBytes, back: backBytes)
/// ```
public struct DocumentStep: Sendable {
    /// Every module's records.
    public let records: Records
    /// The bands the portrait is judged by.
    public let bands: DecisionBands

    /// Creates the step.
    ///
    /// - Parameters:
    ///   - records: every module's records (their settings say whether the step is required).
    ///   - bands: the decision bands.
    public init(records: Records, bands: DecisionBands) { (self.records, self.bands) = (records, bands) }

    /// Whether the policy requires the step.
    public var required: Bool { records.settings.documentStepRequired }

    /// The order, pure: the step is open when the policy requires it, the Digital ID exists and is
    /// active, its PIN is set, and the step is pending.
    ///
    /// - Parameters:
    ///   - record: the person's Digital ID, if any.
    ///   - required: whether the policy requires the step.
    /// - Throws: ``DocumentStepError`` naming what comes first, or that it is done, in review, or rejected.
    public static func checkOpen(record: DigitalIDRecord?, required: Bool) throws(DocumentStepError) {
        guard required else { throw DocumentStepError(.notRequired, "the policy does not require the identity-document step") }
        guard let record else {
            throw DocumentStepError(.beforeVerification, "no Digital ID yet: the video check must pass (or a moderator approve it) before the document")
        }
        guard record.status == .active else { throw DocumentStepError(.digitalIDInactive, "the Digital ID is \(record.status.rawValue)") }
        guard record.hasPIN else { throw DocumentStepError(.beforePIN, "set the Digital ID's PIN first: the document comes after the PIN") }
        switch record.documentState {
        case .pending: return
        case .done: throw DocumentStepError(.done, "the identity-document step is done already")
        case .review: throw DocumentStepError(.inReview, "a moderator is checking the document; the result comes by SMS")
        case .rejected: throw DocumentStepError(.rejected, "a moderator rejected the document: pass the video check again to take this step again")
        }
    }

    /// The order for `iin`, from its Digital ID (see ``checkOpen(record:required:)``).
    ///
    /// - Returns: The Digital ID.
    /// - Throws: ``DocumentStepError``; ``StorageError``; ``DatabaseFailure``.
    @discardableResult
    public func checkOpen(iin: String) async throws -> DigitalIDRecord? {
        let record = try await records.digitalIDs.record(iin)
        try Self.checkOpen(record: record, required: required)
        return record
    }

    /// Reads the document's photos: both sides of an ID card (any order) or the passport page.
    ///
    /// - Parameters:
    ///   - photos: the decoded photos.
    ///   - kind: the kind the applicant chose.
    ///   - engine: the face engine (the portrait).
    ///   - ocr: Tesseract.
    ///   - clock: today, for the expiry.
    /// - Returns: The data, every check, the refusal if any, and the portrait's embedding.
    public static func read(_ photos: [Image], kind: DocumentKind, engine: FaceEngine, ocr: MRZReader, clock: any WallClock) -> DocumentStepReading {
        let reading = DocumentReader(engine: engine, ocr: ocr, clock: clock).read(photos, expecting: kind)
        return DocumentStepReading(kind: kind, data: reading.mrz.map { RecognisedDocument(kind: reading.kind ?? kind, mrz: $0) }, checks: reading.checks,
                                   refusal: reading.refusal.map { DocumentRefusal(code: $0.errorCode, reason: $0.reason) }, error: reading.refusal,
                                   mrz: reading.mrz, portrait: reading.portrait?.embedding)
    }

    /// The applicant confirmed the recognised data: in one transaction holding the applicant's
    /// lock, the order is checked again, the data compared with the registry and the portrait
    /// with the selfie; a match completes the step, anything else opens a `document` case with the
    /// selfie, both photos and the data, sealed.
    ///
    /// - Parameters:
    ///   - iin: the applicant's IIN.
    ///   - attemptID: the passed attempt whose session took the selfie.
    ///   - reading: an accepted reading.
    ///   - selfie: the session's selfie embedding.
    ///   - selfieJPEG: the selfie, kept as a case's evidence.
    ///   - front: the photo posted as the front (or the passport page).
    ///   - back: the photo posted as the back, for an ID card.
    /// - Returns: Done or in review, every comparison, the case opened.
    /// - Throws: ``DocumentStepError`` for the order or an unaccepted reading; ``AttemptStartError`` `.notInRegistry`;
    ///   `CryptoFailure`; ``StorageError``; ``DatabaseFailure``.
    public func confirm(iin: String, attemptID: String, reading: DocumentStepReading, selfie: Embedding?, selfieJPEG: Data?,
                        front: Data?, back: Data?) async throws -> DocumentOutcome {
        guard reading.isAccepted, let mrz = reading.mrz, let portrait = reading.portrait else {
            throw DocumentStepError(.notRead, "the document has not been read and accepted: send its photos first"
                                    + (reading.refusal.map { " (the last reading was refused: \($0.code))" } ?? ""))
        }
        let now = records.clock.now(), today = DocumentReader.today(records.clock).ordinal
        let required = required, bands = bands, key = records.cipher
        let score = selfie.map { portrait.cosine($0) }
        return try await records.database.transaction { db in
            try db.lock("applicant:" + iin)
            try Self.checkOpen(record: try DigitalIDRecords.record(db, iin: iin), required: required)
            guard let person = try RegistryRecords.person(db, iin: iin) else { throw AttemptStartError(.notInRegistry, "IIN \(iin) is not in the registry") }
            let comparison = DocumentComparison.compare(mrz, kind: reading.kind, iin: iin, person: person, today: today)
                + [DocumentComparison.portrait(score: score, bands: bands)]
            let mismatches = comparison.filter { !$0.passed }.map(\.name)
            guard !mismatches.isEmpty else {
                try DigitalIDRecords.moveDocumentStep(db, iin: iin, event: .matched, actor: "policy", detail: String(format: "portrait %.3f", score ?? -1), at: now)
                return DocumentOutcome(state: .done, comparison: comparison, mismatches: [], portraitScore: score, caseID: nil)
            }
            let caseID = try newRecordID("case")
            // Only the fields' names in clear (the case list, the audit); what each said is sealed with the data.
            let reason = "the document does not match: " + mismatches.joined(separator: ", ")
            let data = try JSONEncoder().encode(DocumentCaseData(data: reading.data, checks: reading.checks, comparison: comparison,
                                                                 mismatches: mismatches, portraitScore: score))
            try ModerationRecords.openDocumentCase(db, key: key, id: caseID, iin: iin, attemptID: attemptID, score: score ?? 0, reason: reason,
                                                   selfie: selfieJPEG, document: DocumentEvidence(front: front, back: back, data: String(decoding: data, as: UTF8.self)),
                                                   at: now)
            try DigitalIDRecords.moveDocumentStep(db, iin: iin, event: .sentToReview, actor: "policy", detail: caseID, at: now)
            return DocumentOutcome(state: .review, comparison: comparison, mismatches: mismatches, portraitScore: score, caseID: caseID)
        }
    }
}
