import ArgumentParser
import Foundation
import TulgaConfig
import TulgaFace
import TulgaPolicy
import TulgaStorage
import TulgaCore
import TulgaFlow
import TulgaRegistry
import TulgaAttempts
import TulgaModeration
import TulgaDigitalID
import TulgaIssuance
import TulgaFaceModel
import TulgaLivenessRunner
import TulgaAPIKeys
import TulgaLiveness

/// How a moderator proves who they are: a credentials file or the environment.
struct Credentials: ParsableArguments {
    @Option(help: "JSON file {\"id\": ..., \"secret\": ...} (else $TULGA_MODERATOR_ID and $TULGA_MODERATOR_SECRET).")
    var credentials: String?

    func load() throws -> (id: String, secret: String) {
        if let credentials {
            struct File: Decodable { let id: String; let secret: String }
            guard let data = FileManager.default.contents(atPath: credentials) else { throw fail("cannot read the credentials file \(credentials)") }
            guard let file = try? JSONDecoder().decode(File.self, from: data) else {
                throw fail("\(credentials) must be JSON with string fields id and secret")
            }
            return (file.id, file.secret)
        }
        let env = ProcessInfo.processInfo.environment
        guard let id = env["TULGA_MODERATOR_ID"], let secret = env["TULGA_MODERATOR_SECRET"] else {
            throw fail("moderator credentials missing: pass --credentials FILE or set TULGA_MODERATOR_ID and TULGA_MODERATOR_SECRET")
        }
        return (id, secret)
    }
}

/// Opens the store and authenticates the moderator before anything else happens.
func asModerator(_ store: StoreOptions, _ credentials: Credentials, _ body: (Records, Configuration, Moderator) async throws -> Void) async throws {
    let (id, secret) = try credentials.load()
    try await withStore(store) { s, configuration in
        let moderator = try await s.moderation.authenticate(id: id, secret: secret)
        try await body(s, configuration, moderator)
    }
}

struct Moderate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "moderate",
        abstract: "Review flagged cases.",
        subcommands: [ModerateList.self, ModerateShow.self, ModerateClaim.self, ModerateApprove.self, ModerateReject.self,
                      ModerateReassign.self, ModerateStats.self])
}

struct ModerateList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List cases, oldest first.")
    @Option(help: "open, claimed, approved or rejected.") var state: String?

    func validate() throws {
        if let state, CaseState(rawValue: state) == nil { throw ValidationError("--state must be open, claimed, approved or rejected") }
    }
    @OptionGroup var credentials: Credentials
    @OptionGroup var store: StoreOptions

    func run() async throws {
        try await asModerator(store, credentials) { s, _, m in
            let cases = try await s.moderation.list(state: state.flatMap(CaseState.init(rawValue:)), as: m)
            if store.common.json { try printJSON(cases); return }
            print("CASE                      STATE     SCORE  AGE     CLAIMED BY   FLAG")
            let now = s.clock.now()
            for c in cases {
                let age = "\(Int((now - c.createdAt) / 3600))h"
                print([c.id.padding(toLength: 25, withPad: " ", startingAt: 0), c.state.rawValue.padding(toLength: 9, withPad: " ", startingAt: 0),
                       format(c.score), age.padding(toLength: 7, withPad: " ", startingAt: 0),
                       (c.claimedBy ?? "-").padding(toLength: 12, withPad: " ", startingAt: 0),
                       (c.overSLA ? "OVER SLA; " : "") + c.flagReason].joined(separator: " "))
            }
            print("\(cases.count) case(s)")
        }
    }
}

