import Foundation
import Synchronization
import Testing
import TulgaCore
import TulgaKeyAgent
import TulgaKeyStore
import TulgaTestSupport

/// A terminal that answers from a script and remembers what it was asked.
final class ScriptedTerminal: Sendable {
    let state: Mutex<(answers: [String], asked: [String])>
    init(_ answers: [String]) { state = Mutex((answers, [])) }
    var prompt: AgentSecrets.Prompt {
        { text in self.state.withLock { state in
            state.asked.append(text)
            return state.answers.isEmpty ? nil : state.answers.removeFirst()
        } }
    }
    var asked: [String] { state.withLock { $0.asked } }
}

func generate(_ agent: KeyAgent, id: Int = 1) async throws -> [String: Any] {
    let reply = await agent.answer(Data(#"{"id":\#(id),"method":"generate","params":{"iin":"850314300013","algorithm":"p256"}}"#.utf8),
                                   origin: "http://127.0.0.1:8080")
    return try json(reply.answer)
}

func errorCode(_ answer: [String: Any]) -> String? { (answer["error"] as? [String: Any])?["code"] as? String }

@Suite("Passwords come from the environment or the agent's terminal, never the page")
struct AgentSecretsTests {
    @Test("a new folder's password is asked twice at the terminal, naming the method and the page")
    func terminal() async throws {
        let terminal = ScriptedTerminal(["Secret12@", "Secret12@"])
        let folder = Temp.dir("tulga-agent-secrets") + "/keys"
        let answer = try await generate(KeyAgent(storage: .folder(folder), secrets: AgentSecrets(environment: [:], prompt: terminal.prompt), clock: ManualClock()))
        #expect(answer["result"] != nil, "\(answer)")
        #expect(terminal.asked.count == 2 && terminal.asked[0].contains("generate, http://127.0.0.1:8080"), "\(terminal.asked)")
        #expect(FolderKeyStore.holdsKeys(in: folder))
    }

    @Test("two entries that differ, a password that breaks the rule, or none entered: password, and no keys")
    func refused() async throws {
        for answers in [["Secret12@", "Secret12#"], ["short", "short"], [], ["Secret12@"]] {
            let folder = Temp.dir("tulga-agent-secrets") + "/keys"
            let answer = try await generate(KeyAgent(storage: .folder(folder), secrets: AgentSecrets(environment: [:], prompt: ScriptedTerminal(answers).prompt), clock: ManualClock()))
            #expect(errorCode(answer) == "password", "\(answers): \(answer)")
            #expect(!FolderKeyStore.holdsKeys(in: folder))
        }
        let none = try await generate(KeyAgent(storage: .folder(Temp.dir("tulga-agent-secrets") + "/keys"), secrets: AgentSecrets(environment: [:], prompt: nil), clock: ManualClock()))
        #expect(errorCode(none) == "password")
    }

    @Test("the environment wins: the terminal is not asked; only TULGA_KEY_PASSWORD and TULGA_TOKEN_PIN are read")
    func environment() async throws {
        let terminal = ScriptedTerminal([])
        let agent = KeyAgent(storage: .folder(Temp.dir("tulga-agent-secrets") + "/keys"),
                             secrets: AgentSecrets(environment: ["TULGA_KEY_PASSWORD": "Secret12@", "TULGA_NEW_KEY_PASSWORD": "x"], prompt: terminal.prompt), clock: ManualClock())
        #expect(try await generate(agent)["result"] != nil)
        #expect(terminal.asked.isEmpty)
    }

    @Test("signIn for an audience other than the page's origin is audience, before any password is asked")
    func audience() async throws {
        let terminal = ScriptedTerminal(["Secret12@"])
        let agent = KeyAgent(storage: .folder(Temp.dir("tulga-agent-secrets") + "/keys"), secrets: AgentSecrets(environment: [:], prompt: terminal.prompt),
                             clock: ManualClock())
        for audience in ["https://evil.example", "http://127.0.0.1:8081", "http://127.0.0.1:8080/", "HTTP://127.0.0.1:8080", "tulga"] {
            let text = #"{"id":3,"method":"signIn","params":{"challenge":"ab","audience":"\#(audience)"}}"#
            let answer = try json(await agent.answer(Data(text.utf8), origin: "http://127.0.0.1:8080").answer)
            #expect(errorCode(answer) == "audience", "\(audience): \(answer)")
        }
        #expect(terminal.asked.isEmpty)
        // The page's own origin goes on to the storage: nothing installed there.
        let own = #"{"id":4,"method":"signIn","params":{"challenge":"ab","audience":"http://127.0.0.1:8080"}}"#
        #expect(errorCode(try json(await agent.answer(Data(own.utf8), origin: "http://127.0.0.1:8080").answer)) == "no_keys")
    }

    @Test("two generates at once on one agent: they run one after the other, so the second finds the first's keys")
    func oneAtATime() async throws {
        let folder = Temp.dir("tulga-agent-secrets") + "/keys"
        let agent = KeyAgent(storage: .folder(folder), secrets: AgentSecrets(environment: ["TULGA_KEY_PASSWORD": "Secret12@"], prompt: nil), clock: ManualClock())
        async let first = generate(agent, id: 1)
        async let second = generate(agent, id: 2)
        let codes = [errorCode(try await first) ?? "ok", errorCode(try await second) ?? "ok"].sorted()
        #expect(codes == ["keys_exist", "ok"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder + "/pending").filter { $0.hasSuffix(".key") }.count == 2)
    }
}
