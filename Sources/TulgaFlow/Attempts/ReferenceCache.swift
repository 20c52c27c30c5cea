public import Foundation
import Synchronization
import TulgaCrypto
import TulgaCore
public import TulgaFace
public import TulgaFaceModel
public import TulgaRegistry

/// The face models' fingerprint: SHA-256 over the detector's and the recognizer's files, computed
/// once per file (path, size and modification time) in a process. A cached reference embedding
/// made by other models is stale.
public enum FaceModels {
    private static let digests = Mutex<[String: String]>([:])

    /// The fingerprint of the models `config` names.
    ///
    /// - Throws: ``AttemptStartError`` `.unusableReference` if a model file cannot be read.
    public static func fingerprint(_ config: FaceConfig) throws -> String {
        let parts = try [config.detectorPath, config.recognizerPath].map(digest)
        return sha256Hex(parts.joined(separator: "\n"))
    }

    static func digest(_ path: String) throws -> String {
        let attributes = try? FileManager.default.attributesOfItem(atPath: path)
        let size = (attributes?[.size] as? NSNumber)?.int64Value ?? -1
        let modified = (attributes?[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
        let key = "\(path)\n\(size)\n\(modified)"
        if let known = digests.withLock({ $0[key] }) { return known }
        let value: String
        do { value = try sha256Hex(contentsOf: path) } catch {
            throw AttemptStartError(.unusableReference, "cannot read the face model \(path) to fingerprint it")
        }
        digests.withLock { $0[key] = value }
        return value
    }
}

extension AttemptRunner {
    /// The registry photo and its embedding: the cached one when it was made from this photo by these
    /// models, otherwise computed by `embed` and cached (sealed) for the next attempt.
    ///
    /// - Parameters:
    ///   - iin: the applicant's IIN.
    ///   - models: ``FaceModels/fingerprint(_:)`` of the engine `embed` uses.
    ///   - embed: computes the embedding of a registry photo (``referenceEmbedding(_:photo:)`` on an engine).
    /// - Returns: The plain photo and its embedding.
    /// - Throws: what ``registryPhoto(iin:)`` and `embed` throw; ``DatabaseFailure`` or `CryptoFailure` when caching.
    public func reference(iin: String, models: String, embed: (Data) async throws -> Embedding) async throws -> (photo: Data, embedding: Embedding) {
        let entry = try await registryEntry(iin: iin)
        if let cached = entry.reference, cached.fits(photo: entry.photo, models: models) {
            return (entry.photo, Embedding(cached.values))
        }
        let embedding = try await embed(entry.photo)
        let why = entry.reference == nil ? "computed" : entry.reference?.models != models ? "models changed" : "photo changed"
        try await records.registry.storeReference(Self.referenceEmbedding(embedding, photo: entry.photo, models: models), iin: iin, replacing: why)
        return (entry.photo, embedding)
    }

    /// The cacheable form of a registry photo's embedding.
    public static func referenceEmbedding(_ embedding: Embedding, photo: Data, models: String) -> ReferenceEmbedding {
        ReferenceEmbedding(models: models, photoDigest: sha256Hex(photo), values: embedding.values)
    }

    /// A registry entry with its embedding computed, for import: `nil` reference (and the reason) when the
    /// photo has no usable face, which the first attempt then reports.
    public static func enrol(_ entry: RegistryEntry, engine: FaceEngine) throws -> (entry: RegistryEntry, unusable: String?) {
        var entry = entry
        do {
            let embedding = try referenceEmbedding(engine, photo: entry.photo)
            entry.reference = referenceEmbedding(embedding, photo: entry.photo, models: try FaceModels.fingerprint(engine.config))
            return (entry, nil)
        } catch let error as AttemptStartError {
            return (entry, error.reason)
        }
    }
}
