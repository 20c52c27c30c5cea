import ArgumentParser
import Foundation
import TulgaConfig
import TulgaIssuance
import TulgaCore
import TulgaFlow
import TulgaStorage
import TulgaRegistry
import TulgaAttempts
import TulgaModeration
import TulgaDigitalID
import TulgaPolicy
import TulgaFaceModel
import TulgaLivenessRunner
import TulgaAPIKeys
import TulgaLiveness
import TulgaLegalEntities
import TulgaPKI

/// Opens the store and the issuance service (the CA is optional until an operation needs it).
func withIssuance(_ options: StoreOptions, _ body: (IssuanceService, Configuration) async throws -> Void) async throws {
    try await withStore(options) { records, configuration in
        do {
            try await body(records.issuance, configuration)
        } catch let error as IssuanceError {
            throw fail(error.reason)
        } catch let error as PKIError {
            throw fail("OpenSSL: \(error.reason)")
        } catch let error as KeyError {
            throw fail(error.reason)
        } catch let error as AttemptError {
            throw fail(error.reason)
        } catch let error as MailAddressError {
            throw fail(error.reason)
        }
    }
}

func printApplication(_ app: ApplicationView, json: Bool) throws {
    if json { try printJSON(app); return }
    print("application  \(app.number)")
    print("template     \(app.template.title)")
    print("status       «\(app.statusTitle)»")
    if let organization = app.organization { print("organisation \(organization) (BIN \(app.bin ?? ""))") }
    if let email = app.email { print("e-mail       \(email)") }
    print("keys         \(app.algorithm.rawValue) on \(app.storage.rawValue)")
    if app.needsHeadApproval {
        print("HR           \(app.hrApproved ? "approved" : "approval pending")")
        print("first head   \(app.headApproved ? "approved" : "approval pending")")
    }
    for serial in app.serials { print("certificate  \(serial)") }
}

// MARK: - ca

struct CACommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ca", abstract: "The local certification authority.",
                                                    subcommands: [CAInit.self, CARevoke.self, CACRL.self])
}

struct CAInit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Create a root and an issuing CA; keys are encrypted on disk (password from $TULGA_CA_PASSWORD or a generated 0600 file outside the CA folder).")
    @Option(help: ArgumentHelp("Write the root CA's encrypted key to this new file, outside the CA folder, instead of root.key; then move it off this host.",
                               valueName: "file"))
    var rootOffline: String?
    @OptionGroup var common: CommonOptions

    func run() async throws {
        let configuration = try common.loadConfiguration()
        let ca: LocalCA
        do {
            ca = try LocalCA.initialize(configuration.ca, now: SystemClock().date, offlineRootKey: rootOffline)
        } catch let error as IssuanceError { throw fail(error.reason) }
        let folder = configuration.ca.directory
        print("root CA     \(folder)/root.crt")
        print("issuing CA  \(folder)/issuing.crt")
        print("keys        encrypted (AES-256-CBC, PBKDF2) in \(folder)/issuing.key" + (rootOffline == nil ? " and \(folder)/root.key" : ""))
        print("password    \(ca.passwordSource)")
        if let rootOffline {
            print("root key    \(rootOffline): move it off this host now; the service needs only issuing.key")
        }
    }
}

struct CARevoke: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "revoke", abstract: "Revoke a certificate by serial number.")
    @Argument(help: "Serial number in hex.") var serial: String
    @Option(help: "unspecified, keyCompromise, cACompromise, affiliationChanged, superseded or cessationOfOperation.")
    var reason = "unspecified"
    @OptionGroup var store: StoreOptions

    func validate() throws {
        guard RevocationReason(rawValue: reason) != nil else {
            throw ValidationError("--reason must be one of \(RevocationReason.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard !serial.isEmpty, serial.allSatisfy(\.isHexDigit) else { throw ValidationError("the serial must be hexadecimal") }
    }

    func run() async throws {
        try await withIssuance(store) { s, _ in
            try await s.revoke(serial: serial, reason: RevocationReason(rawValue: reason) ?? .unspecified, actor: "cli")
            print("revoked \(serial.uppercased()) (\(reason)); the CRL and OCSP say so now")
        }
    }
}

struct CACRL: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "crl", abstract: "Write the issuing CA's current CRL to crl.pem (tulga serve also serves it at <publicBaseURL>/issuing.crl).")
    @OptionGroup var store: StoreOptions

    func run() async throws {
        try await withIssuance(store) { s, _ in print(try await s.publishCRL()) }
    }
}

// MARK: - phones and codes

struct PhoneCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "phone", abstract: "The mobile-citizens registry.",
                                                    subcommands: [PhoneRegister.self])
}

