import Hummingbird
@testable import HummingbirdTesting
import ServiceLifecycle

extension ApplicationProtocol {
    /// `test(.live)` with the client's read timeout at ten minutes instead of HummingbirdTesting's fixed 20 s.
    ///
    /// With the whole suite on two cores, tests that block a cooperative thread (a child process waited
    /// for, a long synchronous decode) can keep the server's handlers waiting longer than 20 s, which the
    /// client took for a dead server. What the tests assert is unchanged; only how long the client waits.
    /// (`@testable`: the test builds compile HummingbirdTesting with testing enabled.)
    func testLive<Value>(_ test: @Sendable (any TestClientProtocol) async throws -> Value) async throws -> Value {
        let application = TestApplication(base: self)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            let services = ServiceGroup(configuration: .init(services: [application], gracefulShutdownSignals: [], logger: application.logger))
            group.addTask { try await services.run() }
            let port = await application.portPromise.wait()
            let client = TestClient(host: "localhost", port: port, configuration: .init(timeout: .seconds(600)))
            client.connect()
            do {
                let value = try await test(LiveTestFramework<Self>.Client(client: client))
                try await client.shutdown()
                await services.triggerGracefulShutdown()
                return value
            } catch {
                try? await client.shutdown()
                await services.triggerGracefulShutdown()
                throw error
            }
        }
    }
}
