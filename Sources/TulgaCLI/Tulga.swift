import ArgumentParser
import Foundation
import TulgaConfig
import TulgaFace
import TulgaCore
import TulgaFlow
import TulgaRegistry
import TulgaAttempts
import TulgaModeration
import TulgaDigitalID
import TulgaIssuance
import TulgaPolicy
import TulgaStorage
import TulgaFaceModel
import TulgaLivenessRunner
import TulgaAPIKeys
import TulgaLiveness

/// Exit codes shared by every subcommand.
enum Exit {
    static let match: Int32 = 0
    static let noMatch: Int32 = 1
    static let unusable: Int32 = 2
    static let usageOrInternal: Int32 = 3
}

@main
struct Tulga: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tulga",
        abstract: "Biometric identity verification and EDS key issuance.",
        discussion: """
        Exit codes: 0 success or match, 1 no match, 2 unusable input, 3 usage or internal error.
        Settings come from --config, $TULGA_CONFIG or ./config/tulga.json; models from $TULGA_MODELS or ./Models.
        """,
        subcommands: [Detect.self, Verify.self, Kiosk.self, Attempt.self, Registry.self, Moderate.self, ModeratorCommand.self,
                      InPerson.self, DigitalIDCommand.self, Purge.self, AuditCommand.self, InitCommand.self, SecretsCommand.self, CACommand.self, PhoneCommand.self,
                      SMSCommand.self, MailCommand.self, IssuanceCommand.self, KeysCommand.self, RegisterCommand.self, Serve.self, APIKeyCommand.self, Eval.self,
                      DocumentCommand.self]
    )

    /// Parses and runs; any failure that is not a decision maps to exit code 3.
    static func main() async {
        // Everything this process creates is private unless it says otherwise (0600 files, 0700 folders).
        umask(0o077)
        do {
            var command = try parseAsRoot()
            if var async = command as? any AsyncParsableCommand {
                try await async.run()
            } else {
                try command.run()
            }
        } catch let code as ExitCode {
            Foundation.exit(code.rawValue)
        } catch {
            if exitCode(for: error) == .success { exit(withError: error) }
            FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
            Foundation.exit(Exit.usageOrInternal)
        }
    }
}

/// Options every command that touches faces shares.
struct CommonOptions: ParsableArguments {
    @Option(name: .long, help: "JSON config file laid over the defaults.")
    var config: String?

    @Option(name: .long, help: "Folder holding the two ONNX models (default $TULGA_MODELS or ./Models).")
    var models: String?

    @Flag(name: .long, help: "Print JSON for scripts.")
    var json = false

    /// The configuration file with `--models`, and `$TULGA_HOST`/`$TULGA_PORT` (every command derives the
    /// CA's public URL from the same address: ``Configuration/applyAddressEnvironment(_:)``).
    func loadConfiguration() throws -> Configuration {
        var configuration = try Configuration.load(path: config)
        if let models { configuration.face.modelsDirectory = models }
        try configuration.applyAddressEnvironment(ProcessInfo.processInfo.environment)
        return configuration
    }
}

/// Prints an error in words and stops with exit code 3.
func fail(_ message: String) -> ExitCode {
    FileHandle.standardError.write(Data("tulga: \(message)\n".utf8))
    return ExitCode(Exit.usageOrInternal)
}

func printJSON<T: Encodable>(_ value: T) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
}

func format(_ value: Double, _ digits: Int = 3) -> String { String(format: "%.\(digits)f", value) }
