import ArgumentParser
import Foundation
import TulgaConfig
import TulgaCore
import TulgaDocument
import TulgaFace
import TulgaFaceModel
import TulgaMRZ

struct DocumentCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "document",
        abstract: "Read identity documents from photos.",
        subcommands: [DocumentRead.self])
}

struct DocumentRead: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "read",
        abstract: "Read an ID card (both sides) or a passport data page: the MRZ, every check digit, the expiry and the portrait.",
        discussion: """
        Prints what was read and every check. Exit codes: 0 accepted, 2 refused (no document, no MRZ, unreadable MRZ, \
        a named check digit, an expired document, the wrong document type, no or several faces on the front, or a photo \
        that cannot be decoded), 3 usage or internal error. Tesseract's data: $TESSDATA_PREFIX or its compiled-in path.
        """)

    @Argument(help: "Photos of one document: both sides of an ID card, or a passport's data page (JPEG or PNG).")
    var images: [String]

    @Option(name: .customLong("type"), help: "The document chosen: id-card or passport (default: either).")
    var type: String?

    @Option(help: "Write the aligned portrait (112x112 PNG) here.")
    var portrait: String?

    @OptionGroup var common: CommonOptions

    func validate() throws {
        if let type, DocumentKind(rawValue: type) == nil { throw ValidationError("--type must be id-card or passport, got \(type)") }
    }

    func run() async throws {
        let configuration = try common.loadConfiguration()
        let reader: DocumentReader
        do {
            reader = DocumentReader(engine: try FaceEngine(config: configuration.face), ocr: try MRZReader())
        } catch let error as any TulgaError {
            throw fail(error.reason)
        } catch { throw fail("\(error)") }
        var photos: [Image] = []
        for path in images {
            do {
                photos.append(try Image(contentsOf: path, limits: configuration.face.decode))
            } catch {
                let report = DocumentReport(images: images, refusal: error)
                if common.json { try printJSON(report) } else { report.printText() }
                throw ExitCode(Exit.unusable)
            }
        }
        let reading = reader.read(photos, expecting: type.flatMap(DocumentKind.init(rawValue:)))
        if let portrait, let crop = reading.portrait?.aligned {
            do { try Data(crop.pngData()).write(to: URL(fileURLWithPath: portrait)) } catch { throw fail("cannot write \(portrait): \(error)") }
        }
        let report = DocumentReport(images: images, reading: reading)
        if common.json { try printJSON(report) } else { report.printText() }
        if let refusal = reading.refusal, refusal.kind == .internalError { throw ExitCode(Exit.usageOrInternal) }
        throw ExitCode(reading.isAccepted ? Exit.match : Exit.unusable)
    }
}

/// What `tulga document read` prints, in words or as JSON.
struct DocumentReport: Encodable {
    struct Fields: Encodable {
        var documentCode, issuingState, documentNumber, birthDate, sex, expiryDate, nationality, surname, givenNames: String
        var optionalData, optionalData2: String
        var iin: String?
    }
    struct Refusal: Encodable { var code: String; var reason: String }
    struct Face: Encodable { var photo: Int; var x, y, width, height, score: Double }
    var images: [String]
    var decision: String
    var kind: String?
    var format: String?
    var linesRead: [String]?
    var lines: [String]?
    var fields: Fields?
    var corrections: [MRZCorrection]?
    var checks: [DocumentCheck] = []
    var portrait: Face?
    var refusal: Refusal?

    init(images: [String], reading: DocumentReading) {
        self.images = images
        decision = reading.isAccepted ? "accepted" : "refused"
        kind = reading.kind?.rawValue
        linesRead = reading.linesRead
        if let m = reading.mrz {
            format = m.format.rawValue
            lines = m.lines
            corrections = m.corrections
            fields = Fields(documentCode: m.documentCode, issuingState: m.issuingState, documentNumber: m.documentNumber,
                            birthDate: m.birthDate.description, sex: m.sex, expiryDate: m.expiryDate.description, nationality: m.nationality,
                            surname: m.surname, givenNames: m.givenNames, optionalData: m.optionalData, optionalData2: m.optionalData2, iin: m.iin)
        }
        checks = reading.checks
        if let p = reading.portrait {
            let b = p.face.box
            portrait = Face(photo: p.photo + 1, x: b.x, y: b.y, width: b.width, height: b.height, score: p.face.score)
        }
        refusal = reading.refusal.map { Refusal(code: $0.errorCode, reason: $0.reason) }
    }

    init(images: [String], refusal: FaceError) {
        self.images = images
        decision = "refused"
        self.refusal = Refusal(code: refusal.code.rawValue, reason: refusal.reason)
    }

    func printText() {
        print("photos     \(images.joined(separator: ", "))")
        if let kind, let format { print("document   \(kind) (\(format.uppercased()))") }
        if let linesRead, linesRead != lines { print("read       " + linesRead.joined(separator: "\n           ")) }
        if let lines { print("mrz        " + lines.joined(separator: "\n           ")) }
        if let f = fields {
            print("type       \(f.documentCode), issued by \(f.issuingState), number \(f.documentNumber)")
            print("name       \(f.surname), \(f.givenNames)")
            print("born       \(f.birthDate)  sex \(f.sex)  nationality \(f.nationality)")
            print("expires    \(f.expiryDate)")
            let optional = [f.optionalData, f.optionalData2].filter { !$0.isEmpty }.joined(separator: " | ")
            if !optional.isEmpty { print("optional   \(optional)") }
            print("iin        \(f.iin ?? "none")")
        }
        for c in corrections ?? [] { print("corrected  line \(c.line + 1) position \(c.position + 1): \(c.from) -> \(c.to) (\(c.reason))") }
        for c in checks { print("check      \(c.passed ? "ok  " : "FAIL") \(c.name): \(c.detail)") }
        if let p = portrait { print("portrait   photo \(p.photo), box \(Int(p.x)),\(Int(p.y)) \(Int(p.width))x\(Int(p.height)), score \(String(format: "%.2f", p.score))") }
        print("decision   \(decision)")
        if let refusal { print("reason     \(refusal.code): \(refusal.reason)") }
    }
}
