import Backends
import Foundation
import Hummingbird
import Logging
import OpenAIWire
import PhigateConfig
import Routing
import Synchronization

/// What the routing middleware knows about the request in flight (headers, caller), and where the decision is
/// left for the response headers and the outcome log. Carried as a task local so the router backend, called by
/// the chat handler, sees it without changing the handler.
final class RoutingRequestScope: Sendable {
    @TaskLocal static var current: RoutingRequestScope?

    /// The request's header fields; `headers` builds the routing features' dictionary only when a request is routed.
    let fields: HTTPFields
    let keyID: String?
    let tenant: String?

    /// One upstream call, in order: retries and the fallback chain of the outcome log.
    struct Attempt: Sendable, Hashable {
        var backend: String
        var upstreamModel: String
        /// Why it failed (`timeout`, `status(503)`, …); nil while it answers.
        var fault: String?

        init(backend: String, upstreamModel: String, fault: String? = nil) {
            self.backend = backend
            self.upstreamModel = upstreamModel
            self.fault = fault
        }

        init(model: ResolvedModel, fault: String? = nil) {
            self.init(backend: model.backendName, upstreamModel: model.upstreamName, fault: fault)
        }
    }

    private struct State {
        var decision: RouteDecision?
        var answered: ResolvedModel?
        /// The last candidate of the plan that was tried (answered or not).
        var lastTried: ResolvedModel?
        var attempts: [Attempt] = []
    }

    private let state = Mutex(State())

    init(fields: HTTPFields, keyID: String?, tenant: String?) {
        self.fields = fields
        self.keyID = keyID
        self.tenant = tenant
    }

    /// Header name (canonical, lower case) → value; repeated fields combined with ", " (RFC 9110), so a second
    /// `x-phigate-privacy` cannot hide a first `local-only`.
    var headers: [String: String] {
        var headers: [String: String] = [:]
        for field in fields {
            let name = field.name.canonicalName
            if let earlier = headers[name] {
                headers[name] = earlier + ", " + field.value
            } else {
                headers[name] = field.value
            }
        }
        return headers
    }

    /// The decision made for this request (for `x-phigate-route` / `x-phigate-reason` and the outcome log).
    var decision: RouteDecision? { state.withLock { $0.decision } }
    /// `backend/model` that finally answered (after fallbacks).
    var answeredBy: String? { answeredModel.map { "\($0.backendName)/\($0.name)" } }
    /// The served model that finally answered: its backend, upstream name and prices.
    var answeredModel: ResolvedModel? { state.withLock { $0.answered } }
    /// Every upstream call made, in order (retries included).
    var attempts: [Attempt] { state.withLock { $0.attempts } }
    /// The last routed candidate tried.
    var lastTried: ResolvedModel? { state.withLock { $0.lastTried } }

    func set(decision: RouteDecision) { state.withLock { $0.decision = decision } }

    /// `model` answered: it becomes the answering model and the last attempt of the chain.
    func set(answeredBy model: ResolvedModel) {
        state.withLock {
            $0.answered = model
            $0.lastTried = model
            $0.attempts.append(Attempt(model: model))
        }
    }

    /// `model` failed with `error` before answering; the next candidate (if any) is tried.
    func recordFailedAttempt(_ model: ResolvedModel, error: any Error) {
        state.withLock {
            $0.lastTried = model
            $0.attempts.append(Attempt(model: model, fault: Self.faultLabel(error)))
        }
    }

    /// The answering model's stream broke after it started answering.
    func recordAnswerFailed(_ error: any Error) {
        state.withLock { state in
            guard let last = state.attempts.indices.last else { return }
            state.attempts[last].fault = Self.faultLabel(error)
        }
    }

    /// `status(503)` for upstream statuses, the metric label for other faults, `error` for anything else.
    static func faultLabel(_ error: any Error) -> String {
        if let escalation = error as? CascadeEscalation { return escalation.label }
        if let refusal = error as? OpenAIError { return refusal.code ?? "status(\(refusal.status))" }
        return (error as? UpstreamFault)?.attemptLabel ?? "error"
    }
}

