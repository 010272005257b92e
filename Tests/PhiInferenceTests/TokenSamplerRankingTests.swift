@testable import PhiInference
import Testing

/// The sampler ranks only the head of a logit row (`RankedTokens`). These tests compare what it draws from with the
/// straightforward algorithm (`SamplerBenchmark.wholeVocabularyDistribution`: sort the whole vocabulary, then
/// temperature, top-k, top-p and min-p) on vocabularies whose logits spread far beyond the first ranking stage, and
/// check the draws against that distribution.
@Suite("TokenSampler ranking")
struct TokenSamplerRankingTests {
    /// A vocabulary of `count` logits from a seeded generator: a few strong tokens 15–20, a body spread down to −150,
    /// a tie and a masked entry.
    static func vocabulary(_ count: Int, seed: UInt64) -> [Float] {
        var generator = Xoshiro256(seed: seed)
        var logits = (0..<count).map { _ in Float(generator.nextUnitDouble() * 150 - 150) }
        for _ in 0..<8 { logits[Int(generator.next() % UInt64(count))] = Float(generator.nextUnitDouble() * 5 + 15) }
        logits[7] = logits[3]
        logits[11] = -.infinity
        return logits
    }

    static let settings: [GenerationParameters] = [
        GenerationParameters(temperature: 1, seed: 1),
        GenerationParameters(temperature: 0.3, seed: 2),
        GenerationParameters(temperature: 2, seed: 3),
        GenerationParameters(temperature: 8, seed: 4),
        GenerationParameters(temperature: 0.8, topK: 40, seed: 5),
        GenerationParameters(temperature: 1.5, topK: 5_000, seed: 6),
        GenerationParameters(temperature: 1, topP: 0.9, seed: 7),
        GenerationParameters(temperature: 4, topP: 0.999, seed: 8),
        GenerationParameters(temperature: 1.2, minP: 0.05, seed: 9),
        GenerationParameters(temperature: 6, topK: 100, topP: 0.95, minP: 0.001, seed: 10),
    ]

    @Test("the truncated distribution equals sorting the whole vocabulary's", arguments: 0..<settings.count)
    func sameDistributionAsSortingEverything(setting: Int) {
        let parameters = Self.settings[setting]
        let logits = Self.vocabulary(8_192, seed: UInt64(100 + setting))
        var sampler = TokenSampler(parameters: parameters, validTokenCount: logits.count)
        let ranked = sampler.truncatedDistribution(logits)
        let reference = SamplerBenchmark.wholeVocabularyDistribution(logits, parameters)
        #expect(ranked.map(\.id) == reference.map(\.id))
        for (mine, theirs) in zip(ranked, reference) {
            #expect(abs(mine.probability - theirs.probability) <= 1e-12 + 1e-9 * theirs.probability)
        }
    }

    @Test("draws follow the truncated distribution", arguments: [0, 4, 6, 8])
    func drawsFollowTheDistribution(setting: Int) async {
        let parameters = Self.settings[setting]
        // Logits close together, so that many tokens have a visible share.
        let logits = Self.vocabulary(300, seed: UInt64(200 + setting)).map { $0.isFinite ? $0 / 8 : $0 }
        var sampler = TokenSampler(parameters: parameters, validTokenCount: logits.count)
        let distribution = sampler.truncatedDistribution(logits)
        let draws = 10_000
        var counts: [Int: Int] = [:]
        for draw in 0..<draws {
            // Seconds of work in a debug build: give the cooperative threads back now and then.
            if draw % 250 == 0 { await Task.yield() }
            var row = logits
            counts[sampler.sample(&row).id, default: 0] += 1
        }
        let allowed = Set(distribution.map(\.id))
        #expect(Set(counts.keys).isSubset(of: allowed))
        for (id, p) in distribution where p > 0.005 {
            let frequency = Double(counts[id, default: 0]) / Double(draws)
            // Five standard deviations of a binomial share.
            #expect(abs(frequency - p) < 5 * (p * (1 - p) / Double(draws)).squareRoot(), "token \(id)")
        }
    }

    @Test("sort keys order logits high to low, then ids low to high; −0 ties with +0")
    func keysOrderLikeTheComparator() {
        var generator = Xoshiro256(seed: 9)
        var entries: [(logit: Float, id: Int)] = (0..<5_000).map { id in
            (Float(generator.nextUnitDouble() * 2e6 - 1e6) * (id % 3 == 0 ? 1e-30 : 1), id)
        }
        entries += [(0, 5_000), (-0.0, 5_001), (-0.0, 5_002), (.greatestFiniteMagnitude, 5_003),
                    (-.greatestFiniteMagnitude, 5_004), (.leastNonzeroMagnitude, 5_005), (-.leastNonzeroMagnitude, 5_006),
                    (entries[17].logit, 5_007)]
        let byComparator = entries.sorted { $0.logit > $1.logit || ($0.logit == $1.logit && $0.id < $1.id) }.map(\.id)
        let byKey = entries.map { RankedTokens.key(logit: $0.logit, id: $0.id) }.sorted().map { Int($0 & 0xffff_ffff) }
        #expect(byKey == byComparator)
        // The radix sort of large stages: keys in id order, sorted by their logit half only (stable).
        var keys = entries.sorted { $0.id < $1.id }.map { RankedTokens.key(logit: $0.logit, id: $0.id) }
        var scratch: [UInt64] = []
        RankedTokens.radixSortByLogit(&keys, scratch: &scratch)
        #expect(keys.map { Int($0 & 0xffff_ffff) } == byComparator)
    }

    @Test("quickselect moves the k smallest keys to the front", arguments: [1, 2, 17, 999, 1_000])
    func quickselect(count: Int) {
        var generator = Xoshiro256(seed: UInt64(count))
        let keys = (0..<1_000).map { UInt64(generator.next() % 300) << 32 | UInt64($0) }
        var selected = keys
        RankedTokens.moveSmallestToFront(&selected, count)
        #expect(selected[..<count].sorted() == Array(keys.sorted()[..<count]))
    }

    @Test("the first stage ranks only the head of such a vocabulary")
    func firstStageIsSmall() {
        let logits = Self.vocabulary(8_192, seed: 100)
        let best = logits.max()!
        #expect(logits.filter { $0 - best >= -8 }.count < 64)
    }
}

#if canImport(Glibc)
import Glibc
#endif
