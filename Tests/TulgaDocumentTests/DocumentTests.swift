import Foundation
import Testing
import TulgaCore
import TulgaDocument
import TulgaFace
import TulgaMRZ
import TulgaTestSupport

extension Generated {
    static func photos(_ document: Document) throws -> [Image] { try document.files.map { try Image(contentsOf: $0) } }
}

/// A reader: YuNet, SFace, Tesseract, and the manual clock's today.
func reader() throws -> DocumentReader {
    DocumentReader(engine: try FaceEngine(config: FaceConfig(modelsDirectory: RepositoryPaths.models)), ocr: try MRZReader(), clock: ManualClock())
}

@Suite("Document photos: read end to end, each refusal named", .serialized)
struct DocumentTests {
    @Test("a passport photo: every MRZ line, every check, the IIN and the portrait")
    func passport() throws {
        let document = try Generated.render("passport", seed: 1)
        defer { Generated.remove(document) }
        let reading = try reader().read(try Generated.photos(document), expecting: .passport)
        #expect(reading.refusal == nil, "\(reading.refusal?.reason ?? "")")
        #expect(reading.kind == .passport)
        #expect(reading.mrz?.lines == document.mrz)
        #expect(reading.mrz?.iin == document.iin)
        #expect(!reading.checks.contains { !$0.passed })
        let portrait = try #require(reading.portrait)
        #expect(portrait.aligned.width == 112 && portrait.photo == 0)
    }

    @Test("an ID card: both sides in either order, the portrait from the front")
    func idCard() throws {
        let document = try Generated.render("id-card", seed: 4)
        defer { Generated.remove(document) }
        let photos = try Generated.photos(document)
        let reader = try reader()
        for order in [photos, photos.reversed()] {
            let reading = reader.read(order, expecting: .idCard)
            #expect(reading.refusal == nil, "\(reading.refusal?.reason ?? "")")
            #expect(reading.mrz?.lines == document.mrz && reading.mrz?.iin == document.iin)
            #expect(reading.portrait != nil && reading.portrait?.photo != reading.mrzPhoto)
        }
    }

    @Test("each refusal is specific", arguments: [
        ("passport", "blank", "no_document"),
        ("id-card", "no-mrz", "no_mrz"),
        ("passport", "smudged", "mrz_unreadable"),
        ("id-card", "bad-check", "check_digit_document_number"),
        ("passport", "bad-check", "check_digit_document_number"),
        ("passport", "expired", "document_expired"),
        ("id-card", "two-faces", "several_faces"),
    ])
    func refusal(kind: String, variant: String, code: String) throws {
        let document = try Generated.render(kind, variant: variant, seed: 5, clean: true)
        defer { Generated.remove(document) }
        let reading = try reader().read(try Generated.photos(document), expecting: kind == "passport" ? .passport : .idCard)
        #expect(reading.refusal?.errorCode == code, "\(reading.refusal?.errorCode ?? "accepted"): \(reading.refusal?.reason ?? "")")
        #expect(reading.checks.contains { !$0.passed })
    }

    @Test("a passport where an ID card was chosen is the wrong type; the back alone has no portrait")
    func typeAndFront() throws {
        let passport = try Generated.render("passport", seed: 6, clean: true)
        defer { Generated.remove(passport) }
        let reader = try reader()
        let wrong = reader.read(try Generated.photos(passport), expecting: .idCard)
        #expect(wrong.refusal as? DocumentError == DocumentError(.wrongDocumentType, ""))
        let card = try Generated.render("id-card", seed: 6, clean: true)
        defer { Generated.remove(card) }
        let back = reader.read([try Image(contentsOf: card.files[1])], expecting: .idCard)
        #expect(back.mrz?.lines == card.mrz)
        #expect(back.refusal as? DocumentError == DocumentError(.noPortrait, ""))
    }

    @Test("a photo too small to hold a document is refused as no document, not as our failure")
    func tinyPhoto() throws {
        let tiny = try Image(bgr: [UInt8](repeating: 200, count: 3), width: 1, height: 1)
        let reading = try reader().read([tiny], expecting: .passport)
        #expect(reading.refusal?.errorCode == DocumentErrorCode.noDocument.rawValue && reading.refusal?.kind == .invalid)
    }

