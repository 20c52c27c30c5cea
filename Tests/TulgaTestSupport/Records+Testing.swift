public import TulgaCore
import TulgaCrypto
public import TulgaFlow
public import TulgaIssuance
import TulgaLiveness
import TulgaPolicy
import TulgaStorage
import Foundation

extension Records {
    /// Fresh records on a fresh database of `backend`, with their own evidence key, on `clock`.
    public static func scratch(_ backend: Backend = .sqlite, settings: RecordSettings = RecordSettings(), clock: any WallClock,
                               ca: LocalCA? = nil) async throws -> Records {
        try await Records.open(database: try await backend.open(), cipher: try EvidenceCipher(keyFile: Temp.dir() + "/evidence.key"),
                               settings: settings, clock: clock, ca: ca)
    }

    /// An attempt runner with the default bands, for tests that record decided attempts directly.
    public var runner: AttemptRunner { AttemptRunner(records: self, bands: DecisionBands(accept: 0.363, review: 0.31), liveness: LivenessConfig()) }
}
