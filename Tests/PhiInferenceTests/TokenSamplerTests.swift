import PhiInference
import Testing

@Suite("TokenSampler")
struct TokenSamplerTests {
    /// Probabilities 0.5, 0.3, 0.15, 0.05 (log-space logits).
    static let logits: [Float] = [0.5, 0.3, 0.15, 0.05].map { Float(log(Double($0))) }

    func draws(_ parameters: GenerationParameters, count: Int = 300, logits: [Float] = logits) -> [Int] {
        var sampler = TokenSampler(parameters: parameters, validTokenCount: logits.count)
        return (0..<count).map { _ in
            var row = logits
            return sampler.sample(&row).id
        }
    }

    @Test("the same seed gives the same tokens; another seed other tokens")
    func seedReproducibility() {
        let a = draws(GenerationParameters(seed: 42), count: 64)
        let b = draws(GenerationParameters(seed: 42), count: 64)
        let c = draws(GenerationParameters(seed: 43), count: 64)
        #expect(a == b)
        #expect(a != c)
        #expect(Set(a).count > 1)
    }

    @Test("xoshiro256** is deterministic for a seed")
    func prngDeterministic() {
        var a = Xoshiro256(seed: 7)
        var b = Xoshiro256(seed: 7)
        let first = (0..<8).map { _ in a.next() }
        #expect(first == (0..<8).map { _ in b.next() })
        #expect(Set(first).count == 8)
    }

    @Test("greedy picks the argmax, lowest id on ties")
    func greedy() {
        #expect(draws(.greedy, count: 5) == [0, 0, 0, 0, 0])
        #expect(draws(.greedy, count: 1, logits: [1, 3, 3, 2]) == [1])
    }

    @Test("top-k keeps only the k most likely tokens")
    func topK() {
        #expect(Set(draws(GenerationParameters(topK: 2, seed: 1))) == [0, 1])
        #expect(Set(draws(GenerationParameters(topK: 1, seed: 1))) == [0])
    }

    @Test("top-p keeps the smallest set reaching p")
    func topP() {
        #expect(Set(draws(GenerationParameters(topP: 0.75, seed: 2))) == [0, 1])
        #expect(Set(draws(GenerationParameters(topP: 0.9, seed: 2))) == [0, 1, 2])
        #expect(Set(draws(GenerationParameters(topP: 0.4, seed: 2))) == [0])
    }

    @Test("min-p drops tokens below min_p × the top probability")
    func minP() {
        #expect(Set(draws(GenerationParameters(minP: 0.5, seed: 3))) == [0, 1])
        #expect(Set(draws(GenerationParameters(minP: 0.2, seed: 3))) == [0, 1, 2])
    }

    @Test("temperature near zero behaves like greedy; high temperature flattens")
    func temperature() {
        #expect(Set(draws(GenerationParameters(temperature: 0.01, seed: 4))) == [0])
        let hot = draws(GenerationParameters(temperature: 5, seed: 4), count: 400)
        #expect(hot.filter { $0 == 3 }.count > 40)
    }

    @Test("logit bias moves the argmax")
    func logitBias() {
        #expect(draws(GenerationParameters(temperature: 0, logitBias: [3: 100]), count: 1) == [3])
        #expect(draws(GenerationParameters(temperature: 0, logitBias: [0: -100]), count: 1) == [1])
    }

    @Test("repetition penalty divides positive and multiplies negative logits of seen tokens")
    func repetitionPenalty() throws {
        let parameters = GenerationParameters(temperature: 0, repetitionPenalty: 2, topLogprobs: 3)
        var sampler = TokenSampler(parameters: parameters, validTokenCount: 3, promptTokens: [0, 2])
        var row: [Float] = [2, 1.5, -1]
        let token = sampler.sample(&row)
        #expect(token.id == 1)
        let byID = Dictionary(uniqueKeysWithValues: token.topLogprobs.map { ($0.id, $0.logprob) })
        // processed logits: [1, 1.5, -2]
        #expect(abs(try #require(byID[1]) - #require(byID[0]) - 0.5) < 1e-5)
        #expect(abs(try #require(byID[0]) - #require(byID[2]) - 3) < 1e-5)
    }

    @Test("presence and frequency penalties apply to generated tokens")
    func presenceFrequency() throws {
        let parameters = GenerationParameters(
            temperature: 0, presencePenalty: 0.5, frequencyPenalty: 0.25, topLogprobs: 2)
        var sampler = TokenSampler(parameters: parameters, validTokenCount: 2, promptTokens: [1])
        sampler.accept(0)
        sampler.accept(0)
        var row: [Float] = [2, 1.5]
        let token = sampler.sample(&row)
        // token 0: 2 − 0.5 − 2·0.25 = 1.0 < 1.5 (the prompt token 1 is not penalized)
        #expect(token.id == 1)
        let byID = Dictionary(uniqueKeysWithValues: token.topLogprobs.map { ($0.id, $0.logprob) })
        #expect(abs(try #require(byID[1]) - #require(byID[0]) - 0.5) < 1e-5)
    }

    @Test("padding ids beyond the tokenizer and listed unused ids are never produced")
    func paddingMask() {
        var sampler = TokenSampler(parameters: .greedy, validTokenCount: 3, maskedTokenIDs: [1])
        var row: [Float] = [1, 5, 2, 9, 9]
        #expect(sampler.sample(&row).id == 2)
        var hot = TokenSampler(parameters: GenerationParameters(temperature: 10, seed: 5), validTokenCount: 3,
                               maskedTokenIDs: [1])
        for _ in 0..<200 {
            var row: [Float] = [1, 5, 2, 9, 9]
            #expect([0, 2].contains(hot.sample(&row).id))
        }
    }

    @Test("log-probabilities are the log-softmax of the processed logits, best first")
    func logprobs() throws {
        var sampler = TokenSampler(parameters: GenerationParameters(temperature: 0, topLogprobs: 4), validTokenCount: 4)
        var row = Self.logits
        let token = sampler.sample(&row)
        #expect(token.topLogprobs.map(\.id) == [0, 1, 2, 3])
        let expected: [Float] = [0.5, 0.3, 0.15, 0.05].map { Float(log(Double($0))) }
        for (entry, value) in zip(token.topLogprobs, expected) { #expect(abs(entry.logprob - value) < 1e-5) }
        #expect(abs(try #require(token.logprob) - expected[0]) < 1e-5)
    }

    @Test("out-of-range parameters are rejected")
    func validation() {
        #expect(throws: PhiInferenceError.self) { try GenerationParameters(temperature: -1).validate() }
        #expect(throws: PhiInferenceError.self) { try GenerationParameters(topP: 0).validate() }
        #expect(throws: PhiInferenceError.self) { try GenerationParameters(minP: 2).validate() }
        #expect(throws: PhiInferenceError.self) { try GenerationParameters(stopStrings: [""]).validate() }
        #expect(throws: Never.self) { try GenerationParameters().validate() }
    }
}

#if canImport(Glibc)
import Glibc
#endif
