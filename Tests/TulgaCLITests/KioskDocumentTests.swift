import Foundation
import Testing
import TulgaFace
import TulgaTestSupport

/// The kiosk's identity-document step, its camera fed by a folder of frames made from documents
/// scripts/render-document generates (the same frame-source interface a camera uses).
@Suite("tulga kiosk --document", .serialized)
struct KioskDocumentTests {
    /// Today (UTC), for documents valid on the real clock the command runs on.
    static var today: String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC") ?? calendar.timeZone
        let c = calendar.dateComponents([.year, .month, .day], from: Date())
        return String(format: "%04d-%02d-%02d", c.year ?? 2026, c.month ?? 1, c.day ?? 1)
    }

    /// A workspace whose registry records Lin's documents (the ID card 041234567, the passport N12345678, the Latin names).
    static func workspace() throws -> Workspace {
        let w = try Workspace()
        try """
        iin,surname,given_name,document_number,phone,photo,latin_surname,latin_given_names,passport_number
        \(Workspace.lin),Miranda,Lin,041234567,+77010000001,lin.png,Miranda,Lin Manuel,N12345678
        """.write(toFile: w.dir + "/registry.csv", atomically: true, encoding: .utf8)
        let imported = try w.run(["registry", "import", "--csv", w.dir + "/registry.csv", "--photos", w.dir + "/photos"])
        #expect(imported.status == 0, "\(imported.stdout)\(imported.stderr)")
        return w
    }

    /// What the camera sees, frame by frame: nothing, the front too dark, with glare, then still; nothing (it is
    /// turned over); the back, still. Returns the folder.
    static func frames(number: String, in w: Workspace) throws -> String {
        let person = ["--iin", Workspace.lin, "--surname", "MIRANDA", "--given-names", "LIN MANUEL", "--number", number,
                      "--portrait", "lin_manuel_miranda_f095.png"]
        let card = try Generated.render("id-card", seed: 3, clean: true, today: today, person: person)
        let blank = try Generated.render("id-card", variant: "blank", seed: 3, clean: true, today: today)
        defer { Generated.remove(card); Generated.remove(blank) }
        let (front, back, nothing) = (try Image(contentsOf: card.files[0]), try Image(contentsOf: card.files[1]), try Image(contentsOf: blank.files[0]))
        let sequence = [nothing, try front.adjusted(gain: 0.25), try front.adjusted(gain: 2.5), front, front, front, nothing, back, back, back]
        let folder = w.dir + "/camera-\(number)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        for (i, image) in sequence.enumerated() { try image.jpegData(quality: 95).write(to: URL(fileURLWithPath: folder + String(format: "/%02d.jpg", i))) }
        return folder
    }

    @Test("guidance from the frames (no document, too dark, glare, hold still), both sides taken, the data confirmed: the Digital ID is complete")
    func done() throws {
        let w = try Self.workspace()
        let camera = try Self.frames(number: "041234567", in: w)
        let r = try w.run(["kiosk", "--iin", Workspace.lin, "--source", w.video, "--prompts", "turn_right", "--lang", "en", "--document", "id-card",
                           "--document-source", camera, "--confirm-document"], env: ["TULGA_PIN": "402719"])
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        for text in ["Place the front of your ID card in the frame", "No document found", "Too dark", "Glare on the document", "Hold the document still",
                     "Now place the back of your ID card in the frame", "Photo taken", "041234567", "MIRANDA, LIN MANUEL",
                     "Check the recognised data", "Document checked: the data matches the state database"] {
            #expect(r.stdout.contains(text), "\(text)")
        }
        #expect(!r.stdout.contains("402719") && !r.stderr.contains("402719"))
        let show = try w.run(["digitalid", "show", Workspace.lin])
        #expect(show.stdout.contains("PIN set") && show.stdout.contains("document step done"), "\(show.stdout)")
    }

    @Test("a card with another number goes to a moderator, whose PNG shows the document beside the selfie; the approval completes the Digital ID")
    func review() throws {
        let w = try Self.workspace()
        let camera = try Self.frames(number: "041234568", in: w)
        let r = try w.run(["kiosk", "--iin", Workspace.lin, "--source", w.video, "--prompts", "turn_right", "--lang", "kk", "--document", "id-card",
                           "--document-source", camera, "--confirm-document", "--json"], env: ["TULGA_PIN": "402719"])
        #expect(r.status == 2, "\(r.stdout)\(r.stderr)")
        #expect(r.stderr.contains("Құжатыңыз операторға тексеруге"), "\(r.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let document = try #require(json["document"] as? [String: Any])
        #expect(document["state"] as? String == "review")
        let caseID = try #require(document["caseID"] as? String)
        try w.moderator("mira", secret: "mira-secret-0001", iin: "900101300017")
        let me = ["TULGA_MODERATOR_ID": "mira", "TULGA_MODERATOR_SECRET": "mira-secret-0001"]
        #expect(try w.run(["moderate", "claim", caseID], env: me).status == 0)
        let show = try w.run(["moderate", "show", caseID, "--output", w.dir + "/review"], env: me)
        #expect(show.status == 0 && show.stdout.contains("kind       document") && show.stdout.contains("document_number"), "\(show.stdout)\(show.stderr)")
        let png = try Image(contentsOf: w.dir + "/review/\(caseID).png")
        #expect(png.width > png.height * 2)   // the selfie, the front and the back side by side
        #expect(try FileManager.default.attributesOfItem(atPath: w.dir + "/review/\(caseID).png")[.posixPermissions] as? Int == 0o600)
        #expect(try w.run(["moderate", "approve", caseID, "--reason", "the new card's number"], env: me).status == 0)
        #expect(try w.run(["digitalid", "show", Workspace.lin]).stdout.contains("document step done"))
    }

    @Test("refusals before any frame: an unknown kind, --document without --iin or a source")
    func usage() throws {
        let w = try Workspace()
        #expect(try w.run(["kiosk", "--iin", Workspace.lin, "--source", w.video, "--document", "visa", "--document-source", w.dir]).status == 3)
        #expect(try w.run(["kiosk", "--reference", CLI.photos + "obama.jpg", "--source", w.video, "--document", "id-card",
                           "--document-source", w.dir]).status == 3)
        #expect(try w.run(["kiosk", "--iin", Workspace.lin, "--source", w.video, "--document", "passport"]).status == 3)
    }
}
