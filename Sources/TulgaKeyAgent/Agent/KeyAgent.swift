public import Foundation
public import TulgaKeyStore
public import TulgaPKI
public import TulgaCore

/// Where the agent's keys live: fixed when it starts, as `--folder` or `--token-module` with `--token-label`.
public enum AgentStorage: Sendable, Equatable {
    /// A key folder («Персональный компьютер»).
    case folder(String)
    /// A PKCS#11 token.
    case token(module: String, label: String)

    /// Folder or token.
    public var kind: KeyStorageKind {
        if case .folder = self { return .folder }
        return .token
    }
}

/// Passwords and token PINs, as the agent gets them: from `$TULGA_KEY_PASSWORD` / `$TULGA_TOKEN_PIN`
/// when set, else asked at the agent's own terminal. Never from the page, never logged.
///
/// ```swift
/// let secrets = AgentSecrets(environment: ProcessInfo.processInfo.environment, prompt: { getpass($0).map { String(cString: $0) } })
/// ```
public struct AgentSecrets: Sendable {
    /// Asks at the terminal without echo; `nil` when nothing could be read.
    public typealias Prompt = @Sendable (String) -> String?

    let environment: [String: String]
    let prompt: Prompt?

    /// Secrets from `environment`, else from `prompt`.
    ///
    /// - Parameters:
    ///   - environment: the process environment (only `TULGA_KEY_PASSWORD` and `TULGA_TOKEN_PIN` are read).
    ///   - prompt: how to ask at the terminal; `nil` when the agent has none.
    public init(environment: [String: String], prompt: Prompt?) {
        self.environment = environment.filter { ["TULGA_KEY_PASSWORD", "TULGA_TOKEN_PIN"].contains($0.key) && !$0.value.isEmpty }
        self.prompt = prompt
    }

    /// The key password; a new one is asked twice at the terminal and checked (``ContainerPassword``).
    func keyPassword(new: Bool, context: String) throws(AgentError) -> String {
        if let value = environment["TULGA_KEY_PASSWORD"] { return value }
        let first = try ask(new ? "Новый пароль ключей (\(context)): " : "Пароль ключей (\(context)): ", variable: "TULGA_KEY_PASSWORD")
        guard new else { return first }
        let second = try ask("Повторите пароль: ", variable: "TULGA_KEY_PASSWORD")
        do { try ContainerPassword.check(first, repeated: second) } catch { throw AgentError(.password, error.reason) }
        return first
    }

    /// The token's user PIN.
    func tokenPIN(context: String) throws(AgentError) -> String {
        if let value = environment["TULGA_TOKEN_PIN"] { return value }
        return try ask("PIN токена (\(context)): ", variable: "TULGA_TOKEN_PIN")
    }

    func ask(_ text: String, variable: String) throws(AgentError) -> String {
        guard let prompt else { throw AgentError(.password, "no password given: the agent has no terminal to ask at and $\(variable) is not set") }
        guard let entered = prompt(text), !entered.isEmpty else { throw AgentError(.password, "no password was entered at the agent's terminal") }
        return entered
    }
}

/// The agent's operations over its key store, one at a time (key stores are not concurrent): a
/// second request waits for the first to finish. Passwords are asked only when an operation needs them.
///
/// ```swift
/// let agent = KeyAgent(storage: .folder("~/keys"), secrets: secrets, clock: SystemClock())
/// let reply = await agent.answer(Data(#"{"id":1,"method":"hello"}"#.utf8), origin: "http://127.0.0.1:8080")
/// reply.answer   // {"id":1,"result":{"agent":"tulga","protocol":1,"storage":"folder"}}
/// ```
public final class KeyAgent: Sendable {
    /// Where the keys live.
    public let storage: AgentStorage
    let secrets: AgentSecrets
    /// The clock `install` judges the certificates' validity on.
    let clock: any WallClock
    /// The root CA certificates must chain to (`--ca-root`); `nil`: the chain's own root, a consistency
    /// check only (the certificates agree with the chain the service sent with them).
    let trustedRoot: TrustedRoot?
    /// Every key store operation runs here, in order, off the cooperative threads (they block on
    /// OpenSSL, the token and the terminal).
    let queue = DispatchQueue(label: "tulga.key-agent.store")

