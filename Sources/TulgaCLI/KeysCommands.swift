import ArgumentParser
import Foundation
import TulgaConfig
import TulgaCore
import TulgaFlow
import TulgaIssuance
import Logging
import ServiceLifecycle
import UnixSignals
import TulgaKeyAgent
import TulgaKeyStore
import TulgaPKI
import TulgaServer

// MARK: - keys: the applicant's key store (NCALayer's role)

struct KeysCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "The applicant's key store: make key pairs and requests, install certificates. No private key leaves it.",
        discussion: """
            Storage: --folder DIR («Персональный компьютер»: encrypted PKCS#8, files 0600 in a 0700 folder) or
            --token-module PATH --token-label L (a PKCS#11 token; keys generated on it, never extractable).
            Passwords: $TULGA_KEY_PASSWORD, asked twice on a terminal («Новый пароль» / «Повторите пароль»), or one line
            on standard input. 6 to 32 characters; Latin letters and digits required; upper case and @ # % & * ~ _ - . allowed
            (the national CA's rule, seed 004). Token PIN: $TULGA_TOKEN_PIN, the terminal, or standard input.
            """,
        subcommands: [KeysGenerate.self, KeysInstall.self, KeysRenew.self, KeysSignChallenge.self, KeysAgent.self])
}

/// Where the keys live, as options.
struct StorageOptions: ParsableArguments {
    @Option(help: "Folder for the keys (created 0700).") var folder: String?
    @Option(help: "PKCS#11 module, e.g. /usr/lib/softhsm/libsofthsm2.so.") var tokenModule: String?
    @Option(help: "The token's label.") var tokenLabel: String?

    func validate() throws {
        guard (folder != nil) != (tokenModule != nil) else { throw ValidationError("give either --folder or --token-module with --token-label") }
        if tokenModule != nil, tokenLabel == nil { throw ValidationError("--token-module needs --token-label") }
    }

    var kind: KeyStorageKind { folder == nil ? .token : .folder }

    /// The store; `newPassword` asks for a password the way a new one is set.
    func open(newPassword: Bool, containerPassword: String? = nil) throws -> any KeyStore {
        if let folder {
            let password = newPassword ? try readNewPassword(env: "TULGA_KEY_PASSWORD") : try readPassword(env: "TULGA_KEY_PASSWORD", prompt: "Пароль ключей: ")
            do { return try FolderKeyStore(directory: folder, password: password, containerPassword: containerPassword) } catch let e as KeyError { throw fail(e.reason) }
        }
        let pin = try readPassword(env: "TULGA_TOKEN_PIN", prompt: "PIN токена: ")
        return TokenKeyStore(module: tokenModule ?? "", label: tokenLabel ?? "", pin: pin)
    }
}

/// A secret from the environment, the terminal (not echoed), or one line of standard input.
func readPassword(env: String, prompt: String) throws -> String {
    if let value = ProcessInfo.processInfo.environment[env], !value.isEmpty { return value }
    if isatty(0) == 1, let entered = getpass(prompt) { return String(cString: entered) }
    guard let line = readLine(strippingNewline: true), !line.isEmpty else { throw fail("give the password on standard input or in $\(env)") }
    return line
}

/// A new password: from the environment or standard input, or asked twice on a terminal.
func readNewPassword(env: String) throws -> String {
    if ProcessInfo.processInfo.environment[env]?.isEmpty == false || isatty(0) != 1 { return try readPassword(env: env, prompt: "") }
    let first = try readPassword(env: env, prompt: "Новый пароль: "), second = try readPassword(env: env, prompt: "Повторите пароль: ")
    do { try ContainerPassword.check(first, repeated: second) } catch { throw fail(error.reason) }
    return first
}