    @Test("expiry follows the injected clock")
    func injectedClock() throws {
        let document = try Generated.render("passport", seed: 7, clean: true)
        defer { Generated.remove(document) }
        let base = try reader()
        let clock = ManualClock()
        let late = DocumentReader(engine: base.engine, ocr: base.ocr, clock: clock)
        let photos = try Generated.photos(document)
        #expect(late.read(photos).isAccepted)
        clock.advance(11 * 366 * 86_400)   // past any generated expiry (at most 10 years on)
        #expect(late.read(photos).refusal?.errorCode == DocumentErrorCode.expired.rawValue)
    }
}

@Suite("Taking a document from a camera: guidance and the moment to take each side", .serialized)
struct CaptureTests {
    static let quad = [100.0, 100, 500, 100, 500, 350, 100, 350]
    static func at(_ dx: Double, brightness: Double = 180, glare: Double = 0) -> DocumentFrameMeasure {
        DocumentFrameMeasure(found: true, corners: quad.enumerated().map { $0.offset % 2 == 0 ? $0.element + dx : $0.element }, brightness: brightness, glare: glare)
    }

    @Test("no page, too dark (to see a page, or on it), glare, moving; taken after three still frames; the next side waits until the document is turned")
    func rules() {
        var c = DocumentCapture()
        func feed(_ m: DocumentFrameMeasure) -> (taken: Bool, hints: [DocumentHint]) {
            let taken = c.observe(m)
            return (taken, c.hints)
        }
        #expect(feed(.none) == (false, [.inFrame]))
        #expect(feed(DocumentFrameMeasure(found: false, frameBrightness: 20)) == (false, [.tooDark]))   // too dark to see a page
        #expect(feed(DocumentFrameMeasure(found: false, frameBrightness: 240, frameGlare: 0.5)) == (false, [.glare]))   // or too blown out
        #expect(feed(Self.at(0, brightness: 40)) == (false, [.tooDark]))
        #expect(feed(Self.at(0, glare: 0.2)) == (false, [.glare]))
        #expect(feed(Self.at(0, brightness: 40, glare: 0.2)) == (false, [.tooDark, .glare]))
        #expect(feed(Self.at(0)) == (false, [.holdStill]))
        #expect(feed(Self.at(60)) == (false, [.holdStill]))   // moved: counting starts again
        #expect(feed(Self.at(61)) == (false, [.holdStill]))
        #expect(feed(Self.at(62)) == (true, []))
        c.nextSide()
        for _ in 0..<5 { #expect(feed(Self.at(62)) == (false, [])) }   // the same side, still there
        #expect(feed(.none) == (false, [.inFrame]))                    // turned over: out of the frame a moment
        #expect(feed(Self.at(0)).taken == false && feed(Self.at(0)).taken == false)
        #expect(feed(Self.at(0)) == (true, []))
    }

    @Test("measured on generated photos: lit and free of glare; darkened, too dark; overexposed, glare; the background alone, no page")
    func measured() throws {
        let settings = DocumentCaptureSettings()
        for (kind, seed) in [("passport", 1), ("passport", 2), ("passport", 3), ("id-card", 1), ("id-card", 2), ("id-card", 3)] {
            let document = try Generated.render(kind, seed: seed)
            defer { Generated.remove(document) }
            for photo in try Generated.photos(document) {
                let m = DocumentFrameMeasure.measure(photo)
                #expect(m.found && m.brightness >= settings.darkBelow && m.glare <= settings.glareAbove, "\(kind) \(seed): \(m)")
                // Darkened, the hint is "too dark", overexposed "glare", whether or not the page is still found.
                for (gain, hint) in [(0.25, DocumentHint.tooDark), (2.5, .glare)] {
                    var capture = DocumentCapture()
                    _ = capture.observe(DocumentFrameMeasure.measure(try photo.adjusted(gain: gain)))
                    #expect(capture.hints == [hint], "\(kind) \(seed) at gain \(gain)")
                }
            }
        }
        let blank = try Generated.render("passport", variant: "blank", seed: 1)
        defer { Generated.remove(blank) }
        let background = DocumentFrameMeasure.measure(try Generated.photos(blank)[0])
        #expect(!background.found && background.frameBrightness >= settings.darkBelow)
    }
}
