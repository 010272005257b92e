import ArgumentParser
import Foundation
import PhigateConfig

/// `phigate config …`: configuration tools.
struct ConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Inspect and validate gateway configuration files.",
        subcommands: [Check.self]
    )

    /// `phigate config check FILE`
    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "check",
            abstract: "Load a configuration file and report every problem, or a summary when it is valid.",
            discussion: """
                Environment references (${NAME}, ${NAME:-default}) are resolved from this process's environment. \
                Exits with status 0 and prints OK and a summary when the file is valid; prints each problem with \
                the file and key path and exits with status 1 otherwise.
                """
        )

        @Argument(help: "The YAML configuration file to check, e.g. config/phigate.yaml.")
        var file: String

        func run() async throws {
            do {
                let config = try ConfigLoader.load(file: file, environment: ProcessInfo.processInfo.environment)
                print(Self.summary(of: config, file: file))
            } catch {
                printToStandardError(error.description)
                throw ExitCode(1)
            }
        }

        static func summary(of config: GatewayConfig, file: String) -> String {
            let resolved = ConfigLoader.resolve(config, environment: ProcessInfo.processInfo.environment)
            var lines = ["OK \(file)"] + resolved.summary.map { "  " + $0 }
            lines += resolved.warnings.map { "  warning: " + $0 }
            return lines.joined(separator: "\n")
        }
    }
}

/// Writes one line to standard error.
func printToStandardError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}
