import PhiInference
import PhiTokenizer
import Testing

@Suite("Generator on phi3-tiny-gqa")
struct GeneratorTests {
    static let gguf = Fixtures.path("phi3-tiny-gqa/phi3-tiny-gqa-F16.gguf")

    func setUp() throws -> (LoadedModel, BPETokenizer, ReferenceFile) {
        let model = try LoadedModel.load(path: Self.gguf)
        let tokenizer = try model.loadTokenizer()
        let reference = try ReferenceFile(path: Fixtures.path("phi3-tiny-gqa/phi3-tiny-gqa.reference.json"))
        return (model, tokenizer, reference)
    }

    func collect(_ generator: Generator) throws -> (ids: [Int], text: String, reason: FinishReason?, usage: GenerationUsage?) {
        var ids: [Int] = []
        var text = ""
        var reason: FinishReason?
        var usage: GenerationUsage?
        try generator.run { event in
            switch event {
            case .token(let token):
                ids.append(token.id)
                text += token.text
            case .text(let tail):
                text += tail
            case .finished(let r, let u):
                reason = r
                usage = u
            }
        }
        return (ids, text, reason, usage)
    }

    @Test("greedy generation reproduces transformers' 24 ids; max tokens finishes with length")
    func greedyMatchesReference() throws {
        let (model, tokenizer, reference) = try setUp()
        let prompt = try #require(reference.inputs["s8"])
        var parameters = GenerationParameters.greedy
        parameters.maxTokens = 24
        let result = try collect(Generator(model: model, tokenizer: tokenizer, promptTokens: prompt, parameters: parameters))
        #expect(result.ids == reference.genIDs)
        #expect(result.reason == .length)
        #expect(result.usage?.promptTokens == prompt.count)
        #expect(result.usage?.completionTokens == 24)
        #expect(result.text == tokenizer.decode(reference.genIDs.map(Int32.init)))
    }

    @Test("a stop token id ends generation with stop and is not emitted")
    func stopTokenID() throws {
        let (model, tokenizer, reference) = try setUp()
        var parameters = GenerationParameters.greedy
        parameters.stopTokenIDs = [reference.genIDs[3]]
        let result = try collect(Generator(model: model, tokenizer: tokenizer,
                                           promptTokens: try #require(reference.inputs["s8"]), parameters: parameters))
        #expect(result.ids == Array(reference.genIDs.prefix(3)))
        #expect(result.reason == .stop)
    }

    @Test("a stop string across token boundaries ends generation; text before it is emitted")
    func stopString() throws {
        let (model, tokenizer, reference) = try setUp()
        let full = tokenizer.decode(reference.genIDs.prefix(8).map(Int32.init))
        let scalars = Array(full.unicodeScalars)
        try #require(scalars.count > 12)
        // A stop string that straddles the middle of the text.
        let start = scalars.count / 2 - 2
        var stop = String.UnicodeScalarView()
        stop.append(contentsOf: scalars[start..<(start + 4)])
        var before = String.UnicodeScalarView()
        before.append(contentsOf: scalars[..<start])
        var parameters = GenerationParameters.greedy
        parameters.stopStrings = [String(stop)]
        parameters.maxTokens = 24
        let result = try collect(Generator(model: model, tokenizer: tokenizer,
                                           promptTokens: try #require(reference.inputs["s8"]), parameters: parameters))
        #expect(result.reason == .stop)
        #expect(result.text == String(before))
        #expect(result.ids.count < 8)
    }

    @Test("a cancelled generator finishes with cancelled between tokens")
    func cancellation() throws {
        let (model, tokenizer, reference) = try setUp()
        let generator = try Generator(model: model, tokenizer: tokenizer,
                                      promptTokens: try #require(reference.inputs["s8"]), parameters: .greedy)
        var events: [GenerationEvent] = []
        while let event = try generator.next() {
            events.append(event)
            if events.count == 2 { generator.cancellation.cancel() }
        }
        guard case .finished(.cancelled, let usage) = events.last else {
            Issue.record("expected cancelled, got \(String(describing: events.last))")
            return
        }
        #expect(usage.completionTokens == 2)
    }

    @Test("seeded sampling is reproducible through the generator")
    func seeded() throws {
        let (model, tokenizer, reference) = try setUp()
        let prompt = try #require(reference.inputs["s8"])
        let parameters = GenerationParameters(maxTokens: 12, temperature: 0.9, topP: 0.95, seed: 1234, topLogprobs: 2)
        let a = try collect(Generator(model: model, tokenizer: tokenizer, promptTokens: prompt, parameters: parameters))
        let b = try collect(Generator(model: model, tokenizer: tokenizer, promptTokens: prompt, parameters: parameters))
        #expect(a.ids == b.ids)
        #expect(a.ids.count == 12)
        #expect(a.ids.allSatisfy { $0 < 32011 })
    }

    @Test("a prompt longer than the context fails with a clear error; a full cache finishes with length")
    func contextLimit() throws {
        let (model, tokenizer, reference) = try setUp()
        let prompt = try #require(reference.inputs["s8"])
        let small = model.model.makeCache(capacity: 8)
        #expect(throws: PhiInferenceError.contextOverflow(tokens: 11, contextLength: 8)) {
            _ = try model.model.forward(prompt, cache: small, logits: .last)
        }
        #expect(small.count == 0)
        let error = PhiInferenceError.contextOverflow(tokens: 11, contextLength: 8)
        #expect(error.description == "the sequence needs 11 tokens but the model's context length is 8")
        #expect(throws: PhiInferenceError.contextOverflow(tokens: 11, contextLength: 8)) {
            _ = try Generator(model: model, tokenizer: tokenizer, promptTokens: prompt, parameters: .greedy,
                              cache: model.model.makeCache(capacity: 8))
        }
        let long = Array(repeating: 450, count: model.config.contextLength + 1)
        #expect(throws: PhiInferenceError.contextOverflow(tokens: 513, contextLength: 512)) {
            _ = try model.model.forward(long, cache: model.model.makeCache(), logits: .last)
        }
        let result = try collect(Generator(model: model, tokenizer: tokenizer, promptTokens: prompt, parameters: .greedy,
                                           cache: model.model.makeCache(capacity: 13)))
        #expect(result.reason == .length)
        #expect(result.ids == Array(reference.genIDs.prefix(3)))
    }

    @Test("token ids outside the vocabulary are rejected")
    func invalidToken() throws {
        let (model, _, _) = try setUp()
        #expect(throws: PhiInferenceError.invalidTokenID(40000, vocabularySize: 32064)) {
            _ = try model.model.forward([1, 40000], cache: model.model.makeCache(), logits: .last)
        }
    }
}
