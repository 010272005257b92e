import PhiInference
import Testing

@Suite("InferenceEngine")
struct InferenceEngineTests {
    @Test("requests run on the engine thread and stream the same greedy ids as transformers")
    func streamsGreedyIDs() async throws {
        let model = try LoadedModel.load(path: Fixtures.path("phi3-tiny-gqa/phi3-tiny-gqa-F16.gguf"))
        let reference = try ReferenceFile(path: Fixtures.path("phi3-tiny-gqa/phi3-tiny-gqa.reference.json"))
        let engine = InferenceEngine(model: model, tokenizer: nil)
        defer { engine.shutdown() }
        var parameters = GenerationParameters.greedy
        parameters.maxTokens = 24
        let prompt = try #require(reference.inputs["s8"])
        for _ in 0..<2 {
            var ids: [Int] = []
            var reason: FinishReason?
            for try await event in try engine.generate(promptTokens: prompt, parameters: parameters) {
                switch event {
                case .token(let token): ids.append(token.id)
                case .text: break
                case .finished(let r, _): reason = r
                }
            }
            #expect(ids == reference.genIDs)
            #expect(reason == .length)
        }
    }

    @Test("a stopped engine refuses new requests; invalid parameters are rejected up front")
    func stopped() throws {
        let model = try LoadedModel.load(path: Fixtures.path("phi3-tiny-gqa/phi3-tiny-gqa-Q8_0.gguf"))
        let engine = InferenceEngine(model: model, tokenizer: nil, queueCapacity: 1)
        #expect(throws: PhiInferenceError.invalidParameter(name: "top_p", reason: "must be in (0, 1], found 2.0")) {
            _ = try engine.generate(promptTokens: [1], parameters: GenerationParameters(topP: 2))
        }
        engine.shutdown()
        #expect(throws: PhiInferenceError.engineStopped) {
            _ = try engine.generate(promptTokens: [1], parameters: .greedy)
        }
    }
}
