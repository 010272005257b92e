import PhiInference
import Testing

/// transformers' LongRoPE rule on a synthetic phi3 file (original context 8, context 32).
@Suite("LongRoPE")
struct LongRoPETests {
    func models() throws -> (plain: LoadedModel, scaled: LoadedModel) {
        var plain = TinyGGUF()
        plain.contextLength = 32
        var scaled = plain
        // Short factors 1 and attention factor 1: identical to plain RoPE while the sequence fits 8 positions.
        scaled.longRoPE = (short: [1, 1], long: [4, 16], original: 8, attentionFactor: 1)
        return (try LoadedModel.load(path: try plain.written()), try LoadedModel.load(path: try scaled.written()))
    }

    @Test("LongRoPE factors and attention factor come from GGUF tensors and metadata")
    func config() throws {
        var tiny = TinyGGUF()
        tiny.longRoPE = (short: [1, 1.5], long: [4, 16], original: 8, attentionFactor: nil)
        let model = try LoadedModel.load(path: try tiny.written())
        let rope = try #require(model.config.longRoPE)
        #expect(rope.shortFactors == [1, 1.5])
        #expect(rope.longFactors == [4, 16])
        #expect(rope.originalContextLength == 8)
        // Default attention factor: sqrt(1 + ln(32/8) / ln(8)).
        #expect(abs(rope.attentionFactor - Float((1 + log(4.0) / log(8.0)).squareRoot())) < 1e-6)
    }

    @Test("short factors while the sequence fits original_max_position_embeddings, long factors beyond")
    func shortThenLong() throws {
        let (plain, scaled) = try models()
        let eight = [1, 2, 3, 4, 5, 6, 7, 8]
        let a = try plain.model.forward(eight, cache: plain.model.makeCache(), logits: .all)
        let b = try scaled.model.forward(eight, cache: scaled.model.makeCache(), logits: .all)
        #expect(a == b)
        let nine = eight + [9]
        let c = try plain.model.forward(nine, cache: plain.model.makeCache(), logits: .all)
        let d = try scaled.model.forward(nine, cache: scaled.model.makeCache(), logits: .all)
        // A 9-token pass uses long factors at every position, so even position 1 changes.
        #expect(maxAbsDifference(c[16..<32], d[16..<32]) > 1e-4)
    }

    @Test("crossing the boundary while decoding keeps the short-factor keys in the cache (as transformers)")
    func crossingKeepsCache() throws {
        let (plain, scaled) = try models()
        let eight = [1, 2, 3, 4, 5, 6, 7, 8]
        let cache = scaled.model.makeCache()
        _ = try scaled.model.forward(eight, cache: cache, logits: .last)
        let incremental = try scaled.model.forward([9], cache: cache, logits: .last)
        let batched = try scaled.model.forward(eight + [9], cache: scaled.model.makeCache(), logits: .last)
        let plainStep = try plain.model.forward(eight + [9], cache: plain.model.makeCache(), logits: .last)
        // The new token is rotated with long factors (differs from plain RoPE) but attends to keys cached with
        // short factors (differs from re-encoding everything with long factors).
        #expect(maxAbsDifference(incremental, batched) > 1e-4)
        #expect(maxAbsDifference(incremental, plainStep) > 1e-4)
    }
}

#if canImport(Glibc)
import Glibc
#endif
