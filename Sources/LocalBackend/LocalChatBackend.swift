// The `local` backend: chat completions answered by the embedded Phi model, plain or streamed token by token,
// through the same `ChatBackend` interface as the remote APIs.

import Foundation
public import Backends
public import Logging
public import OpenAIWire
import PhiInference
import PhiTokenizer
public import PhigateConfig

/// Answers chat completions with a `LocalModelHost`'s engine. Every choice (`n`) is one sequence in the engine's
/// batch; dropping the stream or cancelling the calling task stops them at the next step.
public struct LocalChatBackend: ChatBackend {
    public let name: String
    public var kind: BackendKind { .local }
    public let host: LocalModelHost

    public init(host: LocalModelHost) {
        self.name = host.backendName
        self.host = host
    }

    public func complete(_ request: ChatCompletionRequest, upstreamModel: String, logger: Logger) async throws
        -> ChatCompletionResponse
    {
        let started = try start(request)
        let tokenizer = started.runtime.tokenizer
        let wantsLogprobs = started.plan.wantsLogprobs
        let results = try await withThrowingTaskGroup(of: (Int, CollectedChoice).self) { group in
            for (index, stream) in started.streams.enumerated() {
                group.addTask {
                    var choice = CollectedChoice()
                    for try await event in stream {
                        choice.add(event, tokenizer: tokenizer, logprobs: wantsLogprobs)
                    }
                    return (index, choice)
                }
            }
            var results: [CollectedChoice?] = Array(repeating: nil, count: started.streams.count)
            for try await (index, choice) in group { results[index] = choice }
            return results.compactMap { $0 }
        }
        try Task.checkCancellation()
        let choices = results.enumerated().map { index, choice in
            ChatCompletionResponse.Choice(
                index: index, message: ResponseMessage(content: choice.text), finishReason: choice.finishReason,
                logprobs: wantsLogprobs ? LocalLogprobs.object(choice.logprobs) : nil)
        }
        return ChatCompletionResponse(
            id: Self.completionID(), created: Int(Date().timeIntervalSince1970), model: upstreamModel, choices: choices,
            usage: Usage(
                promptTokens: started.plan.promptTokens.count,
                completionTokens: results.reduce(0) { $0 + $1.completionTokens }))
    }

    public func stream(_ request: ChatCompletionRequest, upstreamModel: String, logger: Logger)
        -> AsyncThrowingStream<ChatStreamEvent, any Error>
    {
        let (output, continuation) = AsyncThrowingStream.makeStream(of: ChatStreamEvent.self)
        let started: Started
        do {
            started = try start(request)
        } catch {
            continuation.finish(throwing: error)
            return output
        }
        let id = Self.completionID()
        let created = Int(Date().timeIntervalSince1970)
        let tokenizer = started.runtime.tokenizer
        let wantsLogprobs = started.plan.wantsLogprobs
        let forwardUsage = request.wantsStreamUsage
        let task = Task {
            func chunk(_ index: Int, _ delta: ChatCompletionChunk.Delta, finish: String? = nil, logprobs: JSONValue? = nil) -> ChatStreamEvent {
                .chunk(ChatCompletionChunk(
                    id: id, created: created, model: upstreamModel,
                    choices: [.init(index: index, delta: delta, finishReason: finish, logprobs: logprobs)]))
            }
            do {
                let completionTokens = try await withThrowingTaskGroup(of: Int.self) { group in
                    for (index, stream) in started.streams.enumerated() {
                        group.addTask {
                            var tokens = 0
                            var sentRole = false
                            for try await event in stream {
                                // The role chunk goes out with the first token, so time to first chunk means
                                // time to first token.
                                if !sentRole {
                                    sentRole = true
                                    continuation.yield(chunk(index, .init(role: "assistant", content: "")))
                                }
                                switch event {
                                case .token(let token):
                                    tokens += 1
                                    let logprobs = wantsLogprobs ? LocalLogprobs.object([LocalLogprobs.entry(token, tokenizer: tokenizer)]) : nil
                                    if !token.text.isEmpty || logprobs != nil {
                                        continuation.yield(chunk(index, .init(content: token.text), logprobs: logprobs))
                                    }
                                case .text(let tail):
                                    if !tail.isEmpty { continuation.yield(chunk(index, .init(content: tail))) }
                                case .finished(let reason, _):
                                    if let finish = LocalChatBackend.finishReason(reason) {
                                        continuation.yield(chunk(index, .init(), finish: finish))
                                    }
                                }
                            }
                            return tokens
                        }
                    }
                    return try await group.reduce(0, +)
                }
                try Task.checkCancellation()
                let usage = Usage(promptTokens: started.plan.promptTokens.count, completionTokens: completionTokens)
                continuation.yield(.usage(usage))
                if forwardUsage {
                    continuation.yield(.chunk(ChatCompletionChunk(id: id, created: created, model: upstreamModel, choices: [], usage: usage)))
                }
                continuation.finish()
            } catch is CancellationError {
                continuation.finish(throwing: CancellationError())
            } catch let error as OpenAIError {
                continuation.finish(throwing: error)
            } catch {
                continuation.finish(throwing: UpstreamFault.streamError(message: "local model: \(error)", afterChunks: 0))
            }
        }
        continuation.onTermination = { _ in task.cancel() }
        return output
    }

