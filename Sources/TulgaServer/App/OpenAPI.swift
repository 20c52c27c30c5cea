import Foundation
import HTTPTypes
import Hummingbird
import TulgaCore
import TulgaFlow
import TulgaConfig
import TulgaAttempts
import TulgaPolicy
import TulgaModeration

/// The OpenAPI 3.1 document kept in `Resources/openapi.yaml`, served at /openapi.yaml.
enum OpenAPI {
    static let document: String = {
        guard let url = Bundle.module.url(forResource: "openapi", withExtension: "yaml"),
              let text = try? String(contentsOf: url, encoding: .utf8) else { return "openapi: 3.1.0\ninfo: {title: tulga, version: missing}\npaths: {}\n" }
        return text
    }()
}