struct KeysGenerate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Make the AUTH and SIGN key pairs in the chosen storage and write their two requests (AUTH.csr, SIGN.csr).")
    @Option(help: "The applicant's IIN.") var iin: String
    @Option(help: "rsa2048 or p256.") var algorithm = "rsa2048"
    @Option(help: "Folder for the two requests (public; default: the key folder, or the current folder for a token).") var requests: String?
    @OptionGroup var storage: StorageOptions
    @Flag(help: "Print JSON for scripts.") var json = false

    func validate() throws {
        _ = try validIIN(iin)
        guard KeyAlgorithm(rawValue: algorithm) != nil else { throw ValidationError("--algorithm must be rsa2048 or p256") }
    }

    func run() async throws {
        let store = try storage.open(newPassword: true)
        let made: [GeneratedRequest]
        do { made = try store.generate(iin: iin, algorithm: KeyAlgorithm(rawValue: algorithm) ?? .rsa2048) }
        catch let e as KeyError { throw fail(e.reason) } catch let e as PKIError { throw fail("OpenSSL: \(e.reason)") }
        let folder = requests ?? storage.folder ?? "."
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        var written: [String: String] = [:]
        for request in made {
            let path = (folder as NSString).appendingPathComponent("\(request.purpose.rawValue).csr")
            try Data(request.pem.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
            written[request.purpose.rawValue] = path
        }
        if json {
            try printJSON(["storage": store.kind.rawValue, "algorithm": algorithm, "requests": written.description,
                           "keyIDs": made.map { "\($0.purpose.rawValue):\($0.keyID)" }.joined(separator: ",")])
        } else {
            for request in made { print("\(request.purpose.rawValue)  key \(request.keyID)  request \(written[request.purpose.rawValue] ?? "")") }
            print("send only the requests: tulga issuance apply \(iin) --auth-request \(written["AUTH"] ?? "") --sign-request \(written["SIGN"] ?? "") --storage \(store.kind.rawValue)")
        }
    }
}

struct KeysInstall: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "install",
        abstract: "Fetch an application's two certificates and put each next to its key: PKCS#12 containers in the folder, or objects on the token.",
        discussion: """
            With --server the certificates come from a running tulga service ($TULGA_API_KEY: the key that filed the application); else from the local store. \
            Nothing is written unless both certificates chain to the CA chain that comes with them (valid now), are of their purpose, \
            certify the keys made here for that purpose and name the IIN the keys were made for. \
            Without --ca-root the chain's root is the service's own: the check shows the certificates agree with the chain they came with, \
            not that the CA is one you trust. With --ca-root FILE (the CA's root certificate, got another way) the chain must end at \
            exactly that certificate, or nothing is installed (untrusted_root).
            """)
    @Argument var number: String
    @Option(help: "Base URL of the tulga service, e.g. http://127.0.0.1:8080.") var server: String?
    @Option(help: ArgumentHelp("The root CA certificate (PEM) the chain must end at; default: the chain's own root (a consistency check, not a trust anchor).",
                               valueName: "file"))
    var caRoot: String?
    @Flag(help: "Give the containers a new password (asked twice, or $TULGA_NEW_KEY_PASSWORD); default: the keys' password.") var newPassword = false
    @OptionGroup var storage: StorageOptions
    @OptionGroup var store: StoreOptions

    func validate() throws {
        if let caRoot { _ = try trustedRoot(caRoot) }
    }

    func run() async throws {
        let root = try caRoot.map(trustedRoot)
        let containerPassword = newPassword && storage.kind == .folder ? try readNewPassword(env: "TULGA_NEW_KEY_PASSWORD") : nil
        let keyStore = try storage.open(newPassword: false, containerPassword: containerPassword)
        let certificates = try await fetch()
        do {
            for line in try keyStore.install(certificates.byPurpose, chainPEM: certificates.chain, trustedRoot: root, at: SystemClock().date) { print(line) }
        } catch let e as KeyError { throw fail(e.reason) } catch let e as PKIError { throw fail("OpenSSL: \(e.reason)") }
        print("status «\(ApplicationStatus.installed.title)»")
    }

    func fetch() async throws -> IssuedCertificates {
        guard let server else {
            var result: IssuedCertificates?
            try await withIssuance(store) { s, _ in result = try await s.install(number, caller: .staff("cli")) }
            guard let result else { throw fail("no certificates for \(number)") }
            return result
        }
        return try await callService(server, "POST", "/v1/applications/\(ServiceClient.segment(number))/install", as: IssuedCertificates.self)
    }
}