extension RoutingRequestScope: UpstreamAttemptObserver {
    /// A backend retries: the failed call becomes an attempt of the chain.
    func upstreamAttemptWillRetry(backend: String, upstreamModel: String, fault: UpstreamFault) {
        state.withLock { $0.attempts.append(Attempt(backend: backend, upstreamModel: upstreamModel, fault: fault.attemptLabel)) }
    }
}

/// Sets `RoutingRequestScope.current` around the rest of the chain and adds the routing headers to the answer.
struct RoutingMiddleware: RouterMiddleware {
    typealias Context = GatewayRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let scope = RoutingRequestScope(fields: request.headers, keyID: context.keyID, tenant: context.tenant)
        do {
            var response = try await RoutingRequestScope.$current.withValue(scope) {
                try await UpstreamAttempts.$observer.withValue(scope) { try await next(request, context) }
            }
            Self.decorate(&response.headers, scope: scope)
            return response
        } catch var error as GatewayError {
            if let decision = scope.decision {
                error.headers[.phigateRoute] = decision.routeHeader
                error.headers[.phigateReason] = decision.explanation.headerValue
            }
            throw error
        }
    }

    static func decorate(_ headers: inout HTTPFields, scope: RoutingRequestScope) {
        guard let decision = scope.decision else { return }
        headers[.phigateRoute] = scope.answeredBy ?? decision.routeHeader
        headers[.phigateReason] = decision.explanation.headerValue
        if let answered = scope.answeredModel { headers[.phigateBackend] = answered.backendName }
    }
}

extension HTTPFields.Element.Name {
    static let phigateRoute = HeaderName("x-phigate-route")!
    static let phigateReason = HeaderName("x-phigate-reason")!
}

/// The gateway's routing: the policy in force, live latency statistics and spend, and the real backends.
struct GatewayRouting: Sendable {
    static let backendName = "router"

    let holder: PolicyHolder
    let registry: BackendRegistry
    let latency: LatencyRecorder
    let spend: SpendLedger
    let countTokens: @Sendable (String) -> Int

    /// `latency` and `spend` outlive configuration reloads (the gateway passes the same ones to each routing).
    init(
        config: GatewayConfig, routing: RoutingConfig, registry: BackendRegistry,
        countTokens: @escaping @Sendable (String) -> Int, latency: LatencyRecorder = LatencyRecorder(),
        spend: SpendLedger = SpendLedger()
    ) throws {
        self.holder = try PolicyHolder(file: routing.policyFile, catalog: routing.catalog(for: config))
        self.registry = registry
        self.latency = latency
        self.spend = spend
        self.countTokens = countTokens
    }

    /// The registry the chat handler uses: the real backends plus the router serving `auto` and every model the
    /// policy owns that no backend serves.
    func registryWithRouter(config: GatewayConfig, resolved: ResolvedConfig) -> BackendRegistry {
        var augmented = config
        let served = Set(config.backends.flatMap { $0.models.map(\.name) })
        let owned = holder.current.loaded.policy.ownedModels.subtracting(served).sorted()
        augmented.backends.append(BackendConfig(
            name: Self.backendName, kind: .openai, baseURL: "http://127.0.0.1", models: owned.map { ModelConfig(name: $0) }))
        let backends = Array(registry.backends.values) + [RoutedBackend(routing: self)]
        return BackendRegistry(
            config: augmented, backends: backends, backendsMissingKey: Set(resolved.backendsMissingKey),
            unavailableBackends: resolved.disabledBackends)
    }

    static func period(_ date: Date) -> SpendPeriod {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC") ?? .current
        let c = calendar.dateComponents([.year, .month, .day], from: date)
        let month = String(format: "%04d-%02d", c.year ?? 0, c.month ?? 0)
        return SpendPeriod(day: month + String(format: "-%02d", c.day ?? 0), month: month)
    }

