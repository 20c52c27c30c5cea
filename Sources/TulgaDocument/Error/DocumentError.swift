public import TulgaCore
import CTulgaDocument

/// Codes of refused document photos. A wrong check digit or an unreadable zone is a
/// `MRZError` (TulgaMRZ), a file that cannot be decoded a `FaceError`: kept typed, not folded in here.
public enum DocumentErrorCode: String, ErrorCode, CaseIterable {
    /// No card or passport page in a photo.
    case noDocument = "no_document"
    /// No machine-readable zone on any page.
    case noMRZ = "no_mrz"
    /// The expiry date is before today.
    case expired = "document_expired"
    /// An ID card where a passport was asked for, or the reverse.
    case wrongDocumentType = "wrong_document_type"
    /// No face on the front (or the front is missing).
    case noPortrait = "no_portrait"
    /// More than one face on the front.
    case severalFaces = "several_faces"
    /// Tesseract or its English data cannot be loaded (500).
    case ocrUnavailable = "ocr_unavailable"
    /// A bug on our side (500).
    case internalError = "document_internal_error"

    /// Missing OCR and bugs are ours (500); the rest are the applicant's input (422).
    public var kind: ProblemKind {
        switch self {
        case .ocrUnavailable, .internalError: .internalError
        default: .invalid
        }
    }
}

/// A refused document photo, with the rule in words.
public typealias DocumentError = CodedError<DocumentErrorCode>

/// The shim's status as a code; `TD_ERR_UNREADABLE` is reported by the caller as `MRZError.unreadable`.
func documentCode(_ status: td_status) -> DocumentErrorCode {
    switch status {
    case TD_ERR_NO_DOCUMENT: .noDocument
    case TD_ERR_NO_MRZ: .noMRZ
    case TD_ERR_OCR_UNAVAILABLE: .ocrUnavailable
    default: .internalError
    }
}

/// The shim's message as a String.
func message(_ error: td_error) -> String {
    var copy = error
    return withUnsafeBytes(of: &copy.message) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
}
