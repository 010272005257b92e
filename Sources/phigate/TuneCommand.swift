import ArgumentParser
import Foundation
import OutcomeStore

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

    @Flag(help: "Write the recommended threshold into the policy file.")
    var write = false

    func validate() throws {
        if targetQuality != nil && maxCost != nil {
            throw ValidationError("give either --target-quality or --max-cost, not both")
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
        print(report(sweep: ThresholdSweep(samples: samples), skipped: skipped))
        if write {
            throw ValidationError(
                "--write: policy files have no threshold key yet (the routing policy format is not on main); "
                    + "set the printed threshold in \(policy ?? "the policy") by hand")
        }
    }

    func report(sweep: ThresholdSweep, skipped: Int) -> String {
        var lines: [String] = []
        lines.append("requests with a score and both tiers' quality: \(sweep.requests) (skipped, one tier unlabelled: \(skipped))")
        guard sweep.requests > 0, let frontier = sweep.frontierOnly else {
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
        let chosen: ThresholdPoint?
        let target: String
        if let maxCost, let budget = OutcomeQueryOptions.micros(Substring(maxCost)) {
            chosen = sweep.recommended(maxCostPer1kMicros: budget)
            target = "cost at most $\(maxCost) per 1k requests"
        } else {
            let share = targetQuality ?? 0.95
            chosen = sweep.recommended(qualityShare: share)
            target = "quality at least \(share) of frontier-only (\(String(format: "%.4f", share * frontier.meanQuality)))"
        }
        guard let chosen else {
            lines.append("no point meets the target: \(target)")
            return lines.joined(separator: "\n")
        }
        let qualityShare = frontier.meanQuality > 0 ? chosen.meanQuality / frontier.meanQuality : 0
        let costShare = frontier.costMicros > 0 ? Double(chosen.costMicros) / Double(frontier.costMicros) : 0
        lines.append("target: \(target)")
        lines.append(
            String(
                format: "recommended threshold %.6f: %.1f%% to the frontier, expected quality %.4f (%.1f%% of frontier-only), ",
                chosen.threshold, chosen.frontierShare * 100, chosen.meanQuality, qualityShare * 100)
                + "cost $\(usd(sweep.costPer1kMicros(chosen))) per 1k requests ("
                + String(format: "%.1f%%", costShare * 100) + " of frontier-only)")
        return lines.joined(separator: "\n")
    }
}