    /// The decision for `request` with the caller from the task-local scope.
    func decision(for request: ChatCompletionRequest) async -> (RouteDecision, PolicyHolder.Current, RoutingRequestScope?) {
        let scope = RoutingRequestScope.current
        let current = holder.current
        let features = RequestFeatures(
            request: request, keyID: scope?.keyID, tenant: scope?.tenant, headers: scope?.headers ?? [:],
            scanner: current.loaded.scanner, countTokens: countTokens)
        let budgets = await spend.state(
            for: current.loaded.policy.budgets, keyID: scope?.keyID, tenant: scope?.tenant, period: Self.period(Date()))
        let decision = current.engine.decision(for: features, statistics: await latency.snapshot(), budgets: budgets)
        scope?.set(decision: decision)
        return (decision, current, scope)
    }
}

/// The `router` backend: decides, then tries the plan in order (fallbacks on upstream failure, privacy already
/// applied by the decision), redacting PII before remote calls when the rule says so and restoring it in the answer.
struct RoutedBackend: ChatBackend {
    let routing: GatewayRouting
    var name: String { GatewayRouting.backendName }
    var kind: BackendKind { .openai }

    struct Attempt {
        var model: ResolvedModel
        var request: ChatCompletionRequest
        var redaction: RedactionMap
    }

    func attempts(_ request: ChatCompletionRequest) async throws -> ([Attempt], RoutingRequestScope?) {
        let (decision, current, scope) = await routing.decision(for: request)
        switch decision.outcome {
        case .reject(let status, let code, let message):
            throw GatewayError(
                status: HTTPResponse.Status(code: status), message: message,
                type: status == 429 ? "rate_limit_error" : "invalid_request_error", code: code, backend: GatewayRouting.backendName)
        case .route(let plan, let redact, _):
            var attempts: [Attempt] = []
            for candidate in plan {
                guard let model = try? routing.registry.resolve(model: candidate.model), model.backendName == candidate.backend else { continue }
                var outgoing = request
                var map = RedactionMap()
                if redact && !candidate.isLocal {
                    let types = current.loaded.policy.privacy.redactPII
                    for i in outgoing.messages.indices {
                        if case .text(let text)? = outgoing.messages[i].content {
                            outgoing.messages[i].content = .text(map.redact(text, scanner: current.loaded.scanner, types: types))
                        }
                    }
                }
                attempts.append(Attempt(model: model, request: outgoing, redaction: map))
            }
            if attempts.isEmpty {
                throw GatewayError(
                    status: .serviceUnavailable, message: "No configured backend can serve the routed request.", type: "server_error",
                    code: "no_backend", backend: GatewayRouting.backendName)
            }
            return (attempts, scope)
        }
    }

    func complete(_ request: ChatCompletionRequest, upstreamModel: String, logger: Logger) async throws -> ChatCompletionResponse {
        var (attempts, scope) = try await attempts(request)
        if let cascade = Self.cascadeSplit(attempts, scope: scope) {
            let started = ContinuousClock.now
            if let answer = try await cascadeLocalAnswer(cascade.local, policy: cascade.policy, original: request, scope: scope, logger: logger) {
                let ms = RoutedBackend.milliseconds(started.duration(to: .now))
                await record(cascade.local.model, usage: answer.usage, ttftMs: ms, totalMs: ms, scope: scope)
                return answer
            }
            attempts = cascade.rest
        }
        var lastError: (any Error)?
        for attempt in attempts {
            let started = ContinuousClock.now
            do {
                var response = try await attempt.model.backend.complete(attempt.request, upstreamModel: attempt.model.upstreamName, logger: logger)
                let ms = RoutedBackend.milliseconds(started.duration(to: .now))
                scope?.set(answeredBy: attempt.model)
                await record(attempt.model, usage: response.usage, ttftMs: ms, totalMs: ms, scope: scope)
                if !attempt.redaction.isEmpty {
                    for i in response.choices.indices {
                        response.choices[i].message.content = response.choices[i].message.content.map(attempt.redaction.restore)
                    }
                }
                return response
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                logger.debug("Routed attempt failed; trying the next candidate", metadata: ["route.backend": .string(attempt.model.backendName)])
                scope?.recordFailedAttempt(attempt.model, error: error)
                lastError = error
            }
        }
        throw lastError ?? CancellationError()
    }

