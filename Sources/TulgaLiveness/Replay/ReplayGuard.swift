import Foundation
import Synchronization

/// Remembers the frame hashes of earlier sessions, so a recorded sequence cannot pass twice.
public protocol ReplayGuard: Sendable {
    /// Records `hashes`; returns true when any of them was recorded before.
    ///
    /// - Parameter hashes: the session's sampled frame hashes.
    /// - Returns: `true` when any hash was recorded before.
    /// - Throws: Whatever the guard's store throws (a database guard: `DatabaseFailure`).
    func checkAndRecord(_ hashes: [String]) async throws -> Bool
}

/// A replay guard for one process (tests, the kiosk without a database).
public final class InMemoryReplayGuard: ReplayGuard {
    private let seen = Mutex<Set<String>>([])
    /// Creates an empty guard.
    public init() {}
    /// Records `hashes` in memory; never throws.
    ///
    /// - Parameter hashes: the session's sampled frame hashes.
    /// - Returns: `true` when any hash was recorded before.
    public func checkAndRecord(_ hashes: [String]) async throws -> Bool {
        seen.withLock { set in
            let replayed = hashes.contains { set.contains($0) }
            set.formUnion(hashes)
            return replayed
        }
    }
}

/// A fresh nonce: 16 bytes from the system CSPRNG, hex.
public func makeNonce() -> String {
    var generator = SystemRandomNumberGenerator()
    return (0..<16).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
}

extension ReplayGuard {
    /// The replay rule, in one place for every shell: records the session's sampled frame
    /// hashes, and a session that passed with frames seen before fails as replayed.
    ///
    /// - Parameter session: the finished session; a passed one is turned into a `.replayed` failure.
    /// - Throws: whatever the guard's store throws.
    public func check(_ session: inout LivenessSession) async throws {
        if try await checkAndRecord(session.report.sampledFrameHashes), session.phase == .passed {
            session.rejectAsReplay()
        }
    }
}
