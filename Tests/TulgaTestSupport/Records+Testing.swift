public import TulgaCore
public import TulgaCrypto
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
        try await Records.open(database: try await backend.open(), keys: try ServiceKeys.scratch(), settings: settings, clock: clock, ca: ca)
    }

    /// An attempt runner with the default bands, for tests that record decided attempts directly.
    public var runner: AttemptRunner { AttemptRunner(records: self, bands: DecisionBands(accept: 0.363, review: 0.31), liveness: LivenessConfig()) }
}

extension ServiceKeys {
    /// Every key, made in `folder` (a fresh temporary folder unless given) as `tulga init` makes them.
    public static func scratch(_ folder: String = Temp.dir("tulga-keys") + "/keys") throws -> ServiceKeys {
        try create(folder: folder)
        return try ServiceKeys(folder: folder)
    }
}
