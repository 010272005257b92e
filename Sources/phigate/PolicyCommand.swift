import ArgumentParser
import Foundation
import PhigateConfig
import Routing

/// `phigate policy …`: routing policy tools.
struct PolicyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policy",
        abstract: "Inspect and validate routing policies (policies/*.yaml).",
        subcommands: [Check.self]
    )

    /// `phigate policy check FILE [--config FILE]`
    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "check",
            abstract: "Load a policy and report every problem with the file, line and key path, or a summary when it is valid.",
            discussion: """
                With --config, targets (tier:…, model:…, backend:…) are checked against that configuration's \
                routing.tiers and backends. Exits 0 and prints OK with a summary when the policy is valid; prints \
                each problem and exits 1 otherwise.
                """
        )

        @Argument(help: "The policy file, e.g. policies/default.yaml.")
        var file: String

        @Option(help: "A gateway configuration whose tiers and backends the policy's targets must name.")
        var config: String?

        func run() async throws {
            do {
                var catalog: RoutingCatalog?
                if let config {
                    let gateway = try ConfigLoader.load(file: config, environment: ProcessInfo.processInfo.environment)
                    catalog = (gateway.routing ?? RoutingConfig(policyFile: file)).catalog(for: gateway)
                }
                let loaded = try PolicyLoader.load(file: file, catalog: catalog)
                print(Self.summary(of: loaded))
            } catch {
                printToStandardError(error.description)
                throw ExitCode(1)
            }
        }

        static func summary(of loaded: LoadedPolicy) -> String {
            let p = loaded.policy
            var lines = ["OK \(loaded.file)", "  policy: \(p.name); owns: \(p.ownedModels.sorted().joined(separator: ", "))"]
            lines.append("  private: tenants [\(p.privacy.privateTenants.sorted().joined(separator: ", "))], keys [\(p.privacy.privateKeys.sorted().joined(separator: ", "))], PII [\(p.privacy.localOnlyPII.sorted().map(\.rawValue).joined(separator: ", "))]")
            var auto = "  auto: \(p.auto.localTier) vs \(p.auto.frontierTier), threshold \(RouteExplanation.format(p.auto.threshold))"
            if let point = p.auto.operatingPoint {
                auto += String(format: " from %@ (frontier share %.1f%%, quality %.1f%%, cost %.1f%% of frontier-only%@)",
                               point.target.description, point.point.frontierShare * 100, point.qualityShareOfFrontier * 100,
                               point.costShareOfFrontier * 100, point.isTargetMet ? "" : "; target not reachable, closest point")
            }
            auto += loaded.classifier == nil ? "; no classifier (auto sends to the frontier tier first)" : "; classifier loaded"
            lines.append(auto)
            for budget in p.budgets {
                lines.append("  budget \(budget.name): \(budget.scope.rawValue) per \(budget.period.rawValue), $\(Double(budget.limitMicros) / 1_000_000), when spent: \(budget.onExhausted.rawValue)")
            }
            for (i, rule) in p.rules.enumerated() {
                lines.append("  rules[\(i)] \(rule.name): \(rule.conditions.count) condition(s) → \(rule.action.name)"
                    + (rule.fallback.isEmpty ? "" : ", fallback \(rule.fallback.map(\.description).joined(separator: ", "))"))
            }
            return lines.joined(separator: "\n")
        }
    }
}
