import ArgumentParser
import Foundation
import OutcomeStore
import PhigateConfig
import Routing

/// `phigate tune --db FILE [--policy FILE] [--target-quality 0.95 | --max-cost USD] [--write | --out FILE]`
struct TuneCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tune",
        abstract: "Choose the routing threshold on the quality-vs-cost Pareto front of logged traffic.",
        discussion: """
            Uses requests that carry a difficulty score and a quality label for both tiers (the answer given,
            labelled by users or a judge, plus shadow evaluation of the other tier). Requests with a score below the
            threshold go to the frontier. Prints the sweep's Pareto front and the recommended threshold: the
            cheapest point reaching --target-quality of frontier-only quality, or the best point within --max-cost
            USD per 1,000 requests. Frontier cost for requests answered locally needs --frontier-model with
            --frontier-price or --config. --write sets auto.threshold in --policy in place (only that value
            changes; comments and layout stay; an operating target like quality: is replaced by the threshold);
            --out FILE writes the edited policy there instead. The result is loaded and checked (against
            --config's backends and tiers when given) before it atomically replaces anything.
            """
    )

    @OptionGroup var query: OutcomeQueryOptions

    @Option(help: "The routing policy whose threshold is tuned.")
    var policy: String?

    @Option(help: "Required mean quality as a share of frontier-only quality (default 0.95).")
    var targetQuality: Double?

    @Option(help: "Largest cost per 1,000 requests, in USD.")
    var maxCost: String?

    @Option(help: "Maximise quality − lambda × USD per 1,000 requests instead.")
    var lambda: Double?

    @Flag(help: "Write the recommended threshold into the policy file.")
    var write = false

    @Option(help: "Write the edited policy to this file instead of replacing --policy (relative classifier and curve paths are taken from its folder).")
    var out: String?

    /// Whether the recommended threshold is written somewhere.
    var writes: Bool { write || out != nil }

    func validate() throws {
        if [targetQuality != nil, maxCost != nil, lambda != nil].filter({ $0 }).count > 1 {
            throw ValidationError("give one of --target-quality, --max-cost and --lambda")
        }
        if let targetQuality, !(0...1).contains(targetQuality) {
            throw ValidationError("--target-quality: expected 0 to 1, found \(targetQuality)")
        }
        if let maxCost, OutcomeQueryOptions.micros(Substring(maxCost)) == nil {
            throw ValidationError("--max-cost: expected USD like 1.25, found '\(maxCost)'")
        }
        if writes && policy == nil {
            throw ValidationError("--write and --out need --policy")
        }
        if let policy, !FileManager.default.fileExists(atPath: policy) {
            throw ValidationError("--policy: no such file '\(policy)'")
        }
    }

    func run() async throws {
        let store = try OutcomeStore(path: query.db)
        let exporter = CSVExporter(store: store, frontier: try query.frontierPricing())
        let (samples, skipped) = try exporter.tuningSamples(query.filter)
        print(report(samples: samples, skipped: skipped))
        guard writes, let policy else { return }
        guard !samples.isEmpty else {
            throw ValidationError("nothing to tune: \(policy) is left as it is")
        }
        let chosen = ThresholdSweep.routingCurve(samples: samples).operatingPoint(for: target)
        // The all-frontier point lies just above the largest score; a policy threshold is at most 1.
        let threshold = min(max(chosen.point.threshold, 0), 1)
        let destination = try writePolicy(policy, threshold: threshold, to: out ?? policy)
        print("wrote auto.threshold \(PolicyEditor.formatted(threshold)) to \(destination)")
    }

    /// Sets `auto.threshold` in `policy`'s text, loads the result as a policy (with the gateway's catalog when
    /// --config is given) to prove it valid and carrying the new threshold, then atomically replaces
    /// `destination`. An invalid policy, before or after the edit, is refused and nothing is written.
    @discardableResult
    func writePolicy(_ policy: String, threshold: Double, to destination: String) throws -> String {
        let original = try String(contentsOfFile: policy, encoding: .utf8)
        var catalog: RoutingCatalog?
        if let config = query.config {
            let gateway = try ConfigLoader.load(file: config, environment: ProcessInfo.processInfo.environment)
            catalog = gateway.routing?.catalog(for: gateway)
        }
        _ = try PolicyLoader.load(yaml: original, file: policy, catalog: catalog)
        let edited = try PolicyEditor.settingThreshold(threshold, in: original, file: policy)
        let loaded = try PolicyLoader.load(yaml: edited, file: destination, catalog: catalog)
        guard abs(loaded.policy.auto.threshold - threshold) < 1e-12 else {
            throw ValidationError("\(policy): the edited policy does not carry threshold \(threshold); nothing was written")
        }
        try Data(edited.utf8).write(to: URL(fileURLWithPath: destination), options: .atomic)
        return destination
    }

    /// The target as the routing module states it.
    var target: OperatingTarget {
        if let maxCost, let micros = OutcomeQueryOptions.micros(Substring(maxCost)) {
            return .maxCostPer1kRequests(Double(micros) / 1e6)
        }
        if let lambda { return .lambda(lambda) }
        return .quality(targetQuality ?? 0.95)
    }

    func report(samples: [TuningSample], skipped: Int) -> String {
        let sweep = ThresholdSweep(samples: samples)
        var lines: [String] = []
        lines.append("requests with a score and both tiers' quality: \(sweep.requests) (skipped, one tier unlabelled: \(skipped))")
        guard sweep.requests > 0 else {
            lines.append("nothing to tune: log shadow evaluations or labels for both tiers first")
            return lines.joined(separator: "\n")
        }
        func usd(_ micros: Int64) -> String { String(format: "%.6f", Double(micros) / 1e6) }
        lines.append("Pareto front (send to the frontier when score < threshold):")
        lines.append("  threshold  frontier  quality  cost/1k USD")
        for point in sweep.paretoFront {
            lines.append(
                String(format: "  %9.6f  %7.1f%%  %7.4f  ", point.threshold, point.frontierShare * 100, point.meanQuality)
                    + usd(sweep.costPer1kMicros(point)))
        }
        let chosen = ThresholdSweep.routingCurve(samples: samples).operatingPoint(for: target)
        lines.append("target: \(target)\(chosen.isTargetMet ? "" : " (not reachable; closest point)")")
        lines.append(
            String(
                format: "recommended threshold %.6f: %.1f%% to the frontier, expected quality %.4f (%.1f%% of frontier-only), "
                    + "cost $%.6f per 1k requests (%.1f%% of frontier-only)",
                chosen.point.threshold, chosen.point.frontierShare * 100, chosen.point.meanQuality,
                chosen.qualityShareOfFrontier * 100, chosen.point.costPer1kRequestsUSD, chosen.costShareOfFrontier * 100))
        return lines.joined(separator: "\n")
    }
}
