import PhiKernels
import Testing

@testable import PhiInference

/// `bench local` times prompts the way the engine runs them: in forward calls of `prefillChunkTokens`, each rotated
/// for the whole prompt's length. With activation quantization every (row, token) product and every query's
/// attention is independent of the other tokens in the call, so the chunks must give the one call's logits exactly.
@Suite("bench local: a prompt prefilled in chunks")
struct LocalBenchmarkPrefillTests {
    @Test(arguments: ["phi3-tiny-gqa/phi3-tiny-gqa-Q4_0.gguf", "phi2-tiny/phi2-tiny-Q4_0.gguf"])
    func chunksGiveTheOneCallLogits(file: String) throws {
        let model = try LoadedModel.load(path: Fixtures.path(file)).model
        let tokens = (0..<23).map { ($0 * 7919 + 13) % model.config.vocabularySize }
        try ComputeSettings.withActivationQuantization(.llamaCpp) {
            let whole = model.makeCache()
            let reference = try LocalBenchmark.prefillPrompt(tokens, model: model, cache: whole, chunk: nil)
            #expect(reference == (try model.forward(tokens, cache: model.makeCache(), logits: .last)))
            for chunk in [4, 5, 22] {
                let cache = model.makeCache()
                let logits = try LocalBenchmark.prefillPrompt(tokens, model: model, cache: cache, chunk: chunk)
                #expect(cache.count == tokens.count, "chunk \(chunk)")
                #expect(logits.map(\.bitPattern) == reference.map(\.bitPattern), "chunk \(chunk)")
            }
        }
    }
}