    func stream(_ request: ChatCompletionRequest, upstreamModel: String, logger: Logger) -> AsyncThrowingStream<ChatStreamEvent, any Error> {
        AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    var (attempts, scope) = try await attempts(request)
                    if let cascade = Self.cascadeSplit(attempts, scope: scope) {
                        // Held back until accepted: nothing reaches the client before the judgement.
                        let started = ContinuousClock.now
                        if let answer = try await cascadeLocalAnswer(
                            cascade.local, policy: cascade.policy, original: request, scope: scope, logger: logger)
                        {
                            let ms = RoutedBackend.milliseconds(started.duration(to: .now))
                            await record(cascade.local.model, usage: answer.usage, ttftMs: ms, totalMs: ms, scope: scope)
                            Self.replay(answer, request: request, into: continuation)
                            continuation.finish()
                            return
                        }
                        attempts = cascade.rest
                    }
                    var lastError: (any Error)?
                    for attempt in attempts {
                        let started = ContinuousClock.now
                        var iterator = attempt.model.backend.stream(attempt.request, upstreamModel: attempt.model.upstreamName, logger: logger)
                            .makeAsyncIterator()
                        let first: ChatStreamEvent?
                        do {
                            first = try await iterator.next()
                        } catch is CancellationError {
                            throw CancellationError()
                        } catch {
                            lastError = error  // failed before any event: fall back
                            scope?.recordFailedAttempt(attempt.model, error: error)
                            continue
                        }
                        let ttft = RoutedBackend.milliseconds(started.duration(to: .now))
                        scope?.set(answeredBy: attempt.model)
                        var restorers: [Int: PlaceholderRestorer] = [:]
                        var usage: Usage?
                        var event = first
                        while let current = event {
                            switch current {
                            case .chunk(var chunk):
                                if !attempt.redaction.isEmpty {
                                    for i in chunk.choices.indices {
                                        let index = chunk.choices[i].index
                                        var restorer = restorers[index] ?? PlaceholderRestorer(map: attempt.redaction)
                                        if let content = chunk.choices[i].delta.content {
                                            chunk.choices[i].delta.content = restorer.feed(content)
                                        }
                                        if chunk.choices[i].finishReason != nil {
                                            chunk.choices[i].delta.content = (chunk.choices[i].delta.content ?? "") + restorer.finish()
                                        }
                                        restorers[index] = restorer
                                    }
                                }
                                continuation.yield(.chunk(chunk))
                            case .usage(let reported):
                                usage = reported
                                continuation.yield(.usage(reported))
                            }
                            do {
                                event = try await iterator.next()
                            } catch {
                                if !(error is CancellationError) { scope?.recordAnswerFailed(error) }
                                throw error
                            }
                        }
                        await record(attempt.model, usage: usage, ttftMs: ttft, totalMs: RoutedBackend.milliseconds(started.duration(to: .now)), scope: scope)
                        continuation.finish()
                        return
                    }
                    continuation.finish(throwing: lastError ?? CancellationError())
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    static func milliseconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
    }

    private func record(_ model: ResolvedModel, usage: Usage?, ttftMs: Double, totalMs: Double, scope: RoutingRequestScope?) async {
        await routing.latency.record(
            backend: model.backendName, ttftMilliseconds: ttftMs, totalMilliseconds: totalMs, completionTokens: usage?.completionTokens ?? 0)
        if let usage {
            await routing.spend.record(
                costMicros: model.cost(of: usage).micros, keyID: scope?.keyID, tenant: scope?.tenant, period: GatewayRouting.period(Date()))
        }
    }
}