struct ModerateShow: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Show a case and write a side-by-side PNG with face boxes and the score: the selfie and the reference, or, for a document case, the selfie beside the document.")
    @Argument var caseID: String
    @Option(help: "Folder for the PNG (created 0700; default storage.reviewFolder, var/review).") var output: String?
    @OptionGroup var credentials: Credentials
    @OptionGroup var store: StoreOptions

    func run() async throws {
        try await asModerator(store, credentials) { s, configuration, m in
            let detail = try await s.moderation.detail(caseID, as: m)
            let c = detail.summary
            var png: String?
            let folder = output ?? configuration.storage.reviewFolder
            if let document = detail.document, let front = document.front {
                png = try writeDocumentComparison(selfie: detail.selfie, front: front, back: document.back, score: c.score,
                                                  config: configuration.face, folder: folder)
            } else if let selfie = detail.selfie, let reference = detail.reference {
                png = try writeComparison(selfie: selfie, reference: reference, score: c.score, config: configuration.face, folder: folder)
            }
            if store.common.json {
                try printJSON(["case": AnyEncodable(c), "png": AnyEncodable(png), "liveness": AnyEncodable(detail.livenessReport),
                               "document": AnyEncodable(detail.document?.data)])
                return
            }
            print("case       \(c.id)")
            print("IIN        \(c.iin)")
            print("state      \(c.state.rawValue)\(c.claimedBy.map { " by \($0)" } ?? "")")
            print("kind       \(c.kind.rawValue)")
            print("score      \(format(c.score, 4))\(c.kind == .document ? " (the document's portrait against the selfie)" : "")")
            print("flagged    \(c.flagReason)\(c.overSLA ? " (over SLA)" : "")")
            if let data = detail.document?.data { print("document   \(data)") }
            if let reason = c.reason { print("decision   \(c.decidedBy ?? "?"): \(reason)") }
            if c.evidencePurged { print("evidence   purged") }
            if let png { print("comparison \(png)") }
        }
    }

    func writeComparison(selfie: Data, reference: Data, score: Double, config: FaceConfig, folder: String) throws -> String {
        try drawPanels(config: config, folder: folder) { boxed in
            let left = try boxed(selfie)
            // A selfie-video mismatch keeps the video frame beside the selfie (twice as wide as high).
            let panels = left.width > left.height * 3 / 2 ? "selfie | video frame | reference" : "selfie | reference"
            return (try left.sideBySide(with: try boxed(reference), height: 480),
                    "\(panels)   score \(format(score, 3)) (the lower of the selfie's and the best video frame's)")
        }
    }

    /// A document case: the selfie beside the document's photos (the portrait side, then the back), faces boxed.
    func writeDocumentComparison(selfie: Data?, front: Data, back: Data?, score: Double, config: FaceConfig, folder: String) throws -> String {
        try drawPanels(config: config, folder: folder) { boxed in
            var joined = try boxed(front)
            var panels = "document"
            if let back { (joined, panels) = (try joined.sideBySide(with: try boxed(back), height: 480), "document front | back") }
            if let selfie { (joined, panels) = (try boxed(selfie).sideBySide(with: joined, height: 480), "selfie | " + panels) }
            return (joined, "\(panels)   portrait score \(format(score, 3)) against the selfie")
        }
    }

    /// Decodes and boxes each picture's faces, joins them as `body` says, labels it and writes `<case>.png` (0600) in `folder`.
    func drawPanels(config: FaceConfig, folder: String, _ body: ((Data) throws -> Image) throws -> (Image, String)) throws -> String {
        do {
            let engine = try FaceEngine(config: config)
            func boxed(_ data: Data) throws(FaceError) -> Image {
                let image = try Image(decoding: data, limits: DecodeLimits(minLongSide: 0))
                return try image.annotated(try engine.analyze(image).faces.map { .rect($0.face.box) })
            }
            let (joined, label) = try body(boxed)
            let labelled = try joined.annotated([.text(label, at: Point(x: 10, y: 30), size: 0.6)])
            let path = (folder as NSString).appendingPathComponent("\(caseID).png")
            do {
                try PrivateFile.makeFolder(folder)
                try PrivateFile.replace(path, try labelled.pngData())
            } catch let failure as FileFailure { throw fail("cannot write the comparison: \(failure)") }
            return path
        } catch let error as FaceError {
            throw fail("cannot draw the comparison: \(error.reason)")
        }
    }
}

struct ModerateClaim: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "claim", abstract: "Claim a case (a lease that expires).")
    @Argument var caseID: String
    @OptionGroup var credentials: Credentials
    @OptionGroup var store: StoreOptions

    func run() async throws {
        try await asModerator(store, credentials) { s, _, m in
            let c = try await s.moderation.claim(caseID, as: m)
            print("claimed \(c.id) until \(Date(timeIntervalSince1970: c.leaseUntil ?? 0))")
        }
    }
}

