import Foundation
import Testing
import TulgaCore
import TulgaFlow
import TulgaIdentity
import TulgaRegistry
import TulgaStorage
import TulgaTestSupport

struct Harness {
    let store: Records
    let clock: ManualClock
    var database: any SQLDatabase { store.database }

    static func make(_ backend: Backend, settings: RecordSettings = RecordSettings()) async throws -> Harness {
        let clock = ManualClock()
        return Harness(store: try await Records.scratch(backend, settings: settings, clock: clock), clock: clock)
    }
}

/// Made-up but checksum-valid IINs.
enum People {
    static func iin(_ serial: Int, year: Int = 1985) -> String {
        var s = serial
        while true {
            if let iin = IIN.make(year: year, month: 3, day: 14, male: s % 2 == 0, serial: s) { return iin.value }
            s += 1
        }
    }

    static func register(_ store: Records, _ iin: String, photo: Data = Data("photo".utf8)) async throws {
        try await store.registry.upsert(RegistryEntry(iin: iin, surname: "ABAYEV", givenName: "ARMAN", documentNumber: "N0\(iin.suffix(7))",
                                                      phone: "+7701\(iin.suffix(7))", photo: photo))
    }
}

/// Runs `body` on fresh records and closes their database afterwards.
func withHarness(_ backend: Backend, settings: RecordSettings = RecordSettings(), _ body: (Harness) async throws -> Void) async throws {
    let h = try await Harness.make(backend, settings: settings)
    do {
        try await body(h)
    } catch {
        await h.database.close()
        throw error
    }
    await h.database.close()
}