struct PhoneRegister: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "register", abstract: "Register an IIN's phone number.")
    @Argument var iin: String
    @Argument(help: "+7XXXXXXXXXX") var phone: String
    @OptionGroup var store: StoreOptions
    func run() async throws {
        try await withIssuance(store) { s, _ in
            try await s.registerPhone(iin: iin, phone: phone)
            print("phone registered for \(iin)")
        }
    }
}

struct SMSCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "sms", abstract: "One-time SMS codes.",
                                                    subcommands: [SMSRequest.self, SMSConfirm.self, OutboxSpool.self])
}

struct SMSRequest: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "request", abstract: "Send a code to the phone registered for the IIN.")
    @Argument var iin: String
    @Option(help: "ru or kk.") var lang = "ru"
    @OptionGroup var store: StoreOptions
    func run() async throws {
        try await withIssuance(store) { s, _ in
            try await s.requestCode(iin: iin, language: Language(rawValue: lang) ?? .ru)
            print("a code was sent to the phone registered for \(iin); it is valid \(Int(s.sms.validitySeconds)) s")
        }
    }
}

struct SMSConfirm: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "confirm", abstract: "Confirm the phone with the code (standard input or $TULGA_SMS_CODE).")
    @Argument var iin: String
    @OptionGroup var store: StoreOptions
    func run() async throws {
        let code = try readSecret(env: "TULGA_SMS_CODE", what: "code")
        try await withIssuance(store) { s, _ in
            try await s.confirmCode(iin: iin, code: code, caller: cliCaller)
            print("phone confirmed for \(iin)")
        }
    }
}

/// The SMS gateway adapter: each pending message becomes a 0600 file in a spool folder.
struct OutboxSpool: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "spool", abstract: "Hand pending SMS to the gateway spool folder.")
    @Option(help: "Spool folder (created 0700).") var to: String
    @OptionGroup var store: StoreOptions
    func run() async throws {
        try await withStore(store) { s, _ in
            let count = try await SMSSpool.handOff(s, to: to)
            print("spooled \(count) message(s) to \(to)")
        }
    }
}

// MARK: - applications

struct IssuanceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "issuance",
        abstract: "EDS key applications: apply with the key store's requests, status, approvals, confirm, issue, refuse, renew, reissue, revoke.",
        subcommands: [Apply.self, AgreementCommand.self, Status.self, HRApprove.self, HeadApprove.self, DeskConfirm.self, Issue.self, Refuse.self, Renew.self,
                      Reissue.self, RevokeApplication.self])
}

/// The two requests `tulga keys generate` wrote, as options.
struct RequestOptions: ParsableArguments {
    @Option(help: "The AUTH request (PEM) from tulga keys generate.") var authRequest: String
    @Option(help: "The SIGN request (PEM) from tulga keys generate.") var signRequest: String
    @Option(help: "Where the keys are: folder or token.") var storage = "folder"

    func load() throws -> KeyRequests {
        guard let kind = KeyStorageKind(rawValue: storage) else { throw fail("--storage must be folder or token") }
        func read(_ path: String) throws -> String {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw fail("cannot read \(path)") }
            return text
        }
        do { return try KeyRequests(auth: try read(authRequest), sign: try read(signRequest), storage: kind) } catch let e as KeyError { throw fail(e.reason) }
    }
}

/// The CLI on the service's own machine is staff: it sees every application.
let cliCaller = Caller.staff("cli")

struct Apply: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract: "Apply for keys with the two requests of tulga keys generate. Remote: needs a confirmed phone, an active Digital ID, a consent and the PIN (stdin or $TULGA_PIN).",
        discussion: "In person (--in-person): only after five recorded failed attempts, as tulga inperson accept.")
    @Argument var iin: String
    @Option(help: "individual, first_head, signer, financial_signer, hr, employee or treasury_client.") var template = "individual"
    @Option(help: "The organisation's BIN (legal-entity templates; O and OU come from the register).") var bin: String?
    @OptionGroup var requests: RequestOptions
    @Flag(help: "An in-person application at a service centre (needs --operator, --surname, --given-name).") var inPerson = false
    @Option var `operator`: String?
    @Option var surname: String?
    @Option var givenName: String?
    @Option(help: "The patronymic, in person (the certificate's G, as the national CA writes it).") var patronymic: String?
    @Option(help: "The user agreement's version the applicant accepted (remote; tulga issuance agreement prints it).") var acceptAgreement: String?
    @Option(help: "The applicant's e-mail: the application number and each status change are sent there.") var email: String?
    @OptionGroup var store: StoreOptions

    func validate() throws {
        guard Template(rawValue: template) != nil else { throw ValidationError("unknown template \(template)") }
        if let email { do { _ = try MailAddress(email) } catch { throw ValidationError(error.reason) } }
        if inPerson, self.operator == nil || surname == nil || givenName == nil {
            throw ValidationError("--in-person needs --operator, --surname and --given-name")
        }
    }

    func run() async throws {
        let t = Template(rawValue: template) ?? .individual, keyRequests = try requests.load()
        let pin = inPerson ? "" : try readSecret(env: "TULGA_PIN", what: "PIN")
        try await withIssuance(store) { s, _ in
            let app = inPerson
                ? try await s.applyInPerson(iin: iin, surname: surname ?? "", givenName: givenName ?? "", operator: self.operator ?? "", template: t,
                                            requests: keyRequests, bin: bin, patronymic: patronymic, email: email)
                : try await s.applyRemote(iin: iin, pin: pin, agreement: acceptAgreement, template: t, requests: keyRequests, bin: bin, caller: cliCaller,
                                          email: email)
            try printApplication(app, json: store.common.json)
        }
    }
}

struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "An application's status, by its number.")
    @Argument var number: String
    @OptionGroup var store: StoreOptions
    func run() async throws {
        try await withIssuance(store) { s, _ in try printApplication(try await s.status(number, caller: cliCaller), json: store.common.json) }
    }
}

struct HRApprove: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "approve-hr",
                                                    abstract: "A registered HR employee approves an employee's application (their PIN on stdin or $TULGA_PIN).")
    @Argument var number: String
    @Option(help: "The HR employee's IIN.") var hrIin: String
    @OptionGroup var store: StoreOptions
    func run() async throws {
        let pin = try readSecret(env: "TULGA_PIN", what: "PIN")
        try await withIssuance(store) { s, _ in
            try printApplication(try await s.approveByHR(number, hrIIN: hrIin, pin: pin, caller: cliCaller), json: store.common.json)
        }
    }
}

struct HeadApprove: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "approve",
                                                    abstract: "The registered first head approves an employee's application after HR (PIN on stdin or $TULGA_PIN).")
    @Argument var number: String
    @Option var headIin: String
    @OptionGroup var store: StoreOptions
    func run() async throws {
        let pin = try readSecret(env: "TULGA_PIN", what: "PIN")
        try await withIssuance(store) { s, _ in
            try printApplication(try await s.approveByHead(number, headIIN: headIin, pin: pin, caller: cliCaller), json: store.common.json)
        }
    }
}

struct DeskConfirm: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "confirm", abstract: "An operator confirms an in-person application; it is then issued.")
    @Argument var number: String
    @Option var `operator`: String
    @OptionGroup var store: StoreOptions
    func run() async throws {
        try await withIssuance(store) { s, _ in try printApplication(try await s.confirmInPerson(number, operator: self.operator), json: store.common.json) }
    }
}

struct Issue: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "issue", abstract: "Retry issuance of an application left «на подписи» while the CA was down.")
    @Argument var number: String
    @OptionGroup var store: StoreOptions
    func run() async throws {
        try await withIssuance(store) { s, _ in try printApplication(try await s.issue(number, admin: "cli"), json: store.common.json) }
    }
}

struct Refuse: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "refuse", abstract: "Refuse an application that is not issued yet.")
    @Argument var number: String
    @Option(help: "Why, for the audit.") var reason: String
    @OptionGroup var store: StoreOptions
    func run() async throws {
        try await withIssuance(store) { s, _ in try printApplication(try await s.refuse(number, admin: "cli", reason: reason), json: store.common.json) }
    }
}

struct Renew: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "renew",
        abstract: "Renew keys confirmed in person while their certificate is valid, with new requests and the holder's proof (refused for keys issued remotely).",
        discussion: "The holder makes both with tulga keys renew --proof-only, which signs the CA's challenge and the new keys with the current AUTH key; nobody else can renew.")
    @Argument var number: String
    @OptionGroup var requests: RequestOptions
    @Option(help: "The holder's proof from tulga keys renew --proof-only: the challenge, then the signature (base64).") var proof: String
    @OptionGroup var store: StoreOptions
    func run() async throws {
        let keyRequests = try requests.load()
        let lines = ((try? String(contentsOfFile: proof, encoding: .utf8)) ?? "").split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        guard lines.count == 2, let signature = Data(base64Encoded: lines[1]) else { throw fail("\(proof) must hold the challenge and the base64 proof, a line each") }
        try await withIssuance(store) { s, _ in
            try printApplication(try await s.renew(number, requests: keyRequests, challenge: lines[0], proof: signature, caller: cliCaller), json: store.common.json)
        }
    }
}

