public import TulgaCore
public import TulgaFace
public import TulgaFaceModel
public import TulgaMRZ
import Foundation
import CTulgaDocument

/// The two documents tulga reads.
public enum DocumentKind: String, Sendable, Hashable, Codable, CaseIterable {
    /// An ID card: TD1, the portrait on the front, the MRZ on the back.
    case idCard = "id-card"
    /// A passport data page: TD3, portrait and MRZ on the same page.
    case passport

    /// The kind an MRZ declares: TD1 with code I, A or C is an ID card; TD3 with code P a passport.
    public init?(_ mrz: MRZ) {
        switch (mrz.format, mrz.documentCode.first) {
        case (.td1, "I"?), (.td1, "A"?), (.td1, "C"?): self = .idCard
        case (.td3, "P"?): self = .passport
        default: return nil
        }
    }
}

/// One named check and how it went, as `tulga document read` prints it.
public struct DocumentCheck: Sendable, Hashable, Codable {
    /// `document`, `mrz`, `check_digit_<field>`, `dates`, `document_type`, `not_expired`, `portrait`.
    public let name: String
    /// Whether it passed.
    public let passed: Bool
    /// What was found, in words.
    public let detail: String

    /// Creates a check.
    ///
    /// - Parameters:
    ///   - name: what was checked.
    ///   - passed: whether it passed.
    ///   - detail: what was found, in words.
    public init(name: String, passed: Bool, detail: String) { (self.name, self.passed, self.detail) = (name, passed, detail) }
}

/// The face on the front: where it is and its aligned 112×112 crop.
public struct Portrait: @unchecked Sendable {
    // Unchecked: `Image` is immutable after creation.
    /// Which photo (0-based) holds it.
    public let photo: Int
    /// The face in the flattened page's pixels.
    public let face: DetectedFace
    /// The crop aligned by the landmarks, as the recognizer sees it.
    public let aligned: Image
    /// SFace's embedding of the crop, for comparing with a selfie.
    public let embedding: Embedding
}

/// Everything read from the photos of one document, every check, and the first refusal.
public struct DocumentReading: @unchecked Sendable {
    // Unchecked: `refusal` is a `TulgaError` (Sendable); `Portrait` holds an immutable image.
    /// The kind the MRZ declares, when it was read.
    public var kind: DocumentKind?
    /// The zone's lines as read (before correction), when a zone was found and read.
    public var linesRead: [String]?
    /// The parsed zone, when its lines made a TD1 or TD3 zone.
    public var mrz: MRZ?
    /// Which photo (0-based) holds the zone.
    public var mrzPhoto: Int?
    /// The portrait, when exactly one face was found on the front.
    public var portrait: Portrait?
    /// Every check made, in order.
    public var checks: [DocumentCheck] = []
    /// The first failed check as an error: `DocumentError`, or `MRZError` for the zone itself.
    public var refusal: (any TulgaError)?

    /// Whether every check passed.
    public var isAccepted: Bool { refusal == nil }

    /// Self when accepted.
    ///
    /// - Returns: This reading.
    /// - Throws: The refusal (`DocumentError` or `MRZError`).
    @discardableResult
    public func accepted() throws -> DocumentReading {
        if let refusal { throw refusal }
        return self
    }
}

/// Reads document photos: the page, its MRZ (every check digit, the IIN), the type, the expiry
/// and the portrait. Each refusal is named (see ``DocumentErrorCode`` and `MRZErrorCode`).
/// Used from one thread at a time (the face engine's rule).
///
/// ```swift
/// let reader = DocumentReader(engine: try FaceEngine(config: FaceConfig()), ocr: try MRZReader())
/// let reading = reader.read([front, back], expecting: .idCard)
/// if let refusal = reading.refusal { print(refusal.errorCode, refusal.reason) }
/// ```
public final class DocumentReader {
    /// Finds and aligns the portrait.
    public let engine: FaceEngine
    /// Reads the zone's characters.
    public let ocr: MRZReader
    /// Today, for the expiry and the birth date's century.
    public let clock: any WallClock

