import Foundation
import Synchronization
import Testing
import TulgaCore
import TulgaCrypto
import TulgaFaceModel
import TulgaFlow
import TulgaRegistry
import TulgaStorage
import TulgaTestSupport

@Suite("The registry photo's embedding, cached")
struct ReferenceCacheTests {
    /// An embedding function that counts its calls, so the tests see when the photo is embedded again.
    final class Embedder: Sendable {
        let calls = Mutex(0)
        func embed(_ photo: Data) -> Embedding {
            calls.withLock { $0 += 1 }
            return Embedding((0..<128).map { Float($0) + Float(photo.count) })
        }
        var count: Int { calls.withLock { $0 } }
    }

    func audit(_ h: Harness, _ iin: String) async throws -> [String] {
        try await h.database.transaction { db in
            try db.query("SELECT detail FROM audit_log WHERE action = 'registry.reference' AND subject = ? ORDER BY seq", [.text(iin)])
                .compactMap { $0["detail"].text }
        }
    }

    @Test("computed once, sealed and bound to its row, reused; made again when the models or the photo change, or it is damaged",
          arguments: Backend.allCases)
    func cache(backend: Backend) async throws {
        try await withHarness(backend) { h in
            let iin = People.iin(30), other = People.iin(31)
            let photo = Data("registry photo of 30".utf8)
            try await People.register(h.store, iin, photo: photo)
            try await People.register(h.store, other, photo: Data("registry photo of 31".utf8))
            let runner = h.store.runner, embedder = Embedder()

            let first = try await runner.reference(iin: iin, models: "models-a") { embedder.embed($0) }
            #expect(first.photo == photo && embedder.count == 1)
            let again = try await runner.reference(iin: iin, models: "models-a") { embedder.embed($0) }
            #expect(again.embedding == first.embedding && embedder.count == 1, "the second attempt reuses it")
            let cached = try #require(try await h.store.registry.entry(iin)?.reference)
            #expect(cached.fits(photo: photo, models: "models-a") && cached.values == first.embedding.values)

            // Sealed with the evidence key: no value is in the clear; moved to another row it does not open.
            let raw = try #require(try await h.database.transaction { db in
                try db.one("SELECT reference, reference_key_id FROM registry WHERE iin = ?", [.text(iin)])
            })
            let sealed = try #require(raw["reference"].blob)
            #expect(sealed.range(of: Data("models-a".utf8)) == nil)
            #expect(raw["reference_key_id"].text == h.store.cipher.keyID)
            try await h.database.transaction { db in
                try db.execute("UPDATE registry SET reference = ?, reference_key_id = ? WHERE iin = ?", [.blob(sealed), .text(h.store.cipher.keyID), .text(other)])
            }
            #expect(try await h.store.registry.entry(other)?.reference == nil)

            // New models: embedded again, and the new one is cached.
            _ = try await runner.reference(iin: iin, models: "models-b") { embedder.embed($0) }
            _ = try await runner.reference(iin: iin, models: "models-b") { embedder.embed($0) }
            #expect(embedder.count == 2)

            // A new photo: the upsert drops the old embedding.
            let newPhoto = Data("a newer registry photo of 30".utf8)
            try await People.register(h.store, iin, photo: newPhoto)
            let renewed = try await runner.reference(iin: iin, models: "models-b") { embedder.embed($0) }
            #expect(renewed.photo == newPhoto && embedder.count == 3 && renewed.embedding != first.embedding)

            // An embedding of another photo (written beside this one) is never used for it.
            var stale = AttemptRunner.referenceEmbedding(first.embedding, photo: photo, models: "models-b")
            try await h.store.registry.storeReference(stale, iin: iin, replacing: "test")
            _ = try await runner.reference(iin: iin, models: "models-b") { embedder.embed($0) }
            #expect(embedder.count == 4)

            // A damaged blob is made again, and the audit says why each time.
            try await h.database.transaction { db in try db.execute("UPDATE registry SET reference = ? WHERE iin = ?", [.blob(Data([1, 2, 3])), .text(iin)]) }
            _ = try await runner.reference(iin: iin, models: "models-b") { embedder.embed($0) }
            #expect(embedder.count == 5)
            #expect(try await audit(h, iin) == ["computed", "models changed", "computed", "test", "photo changed", "computed"])
            stale.values = []
            #expect(!stale.fits(photo: newPhoto, models: "models-b"))
            // A value that is not finite, or of another length, is never cached.
            var bad = AttemptRunner.referenceEmbedding(renewed.embedding, photo: newPhoto, models: "models-b")
            bad.values[0] = .nan
            try await h.store.registry.storeReference(bad, iin: iin, replacing: "not finite")
            bad.values = Array(repeating: 0.5, count: 127)
            try await h.store.registry.storeReference(bad, iin: iin, replacing: "short")
            #expect(try await audit(h, iin).count == 6)
            #expect(try #require(try await h.store.registry.entry(iin)?.reference).values.allSatisfy(\.isFinite))
        }
    }

    @Test("an embedding that fails never starts an attempt and caches nothing", arguments: [Backend.sqlite])
    func failure(backend: Backend) async throws {
        try await withHarness(backend) { h in
            let iin = People.iin(32)
            try await People.register(h.store, iin)
            struct NoFace: Error {}
            await #expect(throws: NoFace.self) { _ = try await h.store.runner.reference(iin: iin, models: "m") { _ in throw NoFace() } }
            #expect(try await h.store.registry.entry(iin)?.reference == nil)
            #expect(try await audit(h, iin).isEmpty)
        }
    }
}
