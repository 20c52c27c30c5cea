internal import Foundation
internal import HTTPTypes
internal import Hummingbird
internal import TulgaDigitalID
internal import TulgaFace
internal import TulgaIdentity
internal import TulgaIssuance
internal import TulgaPolicy
internal import TulgaStorage

/// JSON responses.
func json<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) throws -> Response {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: try encoder.encode(value))))
}

/// Reads a JSON body (64 KiB at most) into `T`.
func body<T: Decodable>(_ request: Request, _ type: T.Type, limit: Int = 64 * 1024) async throws -> T {
    var request = request
    let buffer = try await request.collectBody(upTo: limit)
    guard buffer.readableBytes > 0 else { throw Problem(.badRequest, "invalid_json", "the body is empty; this endpoint expects JSON") }
    return try JSONDecoder().decode(T.self, from: Data(buffer.readableBytesView))
}

func validIIN(_ text: String) throws -> String {
    do { return try IIN(text).value } catch { throw Problem(.unprocessableContent, "invalid_iin", "invalid IIN: \(error)") }
}

struct Routes {
    let env: ServerEnvironment

    func register(on router: Router<TulgaContext>) {
        router.get("/health") { _, _ in try json(["status": "ok"]) }
        router.get("/openapi.yaml") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/yaml"], body: .init(byteBuffer: ByteBuffer(string: OpenAPI.document)))
        }
        router.get("/metrics") { _, _ in
            env.queueGauge.record(Double(try await env.store.queueDepth()))
            env.sessionsGauge.record(Double(await env.sessions.count))
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                            body: .init(byteBuffer: ByteBuffer(bytes: env.registry.emitToBuffer())))
        }
        verification(router.group("/v1/verifications"))
        issuance(router.group("/v1"))
        moderation(router.group("/v1"))
    }

    // MARK: Verification

    struct CreateSession: Decodable { let iin: String; let language: String? }

    func verification(_ group: RouterGroup<TulgaContext>) {
        group.post { request, context in
            try context.require(.kiosk, .issuance)
            let input = try await body(request, CreateSession.self)
            let iin = try validIIN(input.iin)
            try env.iinLimiter.take("iin:" + iin)
            let language = input.language ?? "ru"
            guard ["ru", "kk"].contains(language) else { throw Problem(.unprocessableContent, "invalid_language", "language must be ru or kk") }
            return try json(try await env.sessions.create(iin: iin, language: language), status: .created)
        }
        group.get("/{id}") { _, context in
            try context.require(.kiosk, .issuance)
            return try json(try await env.sessions.state(try context.parameters.require("id")))
        }
        group.post("/{id}/frames") { request, context in
            try context.require(.kiosk, .issuance)
            let id = try context.parameters.require("id")
            var request = request
            let bytes = try await request.collectBody(upTo: env.config.frameMaxBytes)
            let image = try Image(decoding: Data(bytes.readableBytesView), limits: env.decodeLimits)
            return try json(try await env.sessions.feed(id, frames: SingleFrame(image, stampMs: VerificationSessions.nowMs())))
        }
        group.post("/{id}/clip") { request, context in
            try context.require(.kiosk, .issuance)
            let id = try context.parameters.require("id")
            var request = request
            let bytes = try await request.collectBody(upTo: env.config.clipMaxBytes)
            _ = try await env.sessions.state(id)   // 404 before buffering the clip
            let clip = try Clip(Data(bytes.readableBytesView), maxFrames: env.config.clipMaxFrames, startMs: VerificationSessions.nowMs())
            return try json(try await env.sessions.feed(id, frames: clip))
        }
        group.post("/{id}/finish") { _, context in
            try context.require(.kiosk, .issuance)
            return try json(try await env.sessions.finish(try context.parameters.require("id")))
        }
    }

    // MARK: Issuance

    struct IINBody: Decodable { let iin: String; let language: String? }
    struct ConfirmBody: Decodable { let iin: String; let code: String }
    struct ApplyBody: Decodable {
        let iin: String
        let pin: String
        let template: String?
        let algorithm: String?
        let organization: String?
        let bin: String?
        let headIin: String?
    }
    struct InstallBody: Decodable { let password: String }
    struct InstalledFile: Encodable { let name: String; let pkcs12: String }
    struct Installed: Encodable { let status: String; let files: [InstalledFile] }

    func issuance(_ group: RouterGroup<TulgaContext>) {
        group.post("/sms/request") { request, context in
            try context.require(.issuance)
            let input = try await body(request, IINBody.self)
            let iin = try validIIN(input.iin)
            try env.iinLimiter.take("sms:" + iin)
            try await env.issuance.requestCode(iin: iin, language: input.language == "kk" ? "kk" : "ru")
            return try json(["status": "sent", "validSeconds": "\(Int(env.issuance.sms.validitySeconds))"], status: .accepted)
        }
        group.post("/sms/confirm") { request, context in
            try context.require(.issuance)
            let input = try await body(request, ConfirmBody.self)
            try await env.issuance.confirmCode(iin: try validIIN(input.iin), code: input.code)
            return try json(["status": "confirmed"])
        }
        group.post("/applications") { request, context in
            try context.require(.issuance)
            let input = try await body(request, ApplyBody.self)
            guard let template = Template(rawValue: input.template ?? "individual") else {
                throw Problem(.unprocessableContent, "invalid_template", "unknown template \(input.template ?? "")")
            }
            guard let algorithm = KeyAlgorithm(rawValue: input.algorithm ?? "rsa2048") else {
                throw Problem(.unprocessableContent, "invalid_algorithm", "algorithm must be rsa2048 or p256")
            }
            let app = try await env.issuance.applyRemote(iin: try validIIN(input.iin), pin: input.pin, template: template, algorithm: algorithm,
                                                         organization: input.organization, bin: input.bin, headIIN: input.headIin)
            return try json(app, status: .created)
        }
        group.get("/applications/{number}") { _, context in
            try context.require(.issuance)
            return try json(try await env.issuance.status(try context.parameters.require("number")))
        }
        group.post("/applications/{number}/issue") { _, context in
            try context.require(.admin)
            return try json(try await env.issuance.issue(try context.parameters.require("number")))
        }
        group.post("/applications/{number}/install") { request, context in
            try context.require(.issuance)
            let input = try await body(request, InstallBody.self)
            let number = try context.parameters.require("number")
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("tulga-install-\(makeID())").path
            defer { try? FileManager.default.removeItem(atPath: folder) }
            let paths = try await env.issuance.install(number, folder: folder, password: input.password)
            let files = try paths.map { path in
                InstalledFile(name: (path as NSString).lastPathComponent, pkcs12: try Data(contentsOf: URL(fileURLWithPath: path)).base64EncodedString())
            }
            return try json(Installed(status: ApplicationStatus.installed.title, files: files))
        }
    }

    // MARK: Moderation

    struct ReasonBody: Decodable { let reason: String }
    struct ReassignBody: Decodable { let to: String }

    /// The moderator named by X-Moderator-Id / X-Moderator-Secret, on a key with the moderation scope.
    func moderator(_ request: Request, _ context: TulgaContext) async throws -> Moderator {
        try context.require(.moderation)
        guard let id = request.headers[HTTPField.Name("X-Moderator-Id")!], let secret = request.headers[HTTPField.Name("X-Moderator-Secret")!] else {
            throw Problem(.unauthorized, "unauthorized", "moderation needs X-Moderator-Id and X-Moderator-Secret")
        }
        return try await env.store.authenticate(id: id, secret: secret)
    }

    func moderation(_ group: RouterGroup<TulgaContext>) {
        group.get("/cases") { request, context in
            let m = try await moderator(request, context)
            let state = try request.uri.queryParameters["state"].map { raw -> CaseState in
                guard let s = CaseState(rawValue: String(raw)) else {
                    throw Problem(.unprocessableContent, "invalid_state", "state must be open, claimed, approved or rejected")
                }
                return s
            }
            return try json(try await env.store.listCases(state: state, as: m))
        }
        group.get("/cases/{id}") { request, context in
            let m = try await moderator(request, context)
            let detail = try await env.store.caseDetail(try context.parameters.require("id"), as: m)
            struct View: Encodable { let summary: CaseSummary; let selfieJPEG: String?; let referencePhoto: String?; let livenessReport: String? }
            return try json(View(summary: detail.summary, selfieJPEG: detail.selfie?.base64EncodedString(),
                                 referencePhoto: detail.reference?.base64EncodedString(), livenessReport: detail.livenessReport))
        }
        group.post("/cases/{id}/claim") { request, context in
            let m = try await moderator(request, context)
            return try json(try await env.store.claim(try context.parameters.require("id"), as: m))
        }
        for (path, approve) in [("approve", true), ("reject", false)] {
            group.post("/cases/{id}/\(path)") { request, context in
                let m = try await moderator(request, context)
                let input = try await body(request, ReasonBody.self)
                return try json(try await env.store.decide(try context.parameters.require("id"), approve: approve, reason: input.reason, as: m))
            }
        }
        group.post("/cases/{id}/reassign") { request, context in
            let m = try await moderator(request, context)
            let input = try await body(request, ReassignBody.self)
            return try json(try await env.store.reassign(try context.parameters.require("id"), to: input.to, as: m))
        }
        group.get("/moderation/stats") { request, context in
            let m = try await moderator(request, context)
            return try json(try await env.store.moderationStats(as: m))
        }
    }
}

func makeID() -> String { UUID().uuidString.lowercased() }
