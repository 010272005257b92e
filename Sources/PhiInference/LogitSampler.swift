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
    /// Scratch for `draw`, kept between tokens.
    private var ranked = RankedTokens()

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

    /// What is left to draw from after temperature, top-k, top-p and min-p.
    private enum Truncation {
        /// The first `limit` ranks (best first, ties by id), whose weights sum to `total`.
        case ranked(limit: Int, total: Double)
        /// Every id whose weight is at least `floor` (min-p; 0 keeps every finite logit), walked in id order.
        case all(floor: Double, total: Double)
    }

    /// Temperature, top-k, top-p, min-p, then a draw from what is left. Only the ranks these steps look at are
    /// sorted (`RankedTokens`); without top-k and top-p no order is needed and the draw walks the ids in order.
    private mutating func draw(_ logits: [Float]) -> Int {
        switch truncate(logits) {
        case nil:
            return Self.argmax(logits)
        case .all(let floor, let total):
            return ranked.idOrderDraw(target: generator.nextUnitDouble() * total, floor: floor)
        case .ranked(let limit, let total):
            let target = generator.nextUnitDouble() * total
            var cumulative = 0.0
            for rank in 0..<limit {
                cumulative += ranked.weight(at: rank, logits)
                if target < cumulative { return ranked.id(at: rank, logits) }
            }
            return ranked.id(at: limit - 1, logits)
        }
    }

    /// Applies top-k, top-p and min-p (in that order) to `logits` at the sampler's temperature; nil when no token
    /// can be drawn.
    private mutating func truncate(_ logits: [Float]) -> Truncation? {
        guard ranked.reset(logits, temperature: parameters.temperature) else { return nil }
        // The best token's weight is exp(0) = 1, so min_p × it is min_p.
        let minWeight = Double(parameters.minP)
        var limit = ranked.finiteCount
        var total = ranked.totalWeight
        if parameters.topK > 0, parameters.topK < limit {
            limit = parameters.topK
            ranked.rankTop(limit, logits)
            total = ranked.prefixWeight(limit, logits)
        } else if parameters.topP >= 1 {
            guard minWeight > 0 else { return .all(floor: 0, total: total) }
            return .all(floor: minWeight, total: ranked.totalWeight(atLeast: minWeight))
        }
        if parameters.topP < 1 {
            // The smallest prefix whose share of the top-k weight reaches top_p.
            var cumulative = 0.0
            for rank in 0..<limit {
                cumulative += ranked.weight(at: rank, logits) / total
                if cumulative >= Double(parameters.topP) {
                    limit = rank + 1
                    break
                }
            }
            total = ranked.prefixWeight(limit, logits)
        }
        if minWeight > 0 {
            var keep = 1
            while keep < limit && ranked.weight(at: keep, logits) >= minWeight { keep += 1 }
            if keep < limit {
                limit = keep
                total = ranked.prefixWeight(limit, logits)
            }
        }
        return .ranked(limit: limit, total: total)
    }

    /// The distribution `sample` draws from at temperature > 0: ids best first with their probabilities.
    mutating func truncatedDistribution(_ logits: [Float]) -> [(id: Int, probability: Double)] {
        var row = logits
        process(&row)
        switch truncate(row) {
        case nil:
            return []
        case .all(let floor, let total):
            return ranked.ranked(atLeast: floor, row).map { ($0.id, $0.weight / total) }
        case .ranked(let limit, let total):
            return (0..<limit).map { (ranked.id(at: $0, row), ranked.weight(at: $0, row) / total) }
        }
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
