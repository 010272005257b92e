import ArgumentParser
import Foundation
import OutcomeStore
import PhigateConfig

/// Options shared by `export` and `tune`: the outcome database, the rows to use, and the frontier model's prices.
struct OutcomeQueryOptions: ParsableArguments {
    @Option(help: "The outcome database (the gateway's database.path).")
    var db: String

    @Option(help: "First day to include, YYYY-MM-DD (UTC, inclusive).")
    var from: String?

    @Option(help: "Last day to include, YYYY-MM-DD (UTC, inclusive).")
    var to: String?

    @Option(help: "Only this tenant's requests.")
    var tenant: String?

    @Option(help: "The frontier model every request is compared with (its price comes from --config or --frontier-price).")
    var frontierModel: String?

    @Option(help: "Frontier prices in USD per 1M tokens, input,output (e.g. 2.50,10).")
    var frontierPrice: String?

    @Option(help: "A gateway configuration to read the frontier model's price from.")
    var config: String?

    func validate() throws {
        for (name, day) in [("--from", from), ("--to", to)] {
            if let day, !OutcomeFilter.isValidDay(day) {
                throw ValidationError("\(name): expected a date like 2026-11-21, found '\(day)'")
            }
        }
        if let from, let to, from > to {
            throw ValidationError("--from \(from) is after --to \(to)")
        }
        if frontierPrice != nil || config != nil, frontierModel == nil {
            throw ValidationError("--frontier-price and --config need --frontier-model")
        }
        if let frontierPrice, Self.price(frontierPrice) == nil {
            throw ValidationError("--frontier-price: expected USD per 1M tokens as input,output (e.g. 2.50,10), found '\(frontierPrice)'")
        }
        if !FileManager.default.fileExists(atPath: db) {
            throw ValidationError("--db: no such file '\(db)'")
        }
        if let config, let frontierModel {
            let gateway: GatewayConfig
            do {
                gateway = try ConfigLoader.load(file: config, environment: ProcessInfo.processInfo.environment)
            } catch {
                throw ValidationError("--config: \(error)")
            }
            guard Self.frontierModel(frontierModel, in: gateway) != nil else {
                let served = gateway.backends.flatMap { $0.models.map(\.name) }.joined(separator: ", ")
                throw ValidationError("--frontier-model: '\(frontierModel)' is not a model of \(config) (served: \(served))")
            }
        }
    }

    /// The served model `name` (or upstream name) in `config`.
    static func frontierModel(_ name: String, in config: GatewayConfig) -> ModelConfig? {
        for backend in config.backends {
            for model in backend.models where model.name == name || model.upstreamName == name { return model }
        }
        return nil
    }

    var filter: OutcomeFilter { OutcomeFilter(fromDay: from, toDay: to, tenant: tenant) }

    func frontierPricing() throws -> FrontierPricing? {
        guard let frontierModel else { return nil }
        if let frontierPrice, let price = Self.price(frontierPrice) {
            return FrontierPricing(model: frontierModel, price: price)
        }
        if let config {
            let gateway = try ConfigLoader.load(file: config, environment: ProcessInfo.processInfo.environment)
            guard let model = Self.frontierModel(frontierModel, in: gateway) else {
                throw ValidationError("--frontier-model: '\(frontierModel)' is not a model of \(config)")
            }
            return FrontierPricing(
                model: model.upstreamName,
                price: TokenPrice(
                    inputMicrosPerMillion: model.price.inputMicrosPerMillion,
                    outputMicrosPerMillion: model.price.outputMicrosPerMillion))
        }
        throw ValidationError("--frontier-model needs --frontier-price or --config")
    }

    /// `2.50,10` → micro-dollars per 1M tokens, parsed exactly.
    static func price(_ text: String) -> TokenPrice? {
        let parts = text.split(separator: ",", omittingEmptySubsequences: false)
        guard parts.count == 2, let input = micros(parts[0]), let output = micros(parts[1]) else { return nil }
        return TokenPrice(inputMicrosPerMillion: input, outputMicrosPerMillion: output)
    }

    /// `2.5` → 2_500_000 (at most six decimals).
    static func micros(_ text: Substring) -> Int64? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let pieces = trimmed.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...2).contains(pieces.count), let whole = Int64(pieces[0]), whole >= 0 else { return nil }
        var fraction: Int64 = 0
        if pieces.count == 2 {
            let digits = pieces[1]
            guard !digits.isEmpty, digits.count <= 6, digits.allSatisfy(\.isASCII), let value = Int64(digits) else { return nil }
            fraction = value * Int64(pow(10, Double(6 - digits.count)))
        }
        return whole * 1_000_000 + fraction
    }
}

/// `phigate export --db FILE --out DIR [--from DATE] [--to DATE] [--tenant T]`
struct ExportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write the CSV dashboards from an outcome database.",
        discussion: """
            Writes cost_daily.csv, quality.csv, latency.csv, routes.csv, pareto.csv and requests.csv into --out
            (RFC 4180, CRLF line ends, UTF-8). Money is USD with six decimals computed from integer micro-dollars.
            The counterfactual frontier cost in cost_daily.csv needs --frontier-model with --frontier-price or
            --config. Prompt and answer text appear in requests.csv only with --include-text, and only where the
            gateway stored them (never for private requests).
            """
    )

    @OptionGroup var query: OutcomeQueryOptions

    @Option(help: "Directory to write the CSV files into (created if needed).")
    var out: String

    @Option(help: "quality.csv counts labelled requests whose score is below this.")
    var scoreThreshold = 0.5

    @Flag(help: "Include stored prompt and answer text in requests.csv.")
    var includeText = false

    func validate() throws {
        guard (0...1).contains(scoreThreshold) else {
            throw ValidationError("--score-threshold: expected 0 to 1, found \(scoreThreshold)")
        }
    }

    func run() async throws {
        let store = try OutcomeStore(path: query.db)
        let exporter = CSVExporter(
            store: store, frontier: try query.frontierPricing(), scoreThreshold: scoreThreshold,
            includesText: includeText)
        let isTerminal = isatty(STDERR_FILENO) == 1
        let directory = URL(fileURLWithPath: out)
        try exporter.export(to: directory, filter: query.filter) { dashboard, done, total in
            let line = "[\(done)/\(total)] \(dashboard.fileName)"
            if isTerminal {
                FileHandle.standardError.write(Data("\r\u{1B}[K\(line)".utf8))
                if done == total { FileHandle.standardError.write(Data("\n".utf8)) }
            }
        }
        print("wrote \(Dashboard.allCases.count) files to \(directory.path) from \(try store.requestCount()) logged requests")
    }
}
