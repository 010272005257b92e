import PhiInference
import Testing

@Suite("SequenceDecoder as a value: inputs in, events out")
struct SequenceDecoderTests {
    func logits(favoring id: Int, vocabulary: Int) -> [Float] {
        var row = [Float](repeating: 0, count: vocabulary)
        row[id] = 10
        return row
    }

    @Test("the prompt is fed in chunks with its end as the scaling length, then each sampled token")
    func chunksThenTokens() throws {
        let model = try LoadedModel.load(path: Fixtures.path("phi3-tiny-gqa/phi3-tiny-gqa-Q8_0.gguf"))
        let vocabulary = model.config.vocabularySize
        let cache = model.model.makeCache()
        var parameters = GenerationParameters.greedy
        parameters.maxTokens = 2
        var decoder = try SequenceDecoder(
            model: model, tokenizer: nil, promptTokens: Array(100..<110), parameters: parameters, capacity: 512,
            prefillChunkTokens: 4)
        var fed: [[Int]] = []
        while decoder.isPrefilling {
            let input = try #require(decoder.nextInput(cache: cache))
            #expect(input.scalingLength == 10)
            fed.append(input.tokens)
            let events = decoder.consume(logits: logits(favoring: 7, vocabulary: vocabulary), seconds: 0.5)
            #expect(events.isEmpty == decoder.isPrefilling)
        }
        #expect(fed == [[100, 101, 102, 103], [104, 105, 106, 107], [108, 109]])
        let input = try #require(decoder.nextInput(cache: cache))
        #expect(input.tokens == [7])
        #expect(input.scalingLength == nil)
        let events = decoder.consume(logits: logits(favoring: 9, vocabulary: vocabulary), seconds: 0.25)
        #expect(events.count == 2)
        guard case .token(let token) = events.first, case .finished(.length, let usage) = events.last else {
            Issue.record("expected a token then finished(length), got \(events)")
            return
        }
        #expect(token.id == 9)
        #expect(usage.completionTokens == 2 && usage.promptTokens == 10 && usage.promptSeconds == 1.5)
        #expect(decoder.isFinished && decoder.nextInput(cache: cache) == nil)
        #expect(decoder.cancel().isEmpty)
    }

    @Test("a prompt longer than the capacity throws contextOverflow with the numbers")
    func overflow() throws {
        let model = try LoadedModel.load(path: Fixtures.path("phi3-tiny-gqa/phi3-tiny-gqa-Q8_0.gguf"))
        #expect(throws: PhiInferenceError.contextOverflow(tokens: 12, contextLength: 10)) {
            _ = try SequenceDecoder(model: model, tokenizer: nil, promptTokens: Array(0..<10), parameters: .greedy,
                                    initialPositions: 2, capacity: 10)
        }
    }
}
