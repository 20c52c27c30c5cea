import Foundation
import Testing
import TulgaFace
import TulgaCore

/// Inference holds a thread for its whole length; it must not be one of Swift's cooperative threads,
/// which the HTTP handlers and the database need meanwhile.
@Suite("Pipelines on threads of their own")
struct PipelineThreadTests {
    @Test("a pipeline's work runs on its own named thread; two pipelines of a pool on two threads")
    func ownThreads() async throws {
        let pool = try FacePipelinePool(config: FaceConfig(modelsDirectory: Paths.models), size: 2)
        func thread(_ pipeline: FacePipeline) async -> (name: String, id: UInt) {
            await pipeline.withEngine { _ in
                // The kernel's name of the calling thread.
                let name = (try? String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8)) ?? ""
                return (name.trimmingCharacters(in: .whitespacesAndNewlines), UInt(pthread_self()))
            }
        }
        let first = await thread(pool.pipelines[0]), second = await thread(pool.pipelines[1])
        #expect(first.name == "tulga-face", "\(first.name)")
        #expect(second.name == "tulga-face", "\(second.name)")
        #expect(first.id != second.id)
        // The same pipeline keeps its thread.
        #expect(await thread(pool.pipelines[0]).id == first.id)
        // And the work is the engine's: a face found on it.
        let image = try Image(contentsOf: Paths.photo("obama.jpg"))
        #expect(try await pool.pipelines[1].analyze(image).faces.count == 1)
    }
}
