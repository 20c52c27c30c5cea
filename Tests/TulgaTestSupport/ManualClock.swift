public import TulgaCore
import Synchronization
import Foundation

/// A clock tests move by hand, so nothing depends on how fast the machine is.
public final class ManualClock: WallClock {
    private let value: Mutex<Double>
    /// Starts at 2027-01-15 (a fixed, plausible date).
    public init(_ start: Double = 1_800_000_000) { value = Mutex(start) }
    public func now() -> Double { value.withLock { $0 } }
    /// Moves the clock forward.
    public func advance(_ seconds: Double) { value.withLock { $0 += seconds } }
}
