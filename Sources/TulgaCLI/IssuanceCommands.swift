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

/// Opens the store and the issuance service (the CA is optional until an operation needs it).
func withIssuance(_ options: StoreOptions, _ body: (IssuanceService, Configuration) async throws -> Void) async throws {
    try await withStore(options) { records, configuration in
        do {
            try await body(records.issuance, configuration)
        } catch let error as IssuanceError {
            throw fail(error.reason)
        } catch let error as PKIError {
            throw fail("OpenSSL: \(error)")
        }
    }
}

func printApplication(_ app: ApplicationView, json: Bool) throws {
    if json { try printJSON(app); return }
    print("application  \(app.number)")
    print("template     \(app.template.title)")
    print("status       «\(app.statusTitle)»")
    if app.needsHeadApproval { print("first head   \(app.headApproved ? "approved" : "approval pending")") }
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
        abstract: "Create a root and an issuing CA; keys are encrypted on disk (password from $TULGA_CA_PASSWORD or a generated 0600 file).")
    @OptionGroup var common: CommonOptions

    func run() async throws {
        let configuration = try common.loadConfiguration()
        do {
            try LocalCA.initialize(configuration.ca, now: SystemClock().date)
        } catch let error as IssuanceError { throw fail(error.reason) }
        print("root CA     \(configuration.ca.directory)/root.crt")
        print("issuing CA  \(configuration.ca.directory)/issuing.crt")
        print("keys        encrypted (AES-256-CBC, PBKDF2) in \(configuration.ca.directory)/*.key")
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
            try await s.revoke(serial: serial, reason: RevocationReason(rawValue: reason) ?? .unspecified)
            print("revoked \(serial.uppercased()) (\(reason)); publish with: tulga ca crl")
        }
    }
}

struct CACRL: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "crl", abstract: "Write the issuing CA's signed CRL.")
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
            try await s.confirmCode(iin: iin, code: code)
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
        commandName: "issuance", abstract: "EDS key applications: apply, status, approve, confirm, issue, install, renew, reissue.",
        subcommands: [Apply.self, Status.self, HeadApprove.self, DeskConfirm.self, Issue.self, Install.self, Renew.self, Reissue.self])
}

struct Apply: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Apply for keys. Remote: needs a confirmed phone, an active Digital ID, a consent and the PIN (stdin or $TULGA_PIN).")
    @Argument var iin: String
    @Option(help: "individual, first_head, signer, financial_signer, hr, employee or treasury_client.") var template = "individual"
    @Option(help: "rsa2048 or p256.") var algorithm = "rsa2048"
    @Option(help: "Organisation name (legal entity).") var organization: String?
    @Option(help: "BIN (legal entity).") var bin: String?
    @Option(help: "The first head's IIN (employees).") var headIin: String?
    @Flag(help: "An in-person application at a service centre (needs --operator, --surname, --given-name).") var inPerson = false
    @Option var `operator`: String?
    @Option var surname: String?
    @Option var givenName: String?
    @OptionGroup var store: StoreOptions

    func validate() throws {
        guard Template(rawValue: template) != nil else { throw ValidationError("unknown template \(template)") }
        guard KeyAlgorithm(rawValue: algorithm) != nil else { throw ValidationError("--algorithm must be rsa2048 or p256") }
        if inPerson, self.operator == nil || surname == nil || givenName == nil {
            throw ValidationError("--in-person needs --operator, --surname and --given-name")
        }
    }

    func run() async throws {
        let t = Template(rawValue: template) ?? .individual, a = KeyAlgorithm(rawValue: algorithm) ?? .rsa2048
        let pin = inPerson ? "" : try readSecret(env: "TULGA_PIN", what: "PIN")
        try await withIssuance(store) { s, _ in
            let app = inPerson
                ? try await s.applyInPerson(iin: iin, surname: surname ?? "", givenName: givenName ?? "", operator: self.operator ?? "", template: t, algorithm: a)
                : try await s.applyRemote(iin: iin, pin: pin, template: t, algorithm: a, organization: organization, bin: bin, headIIN: headIin)
            try printApplication(app, json: store.common.json)
        }
    }
}

struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "An application's status, by its number.")
    @Argument var number: String
    @OptionGroup var store: StoreOptions
    func run() async throws {
        try await withIssuance(store) { s, _ in try printApplication(try await s.status(number), json: store.common.json) }
    }
}

struct HeadApprove: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "approve", abstract: "The first head approves an employee's application (PIN on stdin or $TULGA_PIN).")
    @Argument var number: String
    @Option var headIin: String
    @OptionGroup var store: StoreOptions
    func run() async throws {
        let pin = try readSecret(env: "TULGA_PIN", what: "PIN")
        try await withIssuance(store) { s, _ in try printApplication(try await s.approveByHead(number, headIIN: headIin, pin: pin), json: store.common.json) }
    }
}

struct DeskConfirm: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "confirm", abstract: "An operator confirms an in-person application.")
    @Argument var number: String
    @Option var `operator`: String
    @OptionGroup var store: StoreOptions
    func run() async throws {
        try await withIssuance(store) { s, _ in try printApplication(try await s.confirmInPerson(number, operator: self.operator), json: store.common.json) }
    }
}

struct Issue: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "The CA signs both certificates.")
    @Argument var number: String
    @OptionGroup var store: StoreOptions
    func run() async throws {
        try await withIssuance(store) { s, _ in try printApplication(try await s.issue(number), json: store.common.json) }
    }
}

struct Install: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write the two PKCS#12 containers into a folder; the password comes from standard input or $TULGA_KEY_PASSWORD.",
        discussion: "Password: 6 to 32 characters; Latin letters and digits required; upper case and @ # % & * ~ _ - . allowed.")
    @Argument var number: String
    @Option(help: "Folder for the containers (created 0700).") var folder: String
    @OptionGroup var store: StoreOptions
    func run() async throws {
        let password = try readSecret(env: "TULGA_KEY_PASSWORD", what: "container password")
        try await withIssuance(store) { s, _ in
            for path in try await s.install(number, password: password, deliver: { try writeContainers($0, to: folder) }) { print(path) }
            print("status «\(ApplicationStatus.installed.title)»")
        }
    }
}

struct Renew: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Renew keys (refused for keys issued remotely).")
    @Argument var number: String
    @OptionGroup var store: StoreOptions
    func run() async throws {
        try await withIssuance(store) { s, _ in try await s.renew(number) }
    }
}

struct Reissue: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Revoke an application's certificates and apply again (PIN on stdin or $TULGA_PIN).")
    @Argument var number: String
    @OptionGroup var store: StoreOptions
    func run() async throws {
        let pin = try readSecret(env: "TULGA_PIN", what: "PIN")
        try await withIssuance(store) { s, _ in try printApplication(try await s.reissue(number, pin: pin), json: store.common.json) }
    }
}

/// Writes the containers into `folder` (0700), each file 0600; returns the paths.
func writeContainers(_ containers: [InstalledContainer], to folder: String) throws -> [String] {
    let fm = FileManager.default
    var isDir: ObjCBool = false
    if fm.fileExists(atPath: folder, isDirectory: &isDir), !isDir.boolValue { throw fail("\(folder) is not a folder") }
    try fm.createDirectory(atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    try fm.setAttributes([.posixPermissions: 0o700], ofItemAtPath: folder)
    return try containers.map { container in
        let path = (folder as NSString).appendingPathComponent(container.fileName)
        guard fm.createFile(atPath: path, contents: container.pkcs12, attributes: [.posixPermissions: 0o600]) else { throw fail("cannot write \(path)") }
        return path
    }
}
