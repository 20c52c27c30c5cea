import Foundation
import Hummingbird
import TulgaIssuance
import HTTPTypes
import TulgaCore
import TulgaFlow
import TulgaConfig
import TulgaAttempts
import TulgaPolicy
import TulgaModeration

/// `/v1/sms/…` and `/v1/applications/…`: phone codes, applications, issue, install.
struct IssuanceRoutes {
    let env: ServerEnvironment

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

    var collection: RouteCollection<TulgaContext> {
        let routes = RouteCollection(context: TulgaContext.self)
        let issuance = env.records.issuance
        routes.post("/sms/request") { request, context in
            try context.require(.issuance)
            let input = try await body(request, IINBody.self)
            let iin = try validIIN(input.iin)
            try env.iinLimiter.take("sms:" + iin)
            try await issuance.requestCode(iin: iin, language: input.language == "kk" ? .kk : .ru)
            return try json(["status": "sent", "validSeconds": "\(Int(issuance.sms.validitySeconds))"], status: .accepted)
        }
        routes.post("/sms/confirm") { request, context in
            try context.require(.issuance)
            let input = try await body(request, ConfirmBody.self)
            try await issuance.confirmCode(iin: try validIIN(input.iin), code: input.code)
            return try json(["status": "confirmed"])
        }
        routes.post("/applications") { request, context in
            try context.require(.issuance)
            let input = try await body(request, ApplyBody.self)
            guard let template = Template(rawValue: input.template ?? "individual") else {
                throw Problem(.unprocessableContent, "invalid_template", "unknown template \(input.template ?? "")")
            }
            guard let algorithm = KeyAlgorithm(rawValue: input.algorithm ?? "rsa2048") else {
                throw Problem(.unprocessableContent, "invalid_algorithm", "algorithm must be rsa2048 or p256")
            }
            let app = try await issuance.applyRemote(iin: try validIIN(input.iin), pin: input.pin, template: template, algorithm: algorithm,
                                                     organization: input.organization, bin: input.bin, headIIN: input.headIin)
            return try json(app, status: .created)
        }
        routes.get("/applications/{number}") { _, context in
            try context.require(.issuance)
            return try json(try await issuance.status(try context.parameters.require("number")))
        }
        routes.post("/applications/{number}/issue") { _, context in
            try context.require(.admin)
            return try json(try await issuance.issue(try context.parameters.require("number")))
        }
        routes.post("/applications/{number}/install") { request, context in
            try context.require(.issuance)
            let input = try await body(request, InstallBody.self)
            let response = try await issuance.install(try context.parameters.require("number"), password: input.password) { containers in
                try json(Installed(status: ApplicationStatus.installed.title,
                                   files: containers.map { InstalledFile(name: $0.fileName, pkcs12: $0.pkcs12.base64EncodedString()) }))
            }
            return response
        }
        return routes
    }
}