/// The root CA certificate of `--ca-root`, or a usage error naming what is wrong with the file.
func trustedRoot(_ path: String) throws -> TrustedRoot {
    do { return try TrustedRoot(path: path) } catch { throw ValidationError("--ca-root: \(error.reason)") }
}

/// One call to a running tulga service with $TULGA_API_KEY: https, or http on this machine only
/// (the key must not cross a network in clear). Through ``ServiceClient`` (SwiftNIO), not URLSession.
func callService<T: Decodable>(_ server: String, _ method: String, _ path: String, body: [String: String]? = nil, as: T.Type,
                               expect: Int = 200) async throws -> T {
    guard let key = ProcessInfo.processInfo.environment["TULGA_API_KEY"], !key.isEmpty else { throw fail("--server needs $TULGA_API_KEY") }
    guard let url = URL(string: server + path), url.host != nil else { throw fail("--server must be an http(s) URL") }
    var headers = [("X-API-Key", key), ("Accept", "application/json")]
    var data: Data?
    if let body {
        headers.append(("Content-Type", "application/json"))
        data = try JSONEncoder().encode(body)
    }
    let answer: ServiceClient.Answer
    do { answer = try await ServiceClient.exchange(url, method: method, headers: headers, body: data) } catch let failure as ServiceClient.Failure {
        throw fail(failure.description)
    }
    guard answer.status == expect else {
        throw fail("the service answered \(answer.status): \(ServiceClient.refusal(answer.body))")
    }
    do { return try JSONDecoder().decode(T.self, from: answer.body) } catch { throw fail("the service's answer is not what \(path) gives") }
}

struct KeysRenew: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "renew",
        abstract: "Renew keys confirmed in person: make two new key pairs, sign the CA's challenge and their key IDs with the current AUTH key (the holder's proof), and file the renewal.",
        discussion: """
            Only the holder can: the proof needs the current AUTH key, in the same folder (its password) or on the same token.
            The challenge is used once and expires in five minutes.
            With --server the renewal goes to a running tulga service ($TULGA_API_KEY); else to the local store.
            With --proof-only FILE nothing is filed: the two requests, and the challenge and proof (base64) are written for tulga issuance renew.
            Then install the new certificates with tulga keys install NEW-NUMBER.
            """)
    @Argument var number: String
    @Option(help: "Base URL of the tulga service.") var server: String?
    @Option(help: "Write the proof (base64) here and file nothing.") var proofOnly: String?
    @Option(help: "Folder for the two new requests (default: the key folder, or the current folder for a token).") var requests: String?
    @OptionGroup var storage: StorageOptions
    @OptionGroup var store: StoreOptions

    func run() async throws {
        let (application, current, challenge) = try await fetchCurrent()
        let keyStore = try storage.open(newPassword: false)
        let algorithm = try IssuedCertificate(pem: current.auth).algorithm
        let made: [GeneratedRequest], proof: Data
        do {
            // The current key must answer before any new key is made: a wrong password leaves nothing behind.
            _ = try keyStore.sign(Data("tulga-renewal-probe".utf8), certificatePEM: current.auth)
            made = try keyStore.generate(iin: application.iin, algorithm: algorithm)
            guard made.count == 2 else { throw fail("the key store made \(made.count) requests") }
            proof = try keyStore.sign(HolderProof.message(application: number, challenge: challenge.challenge, auth: made[0].keyID, sign: made[1].keyID),
                                      certificatePEM: current.auth)
        } catch let e as KeyError { throw fail(e.reason) } catch let e as PKIError { throw fail("OpenSSL: \(e.reason)") }
        let folder = requests ?? storage.folder ?? "."
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        for request in made {
            try Data(request.pem.utf8).write(to: URL(fileURLWithPath: (folder as NSString).appendingPathComponent("\(request.purpose.rawValue).csr")), options: .atomic)
        }
        if let proofOnly {
            try Data((challenge.challenge + "\n" + proof.base64EncodedString() + "\n").utf8).write(to: URL(fileURLWithPath: proofOnly), options: .atomic)
            print("requests in \(folder), proof in \(proofOnly): tulga issuance renew \(number) --auth-request \(folder)/AUTH.csr --sign-request \(folder)/SIGN.csr --proof \(proofOnly)")
            return
        }
        let renewed: ApplicationView
        if let server {
            renewed = try await callService(server, "POST", "/v1/applications/\(ServiceClient.segment(number))/renew",
                                            body: ["authRequest": made[0].pem, "signRequest": made[1].pem, "storage": keyStore.kind.rawValue,
                                                   "challenge": challenge.challenge, "proof": proof.base64EncodedString()], as: ApplicationView.self, expect: 201)
        } else {
            var result: ApplicationView?
            let keyRequests: KeyRequests
            do { keyRequests = try KeyRequests(auth: made[0].pem, sign: made[1].pem, storage: keyStore.kind) } catch { throw fail(error.reason) }
            try await withIssuance(store) { s, _ in
                result = try await s.renew(number, requests: keyRequests, challenge: challenge.challenge, proof: proof, caller: .staff("cli"))
            }
            guard let result else { throw fail("no renewal for \(number)") }
            renewed = result
        }
        try printApplication(renewed, json: store.common.json)
    }

    func fetchCurrent() async throws -> (ApplicationView, IssuedCertificates, RenewalChallenge) {
        if let server {
            let app = try await callService(server, "GET", "/v1/applications/\(ServiceClient.segment(number))", as: ApplicationView.self)
            let certificates = try await callService(server, "GET", "/v1/applications/\(ServiceClient.segment(number))/certificates", as: IssuedCertificates.self)
            return (app, certificates, try await callService(server, "POST", "/v1/applications/\(ServiceClient.segment(number))/renewal-challenge", as: RenewalChallenge.self, expect: 201))
        }
        var result: (ApplicationView, IssuedCertificates, RenewalChallenge)?
        try await withIssuance(store) { s, _ in
            let caller = Caller.staff("cli")
            result = (try await s.status(number, caller: caller), try await s.certificates(number, caller: caller), try await s.renewalChallenge(number, caller: caller))
        }
        guard let result else { throw fail("no application \(number)") }
        return result
    }
}

