import Backends
import Foundation
import Logging
import OpenAIWire
import OutcomeStore
import PhigateConfig
import Routing
import ServiceLifecycle
import Synchronization

/// Shadow evaluation (`shadow:`): for a share of routed requests answered by one tier, asks the other tier the
/// same conversation and has a judge model score both answers; the two scores become feedback rows with source
/// `shadow` (one per tier, on the answered request's id), which `phigate tune` reads as both tiers' quality.
///
/// The chat handler offers finished requests with `offer(…)`, which never waits: a full queue drops the offer
/// and counts it. Evaluations run here, off the request path, at most `max_concurrency` at once. Private
/// requests, requests with PII findings and requests with tools are never shadowed. Calls are priced at their
/// models' prices against a budget per UTC day; once it is spent, shadowing stops until the next day (metric
/// and one log line). Graceful shutdown evaluates what is queued (within the grace period); the outcome
/// recorder, shut down after this service, then writes the rows.
final class ShadowEvaluator: Service, Sendable {
    /// A finished request chosen for evaluation.
    struct Job: Sendable {
        var requestID: String
        var request: ChatCompletionRequest
        var answered: ResolvedModel
        var answeredTier: OutcomeTier
        var answer: String
        /// The served model asked for the other tier's answer.
        var otherModel: String
    }

    private struct Spend {
        var day = ""
        var micros: Int64 = 0
        /// The day whose exhaustion was logged (one line per day).
        var loggedDay = ""
    }

    let config: ShadowConfig
    /// The backends of the configuration in force (replaced on reload).
    private let backends: Mutex<BackendRegistry>
    var registry: BackendRegistry { backends.withLock { $0 } }
    let recorder: OutcomeRecorder
    let tiers: ServingTiers
    let metrics: GatewayMetrics
    let logger: Logger
    private let jobs: AsyncStream<Job>
    private let queue: AsyncStream<Job>.Continuation
    private let spend = Mutex(Spend())
    /// Today's UTC day (`2026-11-21`); injectable for tests of the daily reset.
    private let today: @Sendable () -> String

    init(
        config: ShadowConfig, registry: BackendRegistry, recorder: OutcomeRecorder, tiers: ServingTiers,
        metrics: GatewayMetrics, logger: Logger, today: @escaping @Sendable () -> String = { GatewayRouting.period(Date()).day }
    ) {
        self.config = config
        self.backends = Mutex(registry)
        self.recorder = recorder
        self.tiers = tiers
        self.metrics = metrics
        self.logger = logger
        self.today = today
        (jobs, queue) = AsyncStream.makeStream(of: Job.self, bufferingPolicy: .bufferingOldest(config.queueSize))
    }

    /// Evaluates later jobs with the backends of a reloaded configuration.
    func use(registry: BackendRegistry) {
        backends.withLock { $0 = registry }
    }

    // MARK: - Offers (request path)

    /// Offers a finished routed request. Returns at once: either it is queued, or it is not eligible / not
    /// sampled / over budget / the queue is full (the last two counted).
    func offer(
        requestID: String, request: ChatCompletionRequest, routing: RoutingRequestScope?, isPrivate: Bool, answer: String?
    ) {
        guard config.isEnabled, !isPrivate, request.tools?.isEmpty ?? true,
              let explanation = routing?.decision?.explanation, !explanation.isPrivate, explanation.piiFindings.isEmpty,
              let answered = routing?.answeredModel, let answer, !answer.isEmpty
        else { return }
        let isLocal = tiers.isLocal(backend: answered.backendName, model: answered.name)
        let share = isLocal ? config.localShare : config.remoteShare
        guard share > 0, share >= 1 || Double.random(in: 0..<1) < share,
              let other = isLocal ? config.remoteModel : config.localModel, other != answered.name
        else { return }
        guard hasBudget() else {
            metrics.recordShadow("budget_exhausted")
            return
        }
        let job = Job(
            requestID: requestID, request: request, answered: answered, answeredTier: isLocal ? .local : .remote,
            answer: answer, otherModel: other)
        switch queue.yield(job) {
        case .enqueued:
            metrics.recordShadow("queued")
        case .dropped, .terminated:
            metrics.recordShadow("queue_full")
        @unknown default:
            metrics.recordShadow("queue_full")
        }
    }

    // MARK: - Service

