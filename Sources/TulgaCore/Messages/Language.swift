import Foundation

/// The languages tulga speaks: Russian, Kazakh, English.
public enum Language: String, Sendable, Hashable, Codable, CaseIterable {
    /// Russian (`ru`), Kazakh (`kk`) and English (`en`), by ISO 639-1 code.
    case ru, kk, en
}

/// A catalogue entry and the values for its `{placeholders}`: what domain code returns
/// instead of a sentence. ``text(_:)`` renders it in one language.
///
/// ```swift
/// Message(.smsCode, ["code": "402719"]).text(.kk)
/// ```
public struct Message: Sendable, Hashable, Codable {
    /// Which catalogue entry to render.
    public let key: MessageKey
    /// Values for the entry's `{placeholders}`, by placeholder name.
    public let arguments: [String: String]

    /// Creates a message.
    ///
    /// - Parameters:
    ///   - key: the catalogue entry.
    ///   - arguments: values for its `{placeholders}`, e.g. `["code": "402719"]`.
    public init(_ key: MessageKey, _ arguments: [String: String] = [:]) {
        self.key = key
        self.arguments = arguments
    }

    /// The entry in `language`, placeholders filled.
    ///
    /// - Parameter language: the language to render in.
    /// - Returns: The text; placeholders without a value stay as `{name}`.
    public func text(_ language: Language) -> String {
        var text = Catalogue.template(key, language)
        for (name, value) in arguments { text = text.replacingOccurrences(of: "{\(name)}", with: value) }
        return text
    }
}