    /// An agent over `storage`.
    ///
    /// - Parameters:
    ///   - storage: the folder (made absolute here, so every path its refusals name is one the page never
    ///     sees: ``PageText``) or token.
    ///   - secrets: where passwords and PINs come from.
    ///   - clock: when certificates must be valid to be installed.
    ///   - trustedRoot: the root CA `install` requires (`--ca-root`), or `nil`.
    public init(storage: AgentStorage, secrets: AgentSecrets, clock: any WallClock, trustedRoot: TrustedRoot? = nil) {
        switch storage {
        case .folder(let directory): self.storage = .folder(URL(fileURLWithPath: directory).standardizedFileURL.path)
        case .token: self.storage = storage
        }
        (self.secrets, self.clock, self.trustedRoot) = (secrets, clock, trustedRoot)
    }

    /// The answer to one message, and what to log of it (the method and the outcome's code; never params).
    public struct Reply: Sendable {
        /// The JSON answer.
        public let answer: Data
        /// The method, when the request could be read.
        public let method: String?
        /// The error code, or `nil` for a result.
        public let code: AgentErrorCode?
        /// For the agent's own log only: a refusal's full text (local paths and all) when the page got it
        /// without them, and the damaged keys `pending` skipped.
        public let notes: [String]

        init(answer: Data, method: String?, code: AgentErrorCode?, notes: [String] = []) {
            (self.answer, self.method, self.code, self.notes) = (answer, method, code, notes)
        }
    }

    /// Answers one text message from a page at `origin`.
    ///
    /// - Parameters:
    ///   - message: the message's bytes.
    ///   - origin: the page's origin, as its WebSocket's `Origin` gave it: the only audience `signIn` signs
    ///     for, and named in the terminal's prompts.
    /// - Returns: The answer to send and what to log.
    public func answer(_ message: Data, origin: String) async -> Reply {
        let request: AgentRequest
        switch AgentRequest.read(message) {
        case .success(let read): request = read
        case .failure(let refusal): return Reply(answer: refusal.answer, method: nil, code: refusal.error.code)
        }
        let method = request.call.method
        if request.call == .hello { return Reply(answer: AgentAnswer.result(id: request.id, AgentAnswer.hello(storage: storage.kind)), method: method, code: nil) }
        do {
            let (result, notes) = try await serially { try self.perform(request.call, origin: origin) }
            return Reply(answer: AgentAnswer.result(id: request.id, result), method: method, code: nil, notes: notes)
        } catch {
            let noted = error as? Noted
            let refusal = agentError(noted?.error ?? error)
            // The page gets the refusal without local paths; the terminal's log keeps them.
            let page = PageText.redacted(refusal.reason, storage: storage)
            return Reply(answer: AgentAnswer.error(id: request.id, AgentError(refusal.code, page)), method: method, code: refusal.code,
                         notes: (noted?.notes ?? []) + (page == refusal.reason ? [] : ["refusal: \(refusal.reason)"]))
        }
    }

    /// An operation's failure with the notes it made before it (a damaged key skipped, then no pair left).
    struct Noted: Error {
        let error: any Error
        let notes: [String]
    }