struct KeysSignChallenge: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sign-challenge",
        abstract: "Sign a sign-in challenge with the AUTH key and print the signature (base64), for POST /v1/signin/certificate.",
        discussion: """
            The challenge and the audience come from POST /v1/signin/challenge. Only the AUTH certificate signs in:
            the service refuses a signature by the SIGN key. The key's password (or the token's PIN) is asked as for the other commands.
            """)
    @Option(help: "The challenge, hex.") var challenge: String
    @Option(help: "The audience the challenge came with (the service's origin).") var audience: String
    @Option(help: "The AUTH certificate, PEM file.") var certificate: String
    @OptionGroup var storage: StorageOptions

    func run() async throws {
        guard challenge.count <= 128, challenge.allSatisfy(\.isHexDigit) else { throw fail("the challenge is hex digits, as the service gave it") }
        guard let pem = try? String(contentsOfFile: certificate, encoding: .utf8) else { throw fail("cannot read \(certificate)") }
        let keyStore = try storage.open(newPassword: false)
        do { print(try keyStore.signSignIn(challenge: challenge, audience: audience, certificatePEM: pem).base64EncodedString()) }
        catch let e as KeyError { throw fail(e.reason) } catch let e as PKIError { throw fail("OpenSSL: \(e.reason)") }
    }
}

