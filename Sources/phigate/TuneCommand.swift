import ArgumentParser
import Foundation
import OutcomeStore
import Routing

/// `phigate tune --db FILE [--policy FILE] [--target-quality 0.95 | --max-cost USD] [--write]`
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
            --frontier-price or --config.
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
        if write && policy == nil {
            throw ValidationError("--write needs --policy")
        }
    }

    func run() async throws {
        let store = try OutcomeStore(path: query.db)
        let exporter = CSVExporter(store: store, frontier: try query.frontierPricing())
        let (samples, skipped) = try exporter.tuningSamples(query.filter)
        print(report(samples: samples, skipped: skipped))
        if write {
            throw ValidationError(
                "--write: policy files have no threshold key yet (the routing policy format is not on main); "
                    + "set the printed threshold in \(policy ?? "the policy") by hand")
        }
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