    // MARK: - Starting a request

    private struct Started: Sendable {
        var runtime: LocalModelHost.Runtime
        var plan: LocalGenerationPlan
        var streams: [AsyncThrowingStream<GenerationEvent, any Error>]
    }

    /// Plans the request and queues one sequence per choice; every refusal is an OpenAI error (400, 429, 503).
    private func start(_ request: ChatCompletionRequest) throws(OpenAIError) -> Started {
        let runtime = try host.runtime()
        let plan = try runtime.translator.plan(for: request)
        var streams: [AsyncThrowingStream<GenerationEvent, any Error>] = []
        for parameters in plan.choices {
            do {
                streams.append(try runtime.engine.generate(promptTokens: plan.promptTokens, parameters: parameters))
            } catch {
                // Streams already queued end with this function: their sequences are cancelled.
                throw Self.openAIError(error, backend: name)
            }
        }
        return Started(runtime: runtime, plan: plan, streams: streams)
    }

    static func openAIError(_ error: PhiInferenceError, backend: String) -> OpenAIError {
        switch error {
        case .queueFull(let capacity):
            OpenAIError(
                status: 429,
                message: "Backend '\(backend)' is busy: \(capacity) requests are already waiting for the local model. Retry shortly.",
                type: "rate_limit_error", code: "local_queue_full")
        case .contextOverflow(let tokens, let contextLength):
            OpenAIError(
                status: 400,
                message: "This model's maximum context length is \(contextLength) tokens. However, you requested \(tokens) tokens.",
                type: "invalid_request_error", param: "messages", code: "context_length_exceeded")
        case .kvCacheBudgetExceeded(let bytes, let budget):
            OpenAIError(
                status: 400,
                message: "The request needs \(bytes / (1 << 20)) MiB of key/value cache at its worst case, more than backend "
                    + "'\(backend)' has in all (\(budget / (1 << 20)) MiB). Lower max_tokens or shorten the messages.",
                type: "invalid_request_error", param: "max_tokens", code: "kv_cache_budget_exceeded")
        case .engineStopped:
            OpenAIError(status: 503, message: "Backend '\(backend)' is shutting down.", type: "api_error", code: "backend_unavailable")
        case .invalidParameter:
            LocalRequestTranslator.openAIError(error)
        default:
            OpenAIError(status: 500, message: "Backend '\(backend)': \(error.description)", type: "api_error", code: "local_model_error")
        }
    }

    static func finishReason(_ reason: FinishReason) -> String? {
        switch reason {
        case .stop: "stop"
        case .length: "length"
        case .cancelled: nil
        }
    }

    static func completionID() -> String {
        "chatcmpl-local-" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(24)
    }
}

/// One choice's answer, collected from its event stream.
private struct CollectedChoice: Sendable {
    var text = ""
    var finishReason: String?
    var completionTokens = 0
    var logprobs: [JSONValue] = []

    mutating func add(_ event: GenerationEvent, tokenizer: BPETokenizer, logprobs wantsLogprobs: Bool) {
        switch event {
        case .token(let token):
            text += token.text
            completionTokens += 1
            if wantsLogprobs { logprobs.append(LocalLogprobs.entry(token, tokenizer: tokenizer)) }
        case .text(let tail):
            text += tail
        case .finished(let reason, _):
            finishReason = LocalChatBackend.finishReason(reason)
        }
    }
}

/// OpenAI's `logprobs` shape: `{"content":[{"token","logprob","bytes","top_logprobs":[…]}]}`.
enum LocalLogprobs {
    static func object(_ entries: [JSONValue]) -> JSONValue {
        .object(["content": .array(entries), "refusal": .null])
    }

    static func entry(_ token: GeneratedToken, tokenizer: BPETokenizer) -> JSONValue {
        var members = item(id: token.id, logprob: token.logprob ?? 0, tokenizer: tokenizer)
        members["top_logprobs"] = .array(token.topLogprobs.map { .object(item(id: $0.id, logprob: $0.logprob, tokenizer: tokenizer)) })
        return .object(members)
    }

    private static func item(id: Int, logprob: Float, tokenizer: BPETokenizer) -> [String: JSONValue] {
        let bytes = tokenizer.tokenBytes(Int32(clamping: id), skipSpecialTokens: false)
        return [
            "token": .string(String(decoding: bytes, as: UTF8.self)),
            "logprob": .number(Double(logprob)),
            "bytes": .array(bytes.map { .integer(Int64($0)) }),
        ]
    }
}