    /// Runs `body` on the store's queue after every operation before it.
    func serially<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Result { try body() }) }
        }
    }

    /// One operation, on the queue, for the page at `origin`: its result, and notes for the agent's log.
    func perform(_ call: AgentCall, origin: String) throws -> ([String: JSONValue], [String]) {
        var notes: [String] = []
        do { return (try perform(call, origin: origin, notes: &notes), notes) } catch { throw Noted(error: error, notes: notes) }
    }

    func perform(_ call: AgentCall, origin: String, notes: inout [String]) throws -> [String: JSONValue] {
        // Names the operation and the page in the terminal's prompts.
        let context = "\(call.method), \(origin)"
        switch call {
        case .hello:
            return AgentAnswer.hello(storage: storage.kind)
        case .generate(let iin, let algorithm):
            // Checked before the password is asked, where the folder can say without it.
            if case .folder(let directory) = storage, FolderKeyStore.holdsKeys(in: directory) { throw Self.keysExist(storage) }
            let store = try open(newPassword: true, context: context)
            if try store.holdsKeys() { throw Self.keysExist(storage) }
            return AgentAnswer.generated(try store.generate(iin: iin, algorithm: algorithm))
        case .install(let certificates, let chain):
            if case .folder(let directory) = storage, !FolderKeyStore.holdsKeys(in: directory) {
                throw AgentError(.noKeys, "no keys in the key folder to install certificates for: generate them first")
            }
            let store = try open(newPassword: false, context: context)
            let lines: [String]
            do { lines = try store.install(certificates, chainPEM: chain, trustedRoot: trustedRoot, at: clock.date) } catch let e as KeyError where e.code == .noKey {
                // Keys there, but none for this certificate: it was issued for other keys.
                throw AgentError(try store.holdsKeys() ? .certificate : .noKeys, e.reason)
            }
            return AgentAnswer.installed(storage.kind == .folder ? lines.map { ($0 as NSString).lastPathComponent } : lines)
        case .signIn(let challenge, let audience):
            // A page signs in to its own origin only: a challenge fetched from another service cannot be relayed through it.
            // Byte for byte: String's == treats canonically equivalent Unicode as equal.
            guard audience.utf8.elementsEqual(origin.utf8) else {
                throw AgentError(.audience, "the audience is not this page's origin \(origin): the agent signs a challenge only for the page that asks")
            }
            if case .folder(let directory) = storage, !FolderKeyStore.holdsAuthenticationContainer(in: directory) {
                throw AgentError(.noKeys, "no AUTH container in the key folder: install the certificates first")
            }
            let store = try open(newPassword: false, context: context)
            let certificate = try store.authenticationCertificate()
            let signature = try store.signSignIn(challenge: challenge, audience: audience, certificatePEM: certificate)
            return AgentAnswer.signedIn(certificate: certificate, signature: signature)
        case .pending:
            return try pending(context: context, notes: &notes)
        }
    }

    /// The pending pair's requests: one AUTH and one SIGN request naming one IIN, else `no_keys` or `storage`.
    /// Damaged keys are left out, and named in `notes`.
    func pending(context: String, notes: inout [String]) throws -> [String: JSONValue] {
        if case .folder(let directory) = storage, !FolderKeyStore.holdsPendingKeys(in: directory) {
            throw AgentError(.noKeys, "no pending keys in the key folder: they are installed, or none were made")
        }
        let found = try open(newPassword: false, context: context).pendingKeys()
        notes += found.skipped.map { "pending skipped a damaged key: \($0)" }
        // Keys of an older agent name no IIN (and no purpose): they are not filed again.
        let requests = found.requests.filter { (try? CertificateRequest(pem: $0.pem))?.iin != nil }
        let auth = requests.filter { $0.purpose == .auth }, sign = requests.filter { $0.purpose == .sign }
        guard !auth.isEmpty, !sign.isEmpty else { throw AgentError(.noKeys, "no pending AUTH and SIGN keys: they are installed, or none were made") }
        guard auth.count == 1, sign.count == 1 else { throw AgentError(.storage, "the storage holds more than one pending key of a purpose: use a new folder or token") }
        let iins = Set((auth + sign).map { try? CertificateRequest(pem: $0.pem).iin })
        guard iins.count == 1, let iin = iins.first ?? nil else { throw AgentError(.storage, "the pending requests do not name one IIN") }
        return AgentAnswer.pending(auth + sign, iin: iin)
    }

    static func keysExist(_ storage: AgentStorage) -> AgentError {
        switch storage {
        case .folder: AgentError(.keysExist, "the key folder holds keys already: generate makes no keys over them (use another folder)")
        case .token(_, let label): AgentError(.keysExist, "token \(label) holds tulga keys already: generate makes no keys over them")
        }
    }

    /// The store, with the password or PIN asked now. The containers keep the keys' password.
    func open(newPassword: Bool, context: String) throws -> any KeyStore {
        switch storage {
        case .folder(let directory):
            return try FolderKeyStore(directory: directory, password: try secrets.keyPassword(new: newPassword, context: context))
        case .token(let module, let label):
            return TokenKeyStore(module: module, label: label, pin: try secrets.tokenPIN(context: context))
        }
    }
}
