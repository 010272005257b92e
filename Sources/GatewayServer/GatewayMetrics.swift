public import Prometheus
import Synchronization

/// The gateway's Prometheus metrics, over an injected registry (no global `MetricsSystem` bootstrap, so
/// tests can make as many as they like). Collectors are looked up once per label set and cached.
public final class GatewayMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry

    private struct RequestKey: Hashable {
        var model: String
        var backend: String
        var status: Int
    }

    private struct BackendModelKey: Hashable {
        var model: String
        var backend: String
    }

    private struct UpstreamErrorKey: Hashable {
        var backend: String
        var kind: String
    }

    private struct RequestCollectors {
        var requests: Counter
    }

    private struct UsageCollectors {
        var latency: DurationHistogram
        var promptTokens: Counter
        var completionTokens: Counter
        var cost: Counter
    }

    private struct Cache {
        var requests: [RequestKey: Counter] = [:]
        var usage: [BackendModelKey: UsageCollectors] = [:]
        var firstByte: [BackendModelKey: DurationHistogram] = [:]
        var upstreamErrors: [UpstreamErrorKey: Counter] = [:]
        var shadow: [String: Counter] = [:]
    }

    private let cache = Mutex(Cache())
    private let inFlight: Gauge
    private let shadowCost: Counter

    static let latencyBuckets: [Duration] = [
        .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2.5), .milliseconds(5),
        .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250),
        .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5), .seconds(10), .seconds(30), .seconds(60),
        .seconds(120),
    ]

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        self.inFlight = registry.makeGauge(
            descriptor: MetricNameDescriptor(
                namespace: "phigate",
                metricName: "requests_in_flight",
                unitName: "",
                helpText: "Chat completion requests being served."
            )
        )
        self.shadowCost = registry.makeCounter(
            descriptor: MetricNameDescriptor(
                namespace: "phigate",
                metricName: "shadow_cost_usd",
                unitName: "total",
                helpText: "Cost of shadow evaluation calls (other tier and judge) in US dollars."
            )
        )
    }

    /// One finished chat completion request (any status).
    func recordRequest(model: String, backend: String, status: Int, duration: Duration) {
        let (counter, collectors) = cache.withLock { cache in
            let key = RequestKey(model: model, backend: backend, status: status)
            let counter: Counter
            if let cached = cache.requests[key] {
                counter = cached
            } else {
                counter = registry.makeCounter(
                    descriptor: Self.requestsDescriptor,
                    labels: [("model", model), ("backend", backend), ("status", String(status))]
                )
                cache.requests[key] = counter
            }
            return (counter, usageCollectors(&cache, model: model, backend: backend))
        }
        counter.increment()
        collectors.latency.record(duration)
    }

    /// Token usage and cost of one request.
    func recordUsage(model: String, backend: String, promptTokens: Int, completionTokens: Int, costUSD: Double) {
        let collectors = cache.withLock { usageCollectors(&$0, model: model, backend: backend) }
        if promptTokens > 0 { collectors.promptTokens.increment(by: Int64(promptTokens)) }
        if completionTokens > 0 { collectors.completionTokens.increment(by: Int64(completionTokens)) }
        if costUSD > 0 { collectors.cost.increment(by: costUSD) }
    }

    /// Time from the request's arrival to the first streamed chunk sent to the client.
    func recordTimeToFirstChunk(model: String, backend: String, duration: Duration) {
        let histogram = cache.withLock { cache in
            let key = BackendModelKey(model: model, backend: backend)
            if let cached = cache.firstByte[key] { return cached }
            let made = registry.makeDurationHistogram(
                descriptor: MetricNameDescriptor(
                    namespace: "phigate",
                    metricName: "time_to_first_chunk",
                    unitName: "seconds",
                    helpText: "Time from request arrival to the first streamed chunk."
                ),
                labels: [("model", model), ("backend", backend)],
                buckets: Self.latencyBuckets
            )
            cache.firstByte[key] = made
            return made
        }
        histogram.record(duration)
    }

    /// An upstream failure, by fault kind (`timeout`, `status`, `connection_reset`, `broken_stream`, …).
    func recordUpstreamError(backend: String, kind: String) {
        let counter = cache.withLock { cache in
            let key = UpstreamErrorKey(backend: backend, kind: kind)
            if let cached = cache.upstreamErrors[key] { return cached }
            let made = registry.makeCounter(
                descriptor: MetricNameDescriptor(
                    namespace: "phigate",
                    metricName: "upstream_errors",
                    unitName: "total",
                    helpText: "Upstream failures by backend and kind."
                ),
                labels: [("backend", backend), ("kind", kind)]
            )
            cache.upstreamErrors[key] = made
            return made
        }
        counter.increment()
    }

    /// One shadow evaluation event, by result: `queued`, `scored`, `queue_full`, `budget_exhausted`, `failed`,
    /// `judge_invalid`.
    func recordShadow(_ result: String) {
        let counter = cache.withLock { cache in
            if let cached = cache.shadow[result] { return cached }
            let made = registry.makeCounter(
                descriptor: MetricNameDescriptor(
                    namespace: "phigate",
                    metricName: "shadow_evaluations",
                    unitName: "total",
                    helpText: "Shadow evaluations by result (queued, scored, queue_full, budget_exhausted, failed, judge_invalid)."
                ),
                labels: [("result", result)]
            )
            cache.shadow[result] = made
            return made
        }
        counter.increment()
    }

    /// What shadow calls (other tier and judge) cost, in US dollars.
    func recordShadowCost(usd: Double) {
        guard usd > 0 else { return }
        shadowCost.increment(by: usd)
    }

    func requestStarted() { inFlight.increment() }
    func requestFinished() { inFlight.decrement() }

    /// The Prometheus text exposition of every metric.
    public func exposition() -> [UInt8] {
        registry.emitToBuffer()
    }

    // MARK: - Private

    private static var requestsDescriptor: MetricNameDescriptor {
        MetricNameDescriptor(
        namespace: "phigate",
        metricName: "requests",
        unitName: "total",
            helpText: "Chat completion requests by model, backend and HTTP status."
        )
    }

    private func usageCollectors(_ cache: inout Cache, model: String, backend: String) -> UsageCollectors {
        let key = BackendModelKey(model: model, backend: backend)
        if let cached = cache.usage[key] { return cached }
        let labels = [("model", model), ("backend", backend)]
        let made = UsageCollectors(
            latency: registry.makeDurationHistogram(
                descriptor: MetricNameDescriptor(
                    namespace: "phigate",
                    metricName: "request_duration",
                    unitName: "seconds",
                    helpText: "Chat completion latency, request arrival to last byte."
                ),
                labels: labels,
                buckets: Self.latencyBuckets
            ),
            promptTokens: registry.makeCounter(
                descriptor: MetricNameDescriptor(
                    namespace: "phigate",
                    metricName: "prompt_tokens",
                    unitName: "total",
                    helpText: "Input tokens reported by upstreams."
                ),
                labels: labels
            ),
            completionTokens: registry.makeCounter(
                descriptor: MetricNameDescriptor(
                    namespace: "phigate",
                    metricName: "completion_tokens",
                    unitName: "total",
                    helpText: "Output tokens reported by upstreams."
                ),
                labels: labels
            ),
            cost: registry.makeCounter(
                descriptor: MetricNameDescriptor(
                    namespace: "phigate",
                    metricName: "cost_usd",
                    unitName: "total",
                    helpText: "Cost in US dollars from the configured prices per 1M tokens."
                ),
                labels: labels
            )
        )
        cache.usage[key] = made
        return made
    }
}
