// The cascade action: answer with the local model first (its token log-probabilities come for free), judge the
// answer with the policy's `CascadePolicy`, and escalate to the rest of the plan when it looks weak. Streamed
// cascades hold the local answer back until it is accepted, then replay it as chunks.

import Backends
import Foundation
import Logging
import OpenAIWire
import Routing

/// Why a local answer was not used: recorded as the local attempt's fault (`cascade(low_mean_logprob)`).
struct CascadeEscalation: Error, Sendable {
    var reasons: [CascadeReason]

    var label: String { "cascade(" + reasons.map(\.rawValue).joined(separator: ",") + ")" }
}

/// The signals of a finished local answer, read from its OpenAI-shaped response.
enum CascadeSignalReader {
    /// Log-probabilities per token (mean, minimum), the mean entropy estimated from the top alternatives, a required
    /// JSON format that was not produced, and truncation.
    static func signals(of response: ChatCompletionResponse, request: ChatCompletionRequest) -> CascadeSignals {
        var signals = CascadeSignals()
        guard let choice = response.choices.first else { return signals }
        signals.isTruncated = choice.finishReason == "length"
        if let format = request.responseFormat?.type, format == "json_object" || format == "json_schema" {
            let text = choice.message.content ?? ""
            signals.isRequiredFormatMissing = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) == nil
        }
        guard case .array(let entries)? = choice.logprobs?["content"], !entries.isEmpty else { return signals }
        var logprobs: [Double] = []
        var entropies: [Double] = []
        for entry in entries {
            if let value = number(entry["logprob"]) { logprobs.append(value) }
            if case .array(let top)? = entry["top_logprobs"], !top.isEmpty {
                // Entropy over the listed alternatives plus the rest of the mass as one outcome: a lower bound
                // that still ranks confident and unsure steps apart.
                let probabilities = top.compactMap { number($0["logprob"]) }.map { exp($0) }
                let rest = max(0, 1 - probabilities.reduce(0, +))
                entropies.append((probabilities + [rest]).filter { $0 > 0 }.reduce(0) { $0 - $1 * log($1) })
            }
        }
        if !logprobs.isEmpty {
            signals.meanLogprob = logprobs.reduce(0, +) / Double(logprobs.count)
            signals.minLogprob = logprobs.min()
        }
        if !entropies.isEmpty { signals.meanEntropy = entropies.reduce(0, +) / Double(entropies.count) }
        return signals
    }

    private static func number(_ value: JSONValue?) -> Double? {
        switch value {
        case .number(let v)?: v
        case .integer(let v)?: Double(v)
        default: nil
        }
    }
}

extension RoutedBackend {
    /// Alternatives per token asked of the local model for the entropy signal.
    static let cascadeTopLogprobs = 5

    /// Runs the local attempt of a cascade. Returns its answer when the policy accepts it, or nil after recording
    /// the escalation (or the local failure) as the attempt's fault; the caller then tries the remaining attempts.
    func cascadeLocalAnswer(
        _ attempt: Attempt, policy: CascadePolicy, original: ChatCompletionRequest, scope: RoutingRequestScope?, logger: Logger
    ) async throws -> ChatCompletionResponse? {
        var probe = attempt.request
        probe.stream = false
        probe.streamOptions = nil
        probe.logprobs = true
        probe.topLogprobs = max(original.topLogprobs ?? 0, Self.cascadeTopLogprobs)
        // The local model cannot constrain its output; the format is checked on the answer instead.
        probe.responseFormat = nil
        let response: ChatCompletionResponse
        do {
            response = try await attempt.model.backend.complete(probe, upstreamModel: attempt.model.upstreamName, logger: logger)
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            scope?.recordFailedAttempt(attempt.model, error: error)
            return nil
        }
        let signals = CascadeSignalReader.signals(of: response, request: original)
        switch policy.decision(for: signals) {
        case .accept:
            scope?.set(answeredBy: attempt.model)
            var answer = response
            if original.logprobs != true {
                for i in answer.choices.indices { answer.choices[i].logprobs = nil }
            }
            return answer
        case .escalate(let reasons):
            logger.debug("Cascade escalates the local answer", metadata: ["cascade.reasons": .string(reasons.map(\.rawValue).joined(separator: ","))])
            scope?.recordFailedAttempt(attempt.model, error: CascadeEscalation(reasons: reasons))
            return nil
        }
    }

    /// The cascade's split of a plan: the local attempt first, then what escalation may try; nil when the plan has no
    /// local attempt followed by another one (the plan then runs as usual).
    static func cascadeSplit(_ attempts: [Attempt], scope: RoutingRequestScope?) -> (policy: CascadePolicy, local: Attempt, rest: [Attempt])? {
        guard case .route(_, _, let policy?)? = scope?.decision?.outcome, attempts.count > 1,
              let first = attempts.first, first.model.backend.kind == .local
        else { return nil }
        return (policy, first, Array(attempts.dropFirst()))
    }

    /// An accepted answer replayed as the chunks of a stream (role, content, finish, then usage).
    static func replay(_ response: ChatCompletionResponse, request: ChatCompletionRequest, into continuation: AsyncThrowingStream<ChatStreamEvent, any Error>.Continuation) {
        for choice in response.choices {
            let chunk = { (delta: ChatCompletionChunk.Delta, finish: String?, logprobs: JSONValue?) in
                ChatCompletionChunk(
                    id: response.id, created: response.created, model: response.model,
                    choices: [.init(index: choice.index, delta: delta, finishReason: finish, logprobs: logprobs)])
            }
            continuation.yield(.chunk(chunk(.init(role: "assistant", content: ""), nil, nil)))
            continuation.yield(.chunk(chunk(.init(content: choice.message.content ?? ""), nil, choice.logprobs)))
            continuation.yield(.chunk(chunk(.init(), choice.finishReason ?? "stop", nil)))
        }
        if let usage = response.usage {
            continuation.yield(.usage(usage))
            if request.wantsStreamUsage {
                continuation.yield(.chunk(ChatCompletionChunk(
                    id: response.id, created: response.created, model: response.model, choices: [], usage: usage)))
            }
        }
    }
}