struct Reissue: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reissue",
        abstract: "Apply again with new requests; the old certificates are revoked once the new ones are issued (PIN on stdin or $TULGA_PIN).")
    @Argument var number: String
    @Option(help: "The user agreement's version the applicant accepted (tulga issuance agreement prints it).") var acceptAgreement: String?
    @OptionGroup var requests: RequestOptions
    @OptionGroup var store: StoreOptions
    func run() async throws {
        let keyRequests = try requests.load(), pin = try readSecret(env: "TULGA_PIN", what: "PIN")
        try await withIssuance(store) { s, _ in
            try printApplication(try await s.reissue(number, pin: pin, agreement: acceptAgreement, requests: keyRequests, caller: cliCaller),
                                 json: store.common.json)
        }
    }
}

struct RevokeApplication: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "revoke", abstract: "The applicant revokes both certificates (PIN on stdin or $TULGA_PIN).")
    @Argument var number: String
    @Option(help: "unspecified, keyCompromise, affiliationChanged, superseded or cessationOfOperation.") var reason = "unspecified"
    @OptionGroup var store: StoreOptions
    func run() async throws {
        guard let why = RevocationReason(rawValue: reason), why != .cACompromise else { throw fail("unknown or refused --reason \(reason)") }
        let pin = try readSecret(env: "TULGA_PIN", what: "PIN")
        try await withIssuance(store) { s, _ in
            try printApplication(try await s.revokeByApplicant(number, pin: pin, reason: why, caller: cliCaller), json: store.common.json)
        }
    }
}

// MARK: - the legal-entity register

struct RegisterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "register",
        abstract: "The legal-entity register: organisations (BIN, name, first head, status) and employees' roles, from CSV.",
        discussion: """
            organizations: header bin,name,head_iin,status (active, suspended or liquidated); rows replace those with the same BIN.
            roles: header bin,iin,role (signer, financial_signer, hr, employee, treasury_client); the file replaces the roles of every BIN it lists.
            Bad rows are reported with their line and reason and skipped; exit code 2 if any was.
            """,
        subcommands: [RegisterOrganizations.self, RegisterRoles.self])
}

func readRegisterFile(_ path: String) throws -> String {
    guard let attributes = try? FileManager.default.attributesOfItem(atPath: path), let size = attributes[.size] as? Int else {
        throw fail("cannot read \(path)")
    }
    guard size <= 32 * 1024 * 1024 else { throw fail("\(path) is larger than 32 MiB") }
    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw fail("\(path) is not UTF-8 text") }
    return text
}

/// Parses the file, imports what is good, prints the report; exit code 2 when any row was refused.
func importRegister<Parsed: Sendable>(_ csv: String, _ store: StoreOptions, parse: (String) throws(RegisterError) -> Parsed,
                                      write: @escaping @Sendable (Records, Parsed) async throws -> LegalEntityRecords.ImportReport) async throws {
    let parsed: Parsed
    do { parsed = try parse(try readRegisterFile(csv)) } catch let e as RegisterError { throw fail("\(csv): \(e.reason)") }
    var report: LegalEntityRecords.ImportReport?
    try await withStore(store) { s, _ in report = try await write(s, parsed) }
    guard let report else { return }
    if store.common.json { try printJSON(report) } else {
        print("imported \(report.imported) rows")
        for problem in report.problems { print("  skipped \(problem)") }
    }
    if !report.problems.isEmpty { throw ExitCode(Exit.unusable) }
}

struct RegisterOrganizations: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "organizations", abstract: "Import organisations from CSV.")
    @Argument var csv: String
    @OptionGroup var store: StoreOptions
    func run() async throws {
        try await importRegister(csv, store, parse: RegisterCSV.organizations) { try await $0.legalEntities.importOrganizations($1) }
    }
}

struct RegisterRoles: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "roles", abstract: "Import employees' roles from CSV.")
    @Argument var csv: String
    @OptionGroup var store: StoreOptions
    func run() async throws {
        try await importRegister(csv, store, parse: RegisterCSV.roles) { try await $0.legalEntities.importRoles($1) }
    }
}

struct AgreementCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "agreement",
                                                    abstract: "Print the user agreement and its version (apply and reissue take --accept-agreement VERSION).")
    @Option(help: "ru, kk or en.") var lang = "ru"
    func run() throws {
        guard let language = Language(rawValue: lang) else { throw ValidationError("--lang must be ru, kk or en") }
        print("version \(UserAgreement.version)")
        print(UserAgreement.text(language))
    }
}
