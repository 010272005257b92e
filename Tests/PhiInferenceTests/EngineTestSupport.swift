import PhiInference
import PhiKernels
import Synchronization

/// What one streamed request produced.
struct StreamResult: Sendable {
    var ids: [Int] = []
    var text = ""
    var reason: FinishReason?
    var usage: GenerationUsage?
}

/// Consumes a stream to the end; `onToken(count)` after each token (count so far).
func collect(
    _ stream: AsyncThrowingStream<GenerationEvent, any Error>, onToken: (Int) -> Void = { _ in }
) async throws -> StreamResult {
    var result = StreamResult()
    for try await event in stream {
        switch event {
        case .token(let token):
            result.ids.append(token.id)
            result.text += token.text
            onToken(result.ids.count)
        case .text(let text): result.text += text
        case .finished(let reason, let usage):
            result.reason = reason
            result.usage = usage
        }
    }
    return result
}

/// The ids `Generator` produces alone for `prompt` (with the engine's default numerics).
func generatorIDs(
    _ model: LoadedModel, prompt: [Int], parameters: GenerationParameters,
    prefillChunkTokens: Int = SequenceDecoder.defaultPrefillChunkTokens
) throws -> [Int] {
    try ComputeSettings.withActivationQuantization(EngineComputeOptions().activationQuantization) {
        let generator = try Generator(model: model, tokenizer: nil, promptTokens: prompt, parameters: parameters,
                                      prefillChunkTokens: prefillChunkTokens)
        var ids: [Int] = []
        try generator.run { if case .token(let token) = $0 { ids.append(token.id) } }
        return ids
    }
}

/// Greedy parameters that never stop early on an end-of-sequence id.
func greedy(maxTokens: Int?) -> GenerationParameters {
    var parameters = GenerationParameters.greedy
    parameters.maxTokens = maxTokens
    parameters.ignoreEOS = true
    return parameters
}

/// Waits (yielding) until `condition` holds; false after `limit` tries of 5 ms.
func eventually(limit: Int = 2000, _ condition: () -> Bool) async -> Bool {
    for _ in 0..<limit {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(5))
    }
    return condition()
}
