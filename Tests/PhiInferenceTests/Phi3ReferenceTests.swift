import Foundation
import PhiInference
import Testing

/// phi3-tiny-gqa (GQA 2:1, partial rotary 0.75, tied embeddings) against transformers float32.
@Suite("phi3 against transformers")
struct Phi3ReferenceTests {
    static let folder = "phi3-tiny-gqa"

    @Test("safetensors folder and F16 GGUF: argmax at every position, last logits and greedy ids match transformers",
          arguments: ["hf", "phi3-tiny-gqa-F16.gguf"])
    func matchesTransformers(file: String) throws {
        let model = try LoadedModel.load(path: Fixtures.path("\(Self.folder)/\(file)"))
        let reference = try ReferenceFile(path: Fixtures.path("\(Self.folder)/\(Self.folder).reference.json"))
        let last = try NPYArray(path: Fixtures.path("\(Self.folder)/\(Self.folder).hf.last_logits.npy"))
        let report = try ReferenceCheck.run(
            model: model, reference: reference, lastLogits: last, argmax: reference.argmax,
            minGaps: reference.argmaxMinTop2Gap, tolerance: 1e-3, label: "\(Self.folder) \(file) vs hf_f32"
        )
        #expect(report.maxLastDifference < 1e-3)
        let generated = try ReferenceCheck.greedy(model: model, prompt: try #require(reference.inputs["s8"]), count: 24)
        #expect(generated == reference.genIDs)
    }
}
