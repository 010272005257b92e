public import Routing

extension ThresholdSweep {
    /// The same samples as the routing module's curve (USD as `Double`), so tuning picks operating points with
    /// exactly the logic a policy's `quality` / `max_cost_per_1k_requests` / `lambda` target uses.
    public static func routingCurve(samples: [TuningSample]) -> RoutingCurve {
        RoutingCurve(
            outcomes: samples.map { sample in
                RoutedOutcome(
                    score: sample.score, smallQuality: sample.localQuality, largeQuality: sample.frontierQuality,
                    smallCostUSD: Double(sample.localCostMicros) / 1e6, largeCostUSD: Double(sample.frontierCostMicros) / 1e6)
            })
    }
}
