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