    /// Creates a reader.
    ///
    /// - Parameters:
    ///   - engine: the face detector and aligner.
    ///   - ocr: Tesseract, loaded.
    ///   - clock: the source of today's date (UTC).
    public init(engine: FaceEngine, ocr: MRZReader, clock: any WallClock = SystemClock()) {
        (self.engine, self.ocr, self.clock) = (engine, ocr, clock)
    }

    /// Reads one document from its photos: both sides of an ID card (any order), or a passport's data page.
    ///
    /// Checks, in order: a page in every photo, an MRZ, its lines, every check digit, the dates,
    /// the type asked for, the expiry, one face on the front. All that can be checked is checked;
    /// the first failure is the refusal.
    ///
    /// - Parameters:
    ///   - photos: decoded photos of the document.
    ///   - expecting: the kind chosen by the applicant; nil accepts either.
    /// - Returns: What was read, every check, and the refusal if any.
    public func read(_ photos: [Image], expecting: DocumentKind? = nil) -> DocumentReading {
        var reading = DocumentReading()
        func refuse(_ error: any TulgaError) {
            if reading.refusal == nil { reading.refusal = error }
        }
        func check(_ name: String, _ passed: Bool, _ detail: String) {
            reading.checks.append(DocumentCheck(name: name, passed: passed, detail: detail))
        }

        // Pages.
        var pages: [FlatPage] = []
        for (i, photo) in photos.enumerated() {
            // Too small to hold a document is the applicant's photo, not our failure.
            guard photo.width >= 16, photo.height >= 16 else {
                let reason = "photo \(i + 1) is \(photo.width)x\(photo.height) pixels: too small to hold a document"
                check("document", false, reason)
                refuse(DocumentError(.noDocument, reason))
                return reading
            }
            do {
                pages.append(try findPage(bgr: photo.bgrBytes(), width: photo.width, height: photo.height))
            } catch let failure as NativeFailure {
                let reason = "photo \(i + 1): " + failure.reason
                check("document", false, reason)
                refuse(DocumentError(failure.code ?? .internalError, reason))
                return reading
            } catch {
                check("document", false, "photo \(i + 1): \(error)")
                refuse(DocumentError(.internalError, "photo \(i + 1): \(error)"))
                return reading
            }
        }
        guard !pages.isEmpty else {
            refuse(DocumentError(.noDocument, "no photo given"))
            return reading
        }
        check("document", true, "a page in each of \(pages.count) photo(s)")

        // The zone: on any page, either way up.
        var zone: (photo: Int, band: td_box, lines: Int)?
        for i in pages.indices where zone == nil {
            for turn in 0..<2 where zone == nil {
                if turn == 1 { pages[i].turnAround() }
                if let found = try? findZone(pages[i]) { zone = (i, found.band, found.lines) }
            }
            if zone == nil { pages[i].turnAround() }
        }
        guard let zone else {
            check("mrz", false, "no machine-readable zone found")
            refuse(DocumentError(.noMRZ, "no machine-readable zone on the document"))
            return reading
        }
        reading.mrzPhoto = zone.photo
        var second: [String] = []
        do {
            (reading.linesRead, second) = try ocr.read(pages[zone.photo], band: zone.band, lines: zone.lines)
        } catch {
            check("mrz", false, error.reason)
            refuse(error.code == nil ? MRZError(.unreadable, error.reason) : DocumentError(error.code ?? .internalError, error.reason))
            return reading
        }
        let today = Self.today(clock)
        let mrz: MRZ
        do {
            mrz = try MRZ.parse(reading.linesRead ?? [], alternative: second, currentYear: today.year)
        } catch {
            check("mrz", false, error.reason)
            refuse(error)
            return reading
        }
        reading.mrz = mrz
        check("mrz", true, "\(mrz.format == .td1 ? "TD1, 3 lines of 30" : "TD3, 2 lines of 44") on photo \(zone.photo + 1)")
        for c in mrz.checks {
            check("check_digit_\(c.field.rawValue)", c.passed, "read \(c.read), computed \(c.expected)")
        }
        do { try mrz.validated() } catch { refuse(error) }
        let datesValid = mrz.birthDate.year != nil && mrz.expiryDate.year != nil
        check("dates", datesValid, "born \(mrz.birthDate), expires \(mrz.expiryDate)")

        // The type.
        reading.kind = DocumentKind(mrz)
        let kindName = reading.kind?.rawValue ?? "document code \(mrz.documentCode)"
        if let expecting, reading.kind != expecting {
            check("document_type", false, "\(kindName), not the \(expecting.rawValue) chosen")
            refuse(DocumentError(.wrongDocumentType, "the photo shows a \(kindName), but a \(expecting.rawValue) was chosen"))
        } else if reading.kind == nil {
            check("document_type", false, kindName + " is neither an ID card nor a passport")
            refuse(DocumentError(.wrongDocumentType, kindName + " is neither an ID card (TD1) nor a passport (TD3)"))
        } else {
            check("document_type", true, kindName)
        }

        // The expiry.
        if let expiry = mrz.expiryDate.ordinal {
            let notExpired = expiry >= today.ordinal
            check("not_expired", notExpired, "expires \(mrz.expiryDate), today \(today.text)")
            if !notExpired { refuse(DocumentError(.expired, "the document expired on \(mrz.expiryDate)")) }
        }

        // The portrait: on the passport page, or on the ID card's other side.
        let front = reading.kind == .passport ? zone.photo : pages.indices.first { $0 != zone.photo }
        guard let front else {
            check("portrait", false, "the front side is missing: give both sides of the ID card")
            refuse(DocumentError(.noPortrait, "the front side of the ID card is needed for the portrait"))
            return reading
        }
        do {
            var faces: [DetectedFace] = []
            var image = try Image(bgr: pages[front].pixels, width: pages[front].width, height: pages[front].height)
            faces = try engine.detect(image)
            if faces.isEmpty, front != zone.photo {
                pages[front].turnAround()
                image = try Image(bgr: pages[front].pixels, width: pages[front].width, height: pages[front].height)
                faces = try engine.detect(image)
            }
            switch faces.count {
            case 0:
                check("portrait", false, "no face on photo \(front + 1)")
                refuse(DocumentError(.noPortrait, "no face on the front of the document"))
            case 1:
                let (embedding, aligned) = try engine.embedder.embeddedCrop(faces[0], in: image)
                reading.portrait = Portrait(photo: front, face: faces[0], aligned: aligned, embedding: embedding)
                check("portrait", true, "one face on photo \(front + 1), score \(String(format: "%.2f", faces[0].score))")
            default:
                check("portrait", false, "\(faces.count) faces on photo \(front + 1)")
                refuse(DocumentError(.severalFaces, "\(faces.count) faces on the front of the document, expected one"))
            }
        } catch {
            check("portrait", false, error.reason)
            refuse(error)
        }
        return reading
    }

    /// Today in UTC: the year, `yyyymmdd` and `YYYY-MM-DD`.
    ///
    /// - Parameter clock: the injected clock.
    /// - Returns: The year, the date as one number, and as text.
    public static func today(_ clock: any WallClock) -> (year: Int, ordinal: Int, text: String) {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC") ?? calendar.timeZone
        let c = calendar.dateComponents([.year, .month, .day], from: clock.date)
        let (y, m, d) = (c.year ?? 1970, c.month ?? 1, c.day ?? 1)
        return (y, y * 10000 + m * 100 + d, String(format: "%04d-%02d-%02d", y, m, d))
    }
}
