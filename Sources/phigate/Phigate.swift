import ArgumentParser

/// The `phigate` command: the gateway server and the tools around it.
@main
struct Phigate: AsyncParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "phigate",
        abstract: "An OpenAI-compatible gateway that routes between an embedded Phi model and frontier APIs.",
        version: version,
        subcommands: [
            ServeCommand.self,
            ConfigCommand.self,
            ModelCommand.self,
            TokenizeCommand.self,
            GenerateCommand.self,
            BenchCommand.self,
            ExportCommand.self,
            TuneCommand.self,
            DevCommand.self,
            ClassifierCommand.self,
            RouteCommand.self,
            PolicyCommand.self,
            KeysCommand.self,
        ]
    )
}
