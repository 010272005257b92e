// Token selection from logits: transformers' logits processors (repetition penalty, temperature, top-k, top-p,
// min-p, in that order) plus OpenAI's presence/frequency penalties, logit bias and log-probabilities.

/// The log-probability of one token.
public struct TokenLogprob: Sendable, Equatable {
    public var id: Int
    public var logprob: Float

    public init(id: Int, logprob: Float) {
        self.id = id
        self.logprob = logprob
    }
}

/// A chosen token with its log-probability and the most likely alternatives (when requested).
public struct SampledToken: Sendable, Equatable {
    public var id: Int
    /// Log-probability of `id` under the processed distribution (nil unless log-probabilities were requested).
    public var logprob: Float?
    /// The `topLogprobs` most likely tokens, best first.
    public var topLogprobs: [TokenLogprob]
}

/// Picks the next token from a row of logits.
public protocol LogitSampler: Sendable {
    /// Chooses a token; `logits` is scratch and may be modified.
    mutating func sample(_ logits: inout [Float]) -> SampledToken
    /// Records a generated token (for the penalties).
    mutating func accept(_ id: Int)
}

/// The sampling pipeline used by the engine.
///
/// Order: padding mask → logit bias → repetition penalty (prompt + generated) → presence / frequency
/// penalties (generated) → [log-probabilities: log-softmax at this point, before temperature and truncation,
/// as OpenAI reports them] → greedy argmax when temperature is 0, otherwise temperature → top-k → top-p →
/// min-p → draw with `Xoshiro256`.
public struct TokenSampler: LogitSampler {
    public let parameters: GenerationParameters
    /// Ids at or above this are never produced by the tokenizer (padding rows of the embedding) and are masked.
    public let validTokenCount: Int
    /// Further ids the tokenizer never produces (e.g. `[PAD…]` entries inside the vocabulary).
    public let maskedTokenIDs: Set<Int>
    private var generator: Xoshiro256
    private var seenTokens: Set<Int>
    private var generatedCounts: [Int: Int] = [:]

    public init(
        parameters: GenerationParameters, validTokenCount: Int, maskedTokenIDs: Set<Int> = [],
        promptTokens: [Int] = []
    ) {
        self.parameters = parameters
        self.validTokenCount = validTokenCount
        self.maskedTokenIDs = maskedTokenIDs
        var seed = parameters.seed ?? 0
        if parameters.seed == nil {
            var system = SystemRandomNumberGenerator()
            seed = system.next()
        }
        self.generator = Xoshiro256(seed: seed)
        self.seenTokens = Set(promptTokens)
    }

    public mutating func accept(_ id: Int) {
        seenTokens.insert(id)
        generatedCounts[id, default: 0] += 1
    }

    public mutating func sample(_ logits: inout [Float]) -> SampledToken {
        process(&logits)
        var result = SampledToken(id: 0, logprob: nil, topLogprobs: [])
        var logSoftmax: [Float] = []
        if parameters.topLogprobs != nil {
            logSoftmax = Self.logSoftmax(logits)
        }
        if parameters.temperature == 0 {
            result.id = Self.argmax(logits)
        } else {
            result.id = draw(logits)
        }
        if let count = parameters.topLogprobs {
            result.logprob = logSoftmax[result.id]
            result.topLogprobs = Self.top(count, of: logSoftmax).map { TokenLogprob(id: $0, logprob: logSoftmax[$0]) }
        }
        return result
    }

    /// Applies mask, bias and penalties in place.
    func process(_ logits: inout [Float]) {
        let n = logits.count
        if validTokenCount < n {
            for i in validTokenCount..<n { logits[i] = -.infinity }
        }
        for id in maskedTokenIDs where id >= 0 && id < n { logits[id] = -.infinity }
        for (id, bias) in parameters.logitBias where id >= 0 && id < n { logits[id] += bias }
        let penalty = parameters.repetitionPenalty
        if penalty != 1 {
            for id in seenTokens where id >= 0 && id < n {
                logits[id] = logits[id] < 0 ? logits[id] * penalty : logits[id] / penalty
            }
        }
        if parameters.presencePenalty != 0 || parameters.frequencyPenalty != 0 {
            for (id, count) in generatedCounts where id >= 0 && id < n {
                logits[id] -= parameters.presencePenalty + parameters.frequencyPenalty * Float(count)
            }
        }
    }

    /// Temperature, top-k, top-p, min-p, then a draw from what is left.
    private mutating func draw(_ logits: [Float]) -> Int {
        let temperature = parameters.temperature
        var candidates = logits.indices.filter { logits[$0] > -.infinity }
        guard !candidates.isEmpty else { return Self.argmax(logits) }
        // Best first; ties by id so the order never depends on the sort algorithm.
        candidates.sort { logits[$0] > logits[$1] || (logits[$0] == logits[$1] && $0 < $1) }
        if parameters.topK > 0, candidates.count > parameters.topK {
            candidates.removeSubrange(parameters.topK...)
        }
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
        let target = generator.nextUnitDouble() * total
        var cumulative = 0.0
        for (index, p) in probabilities.enumerated() {
            cumulative += p
            if target < cumulative { return candidates[index] }
        }
        return candidates[candidates.count - 1]
    }

    /// Index of the largest value (the lowest index among equals).
    public static func argmax(_ values: [Float]) -> Int {
        var best = 0
        var bestValue = -Float.infinity
        for (i, v) in values.enumerated() where v > bestValue {
            best = i
            bestValue = v
        }
        return best
    }

    /// log(softmax(values)), computed in Double.
    public static func logSoftmax(_ values: [Float]) -> [Float] {
        let maximum = values.max() ?? 0
        guard maximum > -.infinity else { return values }
        var sum = 0.0
        for v in values { sum += exp(Double(v - maximum)) }
        let logSum = Double(maximum) + log(sum)
        return values.map { Float(Double($0) - logSum) }
    }

    /// Indices of the `count` largest values, best first (ties by index).
    static func top(_ count: Int, of values: [Float]) -> [Int] {
        guard count > 0 else { return [] }
        var best: [Int] = []
        for i in values.indices {
            if best.count == count, let last = best.last, values[i] <= values[last] { continue }
            var position = best.count
            while position > 0 && values[best[position - 1]] < values[i] { position -= 1 }
            best.insert(i, at: position)
            if best.count > count { best.removeLast() }
        }
        return best
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
