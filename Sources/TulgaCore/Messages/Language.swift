import Foundation

/// The languages tulga speaks: Russian, Kazakh, English.
public enum Language: String, Sendable, Hashable, Codable, CaseIterable {
    case ru, kk, en
}

/// A catalogue entry and the values for its `{placeholders}`: what domain code returns
/// instead of a sentence. ``text(_:)`` renders it in one language.
///
/// ```swift
/// Message(.smsCode, ["code": "402719"]).text(.kk)
/// ```
public struct Message: Sendable, Hashable, Codable {
    public let key: MessageKey
    public let arguments: [String: String]

    public init(_ key: MessageKey, _ arguments: [String: String] = [:]) {
        self.key = key
        self.arguments = arguments
    }

    /// The entry in `language`, placeholders filled.
    public func text(_ language: Language) -> String {
        var text = Catalogue.template(key, language)
        for (name, value) in arguments { text = text.replacingOccurrences(of: "{\(name)}", with: value) }
        return text
    }
}
