public import Foundation

/// The one source of wall-clock time every module reads: seconds since 1970.
///
/// Named so it does not shadow `Swift.Clock` (which measures durations, not dates). The
/// service runs on ``SystemClock``; tests move a manual clock and never wait on real time.
///
/// ```swift
/// let expires = clock.now() + 120
/// ```
public protocol WallClock: Sendable {
    /// Seconds since 1970-01-01T00:00:00Z.
    func now() -> Double
}

extension WallClock {
    /// The current time as a `Date` (the CA's validity dates).
    public var date: Date { Date(timeIntervalSince1970: now()) }
    /// The current time in milliseconds (liveness frame stamps).
    public func nowMs() -> Double { now() * 1000 }
}

/// The operating system's clock.
public struct SystemClock: WallClock {
    /// Creates the system clock.
    public init() {}
    /// Reads `Date()`.
    ///
    /// - Returns: Seconds since 1970-01-01T00:00:00Z.
    public func now() -> Double { Date().timeIntervalSince1970 }
}
