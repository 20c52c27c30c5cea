import Foundation
public import Logging
public import TulgaCore

/// How `tulga serve` writes its log lines to standard error.
public enum LogFormat: String, Sendable, CaseIterable {
    /// swift-log's stream format, for people at a terminal.
    case text
    /// One JSON object per line (``JSONLogHandler``), for collectors.
    case json

    /// Text on a terminal, JSON otherwise (a pipe, a file, a container's log driver).
    public static func automatic(isTerminal: Bool) -> LogFormat { isTerminal ? .text : .json }

    /// Installs this format for every logger of the process (once per process, as swift-log allows).
    ///
    /// - Parameter clock: stamps JSON lines.
    public func bootstrap(clock: any WallClock = SystemClock()) {
        switch self {
        case .text: LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
        case .json: LoggingSystem.bootstrap { JSONLogHandler(label: $0, clock: clock, write: JSONLogHandler.standardError) }
        }
    }
}

/// One object per line: `time` (UTC, milliseconds), `level`, `label`, `message`, and `fields` (the
/// logger's metadata and the call's, merged; nested values stay nested). Each line is one `write(2)`.
///
/// ```json
/// {"time":"2026-12-02T04:10:00.125Z","level":"info","label":"tulga","message":"request","fields":{"method":"POST","route":"/v1/sms/request","status":"202","ms":"3"}}
/// ```
public struct JSONLogHandler: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    let label: String
    let clock: any WallClock
    let write: @Sendable (String) -> Void

    /// - Parameters:
    ///   - label: the logger's label.
    ///   - clock: stamps each line.
    ///   - write: takes each finished line, newline included.
    public init(label: String, clock: any WallClock, write: @escaping @Sendable (String) -> Void) {
        (self.label, self.clock, self.write) = (label, clock, write)
    }

    /// Writes a line to standard error in one call.
    public static let standardError: @Sendable (String) -> Void = { line in
        var bytes = Array(line.utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeMutableBytes { Glibc.write(STDERR_FILENO, $0.baseAddress.map { $0 + offset }, $0.count - offset) }
            if n > 0 { offset += n } else if n < 0 && errno == EINTR { continue } else { return }
        }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var fields = metadata
        if let provided = metadataProvider?.get() { fields.merge(provided) { _, new in new } }
        if let given = event.metadata { fields.merge(given) { _, new in new } }
        // The error's type only: a description may carry the values it failed on.
        if let error = event.error { fields["error.type"] = .string("\(type(of: error))") }
        var line = "{\"time\":\(Self.quote(Self.timestamp(clock.now()))),\"level\":\(Self.quote(event.level.rawValue))"
        line += ",\"label\":\(Self.quote(label)),\"message\":\(Self.quote(event.message.description))"
        if !fields.isEmpty { line += ",\"fields\":" + Self.encode(.dictionary(fields)) }
        write(line + "}\n")
    }

    /// `YYYY-MM-DDTHH:MM:SS.mmmZ`.
    static func timestamp(_ seconds: Double) -> String {
        var whole = time_t(seconds.rounded(.down)), parts = tm()
        gmtime_r(&whole, &parts)
        let millis = min(999, max(0, Int(((seconds - seconds.rounded(.down)) * 1000).rounded(.down))))
        func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        let ms = millis < 10 ? "00\(millis)" : millis < 100 ? "0\(millis)" : "\(millis)"
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)).\(ms)Z"
    }

    static func encode(_ value: Logger.Metadata.Value) -> String {
        switch value {
        case .string(let s): return quote(s)
        case .stringConvertible(let c): return quote(c.description)
        case .array(let items): return "[" + items.map(encode).joined(separator: ",") + "]"
        case .dictionary(let d): return "{" + d.sorted { $0.key < $1.key }.map { quote($0.key) + ":" + encode($0.value) }.joined(separator: ",") + "}"
        }
    }

    /// A JSON string literal: quotes, backslashes and control characters escaped.
    static func quote(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where u.value < 0x20 || u.value == 0x2028 || u.value == 0x2029:
                let h = String(u.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - h.count) + h
            default: out.unicodeScalars.append(u)
            }
        }
        return out + "\""
    }
}
