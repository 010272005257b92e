import Foundation
import PhiInference
import Testing

@Suite("model configuration and loading")
struct ModelConfigTests {
    func message(_ body: () throws -> Void) -> String {
        do {
            try body()
            return ""
        } catch {
            return "\(error)"
        }
    }

    @Test("phi3 configuration from the fixture GGUF and config.json agree")
    func fixtureConfigs() throws {
        let gguf = try LoadedModel.load(path: Fixtures.path("phi3-tiny-gqa/phi3-tiny-gqa-F16.gguf"))
        let hf = try LoadedModel.load(path: Fixtures.path("phi3-tiny-gqa/hf"))
        #expect(gguf.config == hf.config)
        #expect(hf.config.ropeDimension == 12)
        #expect(hf.config.kvHeadCount == 2)
        #expect(hf.config.tieWordEmbeddings)
        #expect(hf.specialTokens == SpecialTokenIDs(bos: 1, eos: [32000]))
        let phi2 = try LoadedModel.load(path: Fixtures.path("phi2-tiny/phi2-tiny-Q4_0.gguf"))
        #expect(phi2.config.architecture == .phi2)
        #expect(phi2.config.ropeDimension == 8)
        #expect(!phi2.config.tieWordEmbeddings)
        #expect(phi2.config.vocabularySize == 51200)
    }

    @Test("config.json with transformers-4 longrope rope_scaling and partial rotary")
    func longRoPEConfigJSON() throws {
        let json = """
        {"model_type":"phi3","hidden_size":64,"intermediate_size":128,"num_hidden_layers":2,"num_attention_heads":4,
         "num_key_value_heads":2,"max_position_embeddings":131072,"original_max_position_embeddings":4096,
         "rms_norm_eps":1e-5,"rope_theta":10000.0,"partial_rotary_factor":0.75,"vocab_size":100,
         "tie_word_embeddings":true,
         "rope_scaling":{"type":"longrope","short_factor":[1,1,1,1,1,1],"long_factor":[2,2,2,2,2,2]}}
        """
        let config = try PhiModelConfig(huggingFaceConfig: Data(json.utf8), source: "config.json")
        let rope = try #require(config.longRoPE)
        #expect(config.ropeDimension == 12)
        #expect(rope.originalContextLength == 4096)
        #expect(rope.longFactors == Array(repeating: 2, count: 6))
        // sqrt(1 + ln(32) / ln(4096))
        #expect(abs(rope.attentionFactor - Float((1 + log(32.0) / log(4096.0)).squareRoot())) < 1e-6)
        let short = json.replacingOccurrences(of: "\"long_factor\":[2,2,2,2,2,2]", with: "\"long_factor\":[2,2]")
        let text = message { _ = try PhiModelConfig(huggingFaceConfig: Data(short.utf8), source: "config.json") }
        #expect(text == "config.json: rope_scaling.long_factor: expected 6 values (rope dimension / 2), found 2")
    }

    @Test("unknown architectures and missing keys are named")
    func configErrors() throws {
        let llama = #"{"model_type":"llama","hidden_size":8}"#
        #expect(message { _ = try PhiModelConfig(huggingFaceConfig: Data(llama.utf8), source: "c.json") }
                == "c.json: unsupported architecture 'llama' (supported: phi2, phi3)")
        var tiny = TinyGGUF()
        tiny.architecture = "llama"
        let path = try tiny.written()
        #expect(message { _ = try LoadedModel.load(path: path) }.contains("unsupported architecture 'llama'"))
        var missing = TinyGGUF()
        missing.skipKeys = ["phi3.attention.head_count"]
        let missingPath = try missing.written()
        #expect(message { _ = try LoadedModel.load(path: missingPath) }.hasSuffix("phi3.attention.head_count: missing"))
    }

    @Test("a tensor whose shape does not match the configuration is named with both shapes")
    func wrongShape() throws {
        var tiny = TinyGGUF()
        tiny.shapeOverrides = ["blk.0.attn_qkv.weight": [8, 12]]
        let path = try tiny.written()
        let text = message { _ = try LoadedModel.load(path: path) }
        #expect(text.contains("tensor 'blk.0.attn_qkv.weight': expected 8×16 f32, found 8×12 f32"), "\(text)")
    }

    @Test("GGUF ↔ Hugging Face tensor names round-trip")
    func tensorNames() {
        let pairs: [(String, String, PhiArchitecture)] = [
            ("blk.3.attn_qkv.weight", "model.layers.3.self_attn.qkv_proj.weight", .phi3),
            ("blk.0.ffn_up.weight", "model.layers.0.mlp.gate_up_proj.weight", .phi3),
            ("output_norm.weight", "model.norm.weight", .phi3),
            ("blk.1.attn_q.bias", "model.layers.1.self_attn.q_proj.bias", .phi2),
            ("blk.1.attn_output.weight", "model.layers.1.self_attn.dense.weight", .phi2),
            ("output_norm.bias", "model.final_layernorm.bias", .phi2),
            ("output.bias", "lm_head.bias", .phi2),
        ]
        for (gguf, hf, architecture) in pairs {
            #expect(TensorNames.huggingFaceName(forGGUF: gguf, architecture: architecture) == hf)
            #expect(TensorNames.ggufName(forHuggingFace: hf, architecture: architecture) == gguf)
        }
        #expect(TensorNames.huggingFaceName(forGGUF: "rope_factors_long.weight", architecture: .phi3) == nil)
    }

    @Test("phi2 files with fused attn_qkv and with split attn_q/k/v give the same logits")
    func phi2Layouts() throws {
        var split = TinyGGUF()
        split.architecture = "phi2"
        split.kvHeads = 2
        var fused = split
        fused.fusedQKV = true
        let a = try LoadedModel.load(path: try split.written())
        let b = try LoadedModel.load(path: try fused.written())
        let tokens = [1, 5, 9, 2, 7]
        let x = try a.model.forward(tokens, cache: a.model.makeCache(), logits: .all)
        let y = try b.model.forward(tokens, cache: b.model.makeCache(), logits: .all)
        #expect(x.count == tokens.count * 16)
        #expect(x == y)
    }

    @Test("incremental decoding with the KV cache equals one batched pass")
    func incrementalEqualsBatched() throws {
        for architecture in ["phi2", "phi3"] {
            var tiny = TinyGGUF()
            tiny.architecture = architecture
            if architecture == "phi2" { tiny.kvHeads = 2 }
            let model = try LoadedModel.load(path: try tiny.written())
            let tokens = [3, 1, 4, 1, 5, 9, 2, 6]
            let all = try model.model.forward(tokens, cache: model.model.makeCache(), logits: .all)
            let cache = model.model.makeCache()
            var last: [Float] = try model.model.forward(Array(tokens.prefix(3)), cache: cache, logits: .last)
            for token in tokens.dropFirst(3) {
                last = try model.model.forward([token], cache: cache, logits: .last)
            }
            #expect(cache.count == tokens.count)
            #expect(maxAbsDifference(last, all.suffix(16)) < 1e-5, "\(architecture)")
        }
    }
}