struct KeysAgent: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent",
        abstract: "Run the local key agent (NCALayer's role): the applicant's page asks it over a WebSocket on 127.0.0.1 to make keys, install certificates and sign in.",
        discussion: """
            Listens on ws://127.0.0.1:PORT/ only. Refuses the upgrade (403) unless the page's Origin is exactly one of --origin \
            (a missing Origin too); other paths get 404 and plain HTTP 426. Text frames of one JSON request each, at most 64 KiB \
            (larger: too_large, then closed); binary frames close the connection (1003). One key store operation at a time: \
            a second request waits for the first. generate never makes keys over keys the storage holds (keys_exist); \
            pending gives the requests of keys made and not installed, to file again (a damaged key is skipped and named here, \
            in this terminal's log). install writes nothing unless both certificates chain to the chain given (valid now) and certify \
            these keys for their purposes and IIN. That chain comes from the service, root and all: without --ca-root the check \
            is one of consistency (the certificates agree with the service's own root), not a trust anchor. With --ca-root FILE \
            the chain must end at exactly that root certificate, else install refuses with certificate_untrusted. signIn signs \
            only a challenge whose audience is the asking page's origin (audience). Refusals the page gets name no local path \
            (folder, file or module); this terminal's log has them.
            Passwords and token PINs never cross the socket: $TULGA_KEY_PASSWORD / $TULGA_TOKEN_PIN, else asked at this terminal \
            for each operation that needs one, naming the method and the page's origin. Anyone on this machine who can reach \
            the port can ask: with the password in the environment, only run it for a test.
            The protocol (methods, fields, codes) is in README, "The key agent". SIGINT or SIGTERM stop it.
            """)
    @Option(help: "Port on 127.0.0.1 (0: any free port, printed at start).") var port = AgentLimits.defaultPort
    @Option(name: .customLong("origin"), help: "A page origin allowed to connect, exactly as the browser sends it (repeatable; default \(AgentLimits.defaultOrigin)).")
    var origins: [String] = []
    @Option(help: ArgumentHelp("The root CA certificate (PEM, got from the CA another way) install requires the chain to end at; "
                               + "default: the chain's own root, a consistency check only, not a trust anchor.", valueName: "file"))
    var caRoot: String?
    @OptionGroup var storage: StorageOptions
    @Flag(help: "Print the listening address as one JSON object (url, port, origins, storage), and log JSON lines.") var json = false

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port is 0 to 65535") }
        for origin in origins {
            do { try AgentOrigins.check(origin) } catch { throw ValidationError("--origin: \(error.reason)") }
        }
        if let caRoot { _ = try trustedRoot(caRoot) }
    }

    func run() async throws {
        (json ? LogFormat.json : LogFormat.automatic(isTerminal: isatty(STDERR_FILENO) == 1)).bootstrap()
        let logger = Logger(label: "tulga.agent")
        let allowed = origins.isEmpty ? [AgentLimits.defaultOrigin] : origins
        let place: AgentStorage = storage.folder.map { .folder($0) } ?? .token(module: storage.tokenModule ?? "", label: storage.tokenLabel ?? "")
        // Asked at the terminal (not echoed) when the environment has none; never read from a pipe.
        let ask: AgentSecrets.Prompt = { (text: String) -> String? in getpass(text).map { String(cString: $0) } }
        let prompt = isatty(STDIN_FILENO) == 1 ? ask : nil
        let agent = KeyAgent(storage: place, secrets: AgentSecrets(environment: ProcessInfo.processInfo.environment, prompt: prompt), clock: SystemClock(),
                             trustedRoot: try caRoot.map(trustedRoot))
        let server: KeyAgentServer
        do { server = try await KeyAgentServer.bind(agent: agent, port: port, origins: allowed, logger: logger) }
        catch { throw fail("cannot listen on 127.0.0.1:\(port): \(error)") }
        let url = "ws://127.0.0.1:\(server.port)/"
        if json {
            let line = try JSONSerialization.data(withJSONObject: ["url": url, "port": server.port, "origins": allowed, "storage": place.kind.rawValue] as [String: Any],
                                                  options: [.sortedKeys, .withoutEscapingSlashes])
            FileHandle.standardOutput.write(line + Data("\n".utf8))
        } else {
            FileHandle.standardOutput.write(Data("tulga key agent on \(url) for \(allowed.joined(separator: ", ")) (\(place.kind.rawValue) storage)\n".utf8))
        }
        if caRoot == nil {
            logger.notice("no --ca-root: install checks each chain against the root the service sends with it (consistency, not a trust anchor)")
        }
        let group = ServiceGroup(configuration: .init(services: [AgentService(server: server)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do { try await group.run() } catch { throw fail("the agent stopped: \(error)") }
    }
}

/// The agent's server as a service: it stops on SIGTERM or SIGINT.
struct AgentService: Service {
    let server: KeyAgentServer
    func run() async throws { try await cancelWhenGracefulShutdown { try await server.run() } }
}
