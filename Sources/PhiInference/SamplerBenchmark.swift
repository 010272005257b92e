// `phigate bench sampler`: time per sampled token, `TokenSampler` against the straightforward algorithm that sorts
// the whole vocabulary first (kept here only as the baseline), on synthetic logit rows of the Phi vocabulary sizes.

/// Sampling cost per token, measured against a baseline in the same run.
public enum SamplerBenchmark {
    public struct Result: Sendable {
        public var vocabulary: Int
        public var parameters: GenerationParameters
        /// Seconds per token: sort every finite logit, then temperature, top-k, top-p, min-p and the draw.
        public var wholeVocabularySort: Double
        /// Seconds per token of `TokenSampler.sample` (staged ranking).
        public var sampler: Double
        public var speedup: Double { wholeVocabularySort / sampler }
    }

    /// A logit row shaped like a language model's: a normal body (standard deviation 3) and a few strong tokens
    /// 18–22, from a seeded generator.
    public static func logitRow(vocabulary: Int, seed: UInt64 = 1) -> [Float] {
        var generator = Xoshiro256(seed: seed)
        var logits = (0..<vocabulary).map { _ -> Float in
            let u1 = max(generator.nextUnitDouble(), 1e-12), u2 = generator.nextUnitDouble()
            return Float(3 * (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2))
        }
        for i in 0..<5 { logits[(i * 7_919) % vocabulary] = 18 + Float(i) }
        return logits
    }

    /// Times `tokens` samples of one row with each algorithm (after one warm-up sample each).
    public static func run(vocabulary: Int, parameters: GenerationParameters, tokens: Int) -> Result {
        let logits = logitRow(vocabulary: vocabulary)
        var sampler = TokenSampler(parameters: parameters, validTokenCount: vocabulary)
        var generator = Xoshiro256(seed: parameters.seed ?? 0)
        var sink = 0
        var warmRow = logits
        sink &+= sampler.sample(&warmRow).id
        sink &+= wholeVocabularyDraw(logits, parameters, &generator)
        let clock = ContinuousClock()
        var start = clock.now
        for _ in 0..<tokens { sink &+= wholeVocabularyDraw(logits, parameters, &generator) }
        let baseline = (clock.now - start) / tokens
        start = clock.now
        for _ in 0..<tokens {
            var row = logits
            sink &+= sampler.sample(&row).id
        }
        let sampled = (clock.now - start) / tokens
        precondition(sink >= 0)
        return Result(
            vocabulary: vocabulary, parameters: parameters, wholeVocabularySort: baseline.seconds, sampler: sampled.seconds)
    }

    /// The baseline: every finite logit sorted (best first, ties by id), then the same truncations, then the draw.
    static func wholeVocabularyDraw(_ logits: [Float], _ parameters: GenerationParameters, _ generator: inout Xoshiro256) -> Int {
        let kept = wholeVocabularyDistribution(logits, parameters)
        let target = generator.nextUnitDouble()
        var cumulative = 0.0
        for entry in kept {
            cumulative += entry.probability
            if target < cumulative { return entry.id }
        }
        return kept[kept.count - 1].id
    }

    /// What the baseline draws from: ids best first with their probabilities after temperature, top-k, top-p and
    /// min-p (transformers' order), computed over the whole sorted vocabulary.
    static func wholeVocabularyDistribution(_ logits: [Float], _ parameters: GenerationParameters) -> [(id: Int, probability: Double)] {
        let temperature = parameters.temperature
        var candidates = logits.indices.filter { logits[$0] > -.infinity }
        candidates.sort { logits[$0] > logits[$1] || (logits[$0] == logits[$1] && $0 < $1) }
        if parameters.topK > 0, candidates.count > parameters.topK { candidates.removeSubrange(parameters.topK...) }
        let maxScaled = Double(logits[candidates[0]] / temperature)
        var probabilities = candidates.map { exp(Double(logits[$0] / temperature) - maxScaled) }
        var total = probabilities.reduce(0, +)
        if parameters.topP < 1 {
            var cumulative = 0.0
            var keep = probabilities.count
            for (index, p) in probabilities.enumerated() {
                cumulative += p / total
                if cumulative >= Double(parameters.topP) {
                    keep = index + 1
                    break
                }
            }
            candidates.removeSubrange(keep...)
            probabilities.removeSubrange(keep...)
            total = probabilities.reduce(0, +)
        }
        if parameters.minP > 0 {
            let threshold = Double(parameters.minP) * probabilities[0]
            let keep = max(1, probabilities.prefix { $0 >= threshold }.count)
            candidates.removeSubrange(keep...)
            probabilities.removeSubrange(keep...)
            total = probabilities.reduce(0, +)
        }
        return zip(candidates, probabilities).map { ($0, $1 / total) }
    }
}

extension Duration {
    fileprivate var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) * 1e-18
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