/// Approve or reject one or more claimed cases, each in its own transaction.
struct Decision: ParsableArguments {
    @Argument(help: "Case ids.") var caseIDs: [String]
    @Option(help: "Why (required).") var reason: String
    @OptionGroup var credentials: Credentials
    @OptionGroup var store: StoreOptions

    func validate() throws {
        guard !caseIDs.isEmpty else { throw ValidationError("give at least one case id") }
        guard !reason.trimmingCharacters(in: .whitespaces).isEmpty else { throw ValidationError("--reason must not be empty") }
    }

    func run(approve: Bool) async throws {
        try await asModerator(store, credentials) { s, _, m in
            for id in caseIDs {
                let c = try await ModerationDesk(records: s).decide(id, approve: approve, reason: reason, as: m)
                // Unbuffered: each committed decision is visible at once, even if the process dies next.
                FileHandle.standardOutput.write(Data("\(c.id) \(c.state.rawValue)\n".utf8))
            }
        }
    }
}

struct ModerateApprove: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "approve", abstract: "Approve claimed cases: creates the Digital ID and sends the SMS.")
    @OptionGroup var decision: Decision
    func run() async throws { try await decision.run(approve: true) }
}

struct ModerateReject: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "reject", abstract: "Reject claimed cases and send the SMS.")
    @OptionGroup var decision: Decision
    func run() async throws { try await decision.run(approve: false) }
}

struct ModerateReassign: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "reassign", abstract: "Hand a case to another moderator (supervisors only).")
    @Argument var caseID: String
    @Option(help: "The moderator who takes it.") var to: String
    @OptionGroup var credentials: Credentials
    @OptionGroup var store: StoreOptions

    func run() async throws {
        try await asModerator(store, credentials) { s, _, m in
            let c = try await s.moderation.reassign(caseID, to: to, as: m)
            print("\(c.id) now claimed by \(c.claimedBy ?? "?")")
        }
    }
}

struct ModerateStats: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "stats", abstract: "Queue counts; supervisors see everyone's decisions.")
    @OptionGroup var credentials: Credentials
    @OptionGroup var store: StoreOptions

    func run() async throws {
        try await asModerator(store, credentials) { s, _, m in
            let stats = try await s.moderation.stats(as: m)
            if store.common.json { try printJSON(stats); return }
            print("open \(stats.open)  claimed \(stats.claimed)  approved \(stats.approved)  rejected \(stats.rejected)  over SLA \(stats.overSLA)")
            for (who, n) in stats.decisionsBy.sorted(by: { $0.key < $1.key }) { print("  \(who): \(n) decision(s)") }
        }
    }
}

struct ModeratorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "moderator", abstract: "Moderator accounts (administrators).",
                                                    subcommands: [ModeratorAdd.self])
}

struct ModeratorAdd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "add",
                                                    abstract: "Add or replace a moderator; the secret comes from standard input or $TULGA_NEW_MODERATOR_SECRET.")
    @Argument var id: String
    @Option(help: "moderator or supervisor.") var role: String = "moderator"
    @Option(help: "The moderator's own IIN, required (they never see or decide a case about themselves).") var iin: String
    @OptionGroup var store: StoreOptions

    func validate() throws {
        guard Role(rawValue: role) != nil else { throw ValidationError("--role must be moderator or supervisor") }
        _ = try validIIN(iin)
    }

    func run() async throws {
        let secret = try readSecret(env: "TULGA_NEW_MODERATOR_SECRET", what: "secret")
        try await withStore(store) { s, _ in
            try await s.moderation.addModerator(id: id, role: Role(rawValue: role) ?? .moderator, secret: secret, iin: iin)
            print("moderator \(id) (\(role)) saved")
        }
    }
}
