// Prometheus gauges of the remote backends' circuit breakers and retry budgets, read at scrape time.

import Backends
import Prometheus

/// `phigate_upstream_circuit_state{backend}` (0 closed, 1 half-open, 2 open) and
/// `phigate_upstream_retry_budget{backend}` (retries left in the bucket) for every remote backend.
struct UpstreamGuardMetrics: Sendable {
    private let gauges: [(guardian: UpstreamGuard, state: Gauge, budget: Gauge)]

    init(guards: [UpstreamGuard], registry: PrometheusCollectorRegistry) {
        gauges = guards.map { guardian in
            let labels = [("backend", guardian.backend)]
            let state = registry.makeGauge(
                descriptor: MetricNameDescriptor(
                    namespace: "phigate", metricName: "upstream_circuit_state", unitName: "",
                    helpText: "Circuit breaker state of a remote backend: 0 closed, 1 half-open, 2 open."),
                labels: labels)
            let budget = registry.makeGauge(
                descriptor: MetricNameDescriptor(
                    namespace: "phigate", metricName: "upstream_retry_budget", unitName: "",
                    helpText: "Retries left in a remote backend's retry budget."),
                labels: labels)
            return (guardian, state, budget)
        }
        update()
    }

    func update() {
        for (guardian, state, budget) in gauges {
            state.set(to: Double(guardian.circuitKind.rawValue))
            budget.set(to: guardian.retryBudgetBalance.rounded(.down))
        }
    }
}