    /// Evaluates queued requests, `max_concurrency` at a time, until graceful shutdown has drained the queue.
    func run() async throws {
        await withGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { group in
                var running = 0
                for await job in jobs {
                    if running >= config.maxConcurrency {
                        await group.next()
                        running -= 1
                    }
                    group.addTask { await self.evaluate(job) }
                    running += 1
                }
            }
        } onGracefulShutdown: {
            // Nothing new is accepted; what is queued is still evaluated.
            self.queue.finish()
        }
    }

    // MARK: - Evaluation

    func evaluate(_ job: Job) async {
        var log = logger
        log[metadataKey: "request.id"] = .string(job.requestID)
        guard hasBudget() else {
            metrics.recordShadow("budget_exhausted")
            return
        }
        let other: ResolvedModel
        let judge: ResolvedModel
        let otherAnswer: String
        let verdict: String
        do {
            other = try registry.resolve(model: job.otherModel)
            judge = try registry.resolve(model: config.judgeModel)
            var request = job.request
            request.model = other.name
            request.stream = nil
            request.streamOptions = nil
            let response = try await other.backend.complete(request, upstreamModel: other.upstreamName, logger: log)
            charge(response.usage, model: other)
            guard let text = response.choices.first?.message.content, !text.isEmpty else {
                metrics.recordShadow("failed")
                log.warning("Shadow evaluation: the other tier gave no text answer", metadata: ["shadow.model": .string(other.name)])
                return
            }
            otherAnswer = text
            guard hasBudget() else {
                metrics.recordShadow("budget_exhausted")
                return
            }
            let judgeRequest = ShadowJudge.request(
                judging: job.request.messages, answerA: job.answer, answerB: otherAnswer, model: judge.name)
            let judged = try await judge.backend.complete(judgeRequest, upstreamModel: judge.upstreamName, logger: log)
            charge(judged.usage, model: judge)
            verdict = judged.choices.first?.message.content ?? ""
        } catch is CancellationError {
            return
        } catch {
            metrics.recordShadow("failed")
            log.warning("Shadow evaluation call failed", metadata: ["shadow.error": .string(Self.describe(error))])
            return
        }
        guard let scores = ShadowJudge.scores(from: verdict) else {
            metrics.recordShadow("judge_invalid")
            log.warning(
                "Shadow judge reply has no usable scores; nothing recorded",
                metadata: ["shadow.judge": .string(judge.name), "shadow.reply_length": .stringConvertible(verdict.count)])
            return
        }
        let otherTier: OutcomeTier = job.answeredTier == .local ? .remote : .local
        let now = Date()
        await recorder.record(.feedback(OutcomeFeedback(
            requestID: job.requestID, score: scores.a, source: .shadow, tier: job.answeredTier,
            comment: "shadow: answered by \(job.answered.backendName)/\(job.answered.name); judge \(judge.name)", time: now)))
        await recorder.record(.feedback(OutcomeFeedback(
            requestID: job.requestID, score: scores.b, source: .shadow, tier: otherTier,
            comment: "shadow: \(otherTier.rawValue) tier \(other.backendName)/\(other.name); judge \(judge.name)", time: now)))
        metrics.recordShadow("scored")
    }

    /// Upstream faults by their description (no bodies or keys); anything else by its type.
    static func describe(_ error: any Error) -> String {
        if let fault = error as? UpstreamFault { return fault.description }
        if let lookup = error as? ModelLookupError { return lookup.description }
        return String(describing: type(of: error))
    }

    // MARK: - Budget

    /// Whether today's budget has something left (logs once per day when it has not).
    private func hasBudget() -> Bool {
        let day = today()
        let (left, logs, spent) = spend.withLock { spend -> (Bool, Bool, Int64) in
            if spend.day != day { spend = Spend(day: day) }
            let left = spend.micros < config.budgetMicrosPerDay
            let logs = !left && spend.loggedDay != day
            if logs { spend.loggedDay = day }
            return (left, logs, spend.micros)
        }
        if logs {
            logger.warning(
                "Shadow evaluation budget spent; shadowing pauses until the next UTC day",
                metadata: [
                    "shadow.budget_usd": .string(Self.usd(config.budgetMicrosPerDay)), "shadow.spent_usd": .string(Self.usd(spent)),
                ])
        }
        return left
    }

    private func charge(_ usage: Usage?, model: ResolvedModel) {
        guard let usage else { return }
        let cost = model.cost(of: usage)
        let day = today()
        spend.withLock { spend in
            if spend.day != day { spend = Spend(day: day) }
            spend.micros += cost.micros
        }
        metrics.recordShadowCost(usd: cost.dollars)
    }

    static func usd(_ micros: Int64) -> String { String(format: "%.6f", Double(micros) / 1e6) }
}

/// The shadow evaluator for `config.shadow`, or nil when there is none (or it is switched off).
func makeShadowEvaluator(
    config: GatewayConfig, registry: BackendRegistry, outcomes: GatewayOutcomes, metrics: GatewayMetrics, logger: Logger
) -> ShadowEvaluator? {
    guard let shadow = config.shadow, shadow.isEnabled else { return nil }
    return ShadowEvaluator(
        config: shadow, registry: registry, recorder: outcomes.recorder, tiers: outcomes.tiers, metrics: metrics, logger: logger)
}
