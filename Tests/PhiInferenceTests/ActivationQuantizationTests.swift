import Foundation
import PhiInference
import PhiKernels
import Testing

/// With llama.cpp-style activation quantization (`.llamaCpp`), a quantized file stays within llama.cpp's own
/// distance to `dequant_ref` (the fixtures README's table, max |Δlogit| over all positions); the F16 KV cache's
/// cost against the exact path is measured and bounded by llama.cpp's (README note 5: 4e-3 … 5e-2).
@Suite("activation quantization and F16 KV cache against the references")
struct ActivationQuantizationTests {
    struct Case: CustomTestStringConvertible, Sendable {
        let folder: String
        let type: String
        let shared: Bool
        /// llama.cpp vs dequant-ref, max |Δlogit| (README table).
        let llamaCppTolerance: Float
        var testDescription: String { "\(folder) \(type)" }
    }

    static let cases = [
        Case(folder: "phi3-tiny-gqa", type: "Q8_0", shared: false, llamaCppTolerance: 0.54),
        Case(folder: "phi3-tiny-gqa", type: "Q4_0", shared: false, llamaCppTolerance: 0.79),
        Case(folder: "phi2-tiny", type: "Q4_0", shared: false, llamaCppTolerance: 0.22),
        Case(folder: "phi2-k", type: "Q4_K_M", shared: true, llamaCppTolerance: 0.20),
        Case(folder: "phi3-tiny", type: "Q8_0", shared: true, llamaCppTolerance: 0.64),
    ]

    static func lastLogits(_ model: LoadedModel, _ ids: [Int], precision: KVCachePrecision = .f32) throws -> [Float] {
        // Prompt minus one token batched, then the last one incrementally: exercises both matmul shapes.
        let cache = model.model.makeCache(precision: precision)
        if ids.count > 1 { _ = try model.model.forward(Array(ids.dropLast()), cache: cache, logits: .last) }
        return try model.model.forward([ids.last!], cache: cache, logits: .last)
    }

    static func maxDifference(_ a: [Float], _ b: ArraySlice<Float>) -> Float {
        zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) }
    }

    @Test("quantized activations stay within llama.cpp's distance to dequant_ref", arguments: cases)
    func withinLlamaCppTolerance(_ fixture: Case) throws {
        if fixture.shared && !Fixtures.isSharedAvailable { return }
        let base = "\(fixture.folder)/\(fixture.folder)"
        let model = try LoadedModel.load(path: Fixtures.path("\(base)-\(fixture.type).gguf", shared: fixture.shared))
        let reference = try ReferenceFile(path: Fixtures.path("\(base).reference.json", shared: fixture.shared))
        let dequantRef = try NPYArray(path: Fixtures.path("\(base)-\(fixture.type).dequant_ref.last_logits.npy", shared: fixture.shared))
        let llamaName = "\(base)-\(fixture.type).llama_cpp.last_logits.npy"
        let llama = [Fixtures.path(llamaName, shared: fixture.shared), Fixtures.path(llamaName, shared: true)]
            .first { FileManager.default.fileExists(atPath: $0) }.flatMap { try? NPYArray(path: $0) }
        var worst: Float = 0, worstLlama: Float = 0, worstF16: Float = 0
        for (index, name) in ReferenceFile.sequences.enumerated() {
            let ids = try #require(reference.inputs[name])
            let logits = try ComputeSettings.withActivationQuantization(.llamaCpp) { try Self.lastLogits(model, ids) }
            worst = max(worst, Self.maxDifference(logits, dequantRef.row(index)))
            if let llama { worstLlama = max(worstLlama, Self.maxDifference(logits, llama.row(index))) }
            let exactF16KV = try ComputeSettings.withActivationQuantization(.off) { try Self.lastLogits(model, ids, precision: .f16) }
            worstF16 = max(worstF16, Self.maxDifference(exactF16KV, dequantRef.row(index)))
        }
        print("[act-quant] \(fixture.folder) \(fixture.type): vs dequant_ref \(worst) (llama.cpp \(fixture.llamaCppTolerance)), vs llama.cpp \(worstLlama); exact + F16 KV vs dequant_ref \(worstF16)")
        #expect(worst <= fixture.llamaCppTolerance)
        #expect(worstF16 <= 5e-2)
    }

    @Test("Q4_0 linear weights packed at load (AVX2, AVX-512) give the unpacked model's logits up to float rounding",
          arguments: ["phi2-tiny", "phi3-tiny-gqa"])
    func packed8Weights(_ folder: String) throws {
        let base = "\(folder)/\(folder)"
        let packed = try LoadedModel.load(path: Fixtures.path("\(base)-Q4_0.gguf"))
        let plain = try LoadedModel.load(path: Fixtures.path("\(base)-Q4_0.gguf"), packWeights: false)
        #expect(plain.packedMatrices == 0)
        // Every block's linear layers in these files are Q4_0 with a multiple of 8 rows: qkv, output, up, down.
        if ComputeSettings.level >= .avx2 {
            #expect(packed.packedMatrices >= 4 * packed.config.layerCount, "\(packed.packedMatrices)")
        } else {
            #expect(packed.packedMatrices == 0)
        }
        let reference = try ReferenceFile(path: Fixtures.path("\(base).reference.json"))
        for name in ReferenceFile.sequences {
            let ids = try #require(reference.inputs[name])
            let a = try ComputeSettings.withActivationQuantization(.llamaCpp) { try Self.lastLogits(packed, ids) }
            let b = try ComputeSettings.withActivationQuantization(.llamaCpp) { try Self.lastLogits(plain, ids) }
            let scale = b.map { abs($0) }.max() ?? 1
            #expect(Self.maxDifference(a, b[...]) <= 1e-4 * max(1, scale), "\(folder) \(name)")
        }
    }

    @Test("F16 weights through the on-the-fly kernels match transformers")
    func f16WeightsOnTheFly() throws {
        let base = "phi3-tiny-gqa/phi3-tiny-gqa"
        let model = try LoadedModel.load(path: Fixtures.path("\(base)-F16.gguf"))
        let reference = try ReferenceFile(path: Fixtures.path("\(base).reference.json"))
        let hf = try NPYArray(path: Fixtures.path("\(base).hf.last_logits.npy"))
        var worst: Float = 0
        for (index, name) in ReferenceFile.sequences.enumerated() {
            let ids = try #require(reference.inputs[name])
            let logits = try ComputeSettings.withActivationQuantization(.llamaCpp) { try Self.lastLogits(model, ids) }
            worst = max(worst, Self.maxDifference(logits, hf.row(index)))
        }
        print("[act-quant] phi3-tiny-gqa F16 (f32 activations, weights widened on the fly) vs hf_f32: \(worst)")
        #expect(worst < 1e-3)
    }
}
