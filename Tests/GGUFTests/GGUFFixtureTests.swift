import Foundation
import GGUF
import Testing

@Suite("GGUF fixtures parse with the metadata and tensors their README describes")
struct GGUFFixtureTests {
    @Test func gpt2VocabularyHasItsTokensAndMerges() throws {
        let file = try GGUFFile(url: Fixtures.url("tokenizer/ggml-vocab-gpt-2.gguf"))
        #expect(file.version == 3)
        #expect(file.architecture == "gpt2")
        #expect(file.string("tokenizer.ggml.model") == "gpt2")
        #expect(file.string("tokenizer.ggml.pre") == "gpt-2")
        let tokens = try #require(file.stringArray("tokenizer.ggml.tokens"))
        #expect(tokens.count == 50257)
        #expect(tokens[0] == "!")
        #expect(tokens[50256] == "<|endoftext|>")
        #expect(file.stringArray("tokenizer.ggml.merges")?.count == 50000)
        #expect(file.intArray("tokenizer.ggml.token_type")?.count == 50257)
        #expect(file.int("tokenizer.ggml.eos_token_id") == 50256)
        #expect(file.float("gpt2.attention.layer_norm_epsilon") == 1e-5)
        #expect(file.tensors.isEmpty)
    }

    @Test func phi3VocabularyHasScoresAndChatTemplate() throws {
        let file = try GGUFFile(url: Fixtures.url("tokenizer/ggml-vocab-phi-3.gguf"))
        #expect(file.architecture == "phi3")
        #expect(file.string("tokenizer.ggml.model") == "llama")
        #expect(try file.requiredStringArray("tokenizer.ggml.tokens").count == 32064)
        #expect(file.floatArray("tokenizer.ggml.scores")?.count == 32064)
        #expect(file.bool("tokenizer.ggml.add_bos_token") == true)
        #expect(file.bool("tokenizer.ggml.add_eos_token") == false)
        #expect(file.int("tokenizer.ggml.bos_token_id") == 1)
        #expect(file.int("tokenizer.ggml.padding_token_id") == 32000)
        #expect(file.string("tokenizer.chat_template")?.hasPrefix("{{ bos_token }}") == true)
        #expect(file.int("phi3.rope.dimension_count") == 96)
        #expect(file.metadataKeys.first == "general.architecture")
        #expect(file.metadataKeys.count == file.metadata.count)
    }

    @Test(arguments: ["F16", "Q8_0", "Q4_0"])
    func phi3TinyGQAHasItsConfigAndTensors(type: String) throws {
        let file = try GGUFFile(url: Fixtures.url("phi/phi3-tiny-gqa/phi3-tiny-gqa-\(type).gguf"))
        #expect(file.architecture == "phi3")
        #expect(try file.requiredInt("phi3.embedding_length") == 64)
        #expect(file.int("phi3.feed_forward_length") == 128)
        #expect(file.int("phi3.block_count") == 2)
        #expect(file.int("phi3.attention.head_count") == 4)
        #expect(file.int("phi3.attention.head_count_kv") == 2)
        #expect(file.int("phi3.rope.dimension_count") == 12)
        #expect(file.float("phi3.rope.freq_base") == 10000)
        #expect(file.float("phi3.attention.layer_norm_rms_epsilon") == 1e-5)
        #expect(file.int("phi3.context_length") == 512)
        #expect(file.stringArray("tokenizer.ggml.tokens")?.count == 32064)
        #expect(file.tensors.count == 14)
        #expect(file.tensor(named: "output.weight") == nil)  // tied embeddings

        let matrixType: GGMLType = ["F16": .f16, "Q8_0": .q8_0, "Q4_0": .q4_0][type]!
        let embd = try file.requiredTensor(named: "token_embd.weight")
        #expect(embd.shape == [64, 32064])
        #expect(embd.type == (type == "Q4_0" ? .q8_0 : matrixType))
        let qkv = try #require(file.tensor(named: "blk.0.attn_qkv.weight"))
        #expect(qkv.shape == [64, 128])  // Q 4×16, K and V 2×16 each
        #expect(qkv.type == matrixType)
        #expect(qkv.rowLength == 64 && qkv.rowCount == 128)
        #expect(file.tensor(named: "blk.1.ffn_up.weight")?.shape == [64, 256])  // gate + up
        #expect(file.tensor(named: "blk.1.ffn_down.weight")?.shape == [128, 64])
        let norm = try #require(file.tensor(named: "output_norm.weight"))
        #expect(norm.shape == [64] && norm.type == .f32)
        for t in file.tensors {
            #expect(t.offset % file.alignment == 0)
            #expect(t.offset >= file.dataOffset && t.offset + t.byteCount <= file.fileSize)
            #expect(file.bytes(of: t).count == t.byteCount)
        }
    }

    @Test func phi2TinyQ4_0HasSplitQKVAndBiases() throws {
        let file = try GGUFFile(url: Fixtures.url("phi/phi2-tiny/phi2-tiny-Q4_0.gguf"))
        #expect(file.architecture == "phi2")
        #expect(file.int("phi2.embedding_length") == 64)
        #expect(file.int("phi2.rope.dimension_count") == 8)
        #expect(file.float("phi2.attention.layer_norm_epsilon") == 1e-5)
        #expect(file.bool("tokenizer.ggml.add_bos_token") == false)
        #expect(file.tensors.count == 33)
        #expect(file.tensor(named: "output.weight")?.type == .q8_0)
        #expect(file.tensor(named: "output.weight")?.shape == [64, 51200])
        #expect(file.tensor(named: "output.bias")?.shape == [51200])
        #expect(file.tensor(named: "token_embd.weight")?.type == .q4_0)
        for name in ["attn_q", "attn_k", "attn_v"] {
            #expect(file.tensor(named: "blk.0.\(name).weight")?.shape == [64, 64])
            #expect(file.tensor(named: "blk.0.\(name).bias")?.type == .f32)
        }
        let types = Dictionary(grouping: file.tensors, by: \.type).mapValues(\.count)
        #expect(types == [.f32: 19, .q4_0: 13, .q8_0: 1])
    }

    @Test func phi2KQ4KMHasQ4KAndQ6KTensors() throws {
        guard let url = Fixtures.shared("phi/phi2-k/phi2-k-Q4_K_M.gguf") else {
            print("skipped: ../shared/fixtures/phi/phi2-k is not beside the clone")
            return
        }
        let file = try GGUFFile(url: url)
        #expect(file.int("phi2.embedding_length") == 256)
        let types = Dictionary(grouping: file.tensors, by: \.type).mapValues(\.count)
        #expect(types == [.f32: 19, .q4_K: 11, .q6_K: 3])
        #expect(file.tensor(named: "output.weight")?.type == .q6_K)
        #expect(file.tensor(named: "blk.1.attn_v.weight")?.type == .q6_K)
        #expect(file.tensor(named: "blk.1.ffn_down.weight")?.shape == [1024, 256])
    }

    @Test func typedAccessorsConvertAndRejectMismatches() throws {
        let file = try GGUFFile(url: Fixtures.url("phi/phi3-tiny-gqa/phi3-tiny-gqa-Q8_0.gguf"))
        #expect(file.int("general.architecture") == nil)
        #expect(file.string("phi3.block_count") == nil)
        #expect(file.double("phi3.block_count") == 2)
        #expect(file.floatArray("tokenizer.ggml.tokens") == nil)
        let missing = #expect(throws: GGUFError.self) { try file.requiredInt("phi3.nope") }
        #expect(missing?.kind == .missingKey)
        #expect(missing?.description == "phi3-tiny-gqa-Q8_0.gguf: key 'phi3.nope': missing: expected an integer")
        let mismatch = #expect(throws: GGUFError.self) { try file.requiredInt("general.name") }
        #expect(mismatch?.kind == .typeMismatch)
        #expect(mismatch?.description.contains("key 'general.name'") == true)
        let noTensor = #expect(throws: GGUFError.self) { try file.requiredTensor(named: "output.weight") }
        #expect(noTensor?.description == "phi3-tiny-gqa-Q8_0.gguf: tensor 'output.weight': tensor not found")
    }

    @Test func ggmlTypeGeometryMatchesGGML() {
        #expect(GGMLType(rawValue: 30) == .bf16)
        #expect(GGMLType(rawValue: 4) == nil)  // removed Q4_2
        let table: [(GGMLType, Int, Int)] = [
            (.f32, 1, 4), (.f16, 1, 2), (.bf16, 1, 2), (.q4_0, 32, 18), (.q4_1, 32, 20), (.q5_0, 32, 22),
            (.q5_1, 32, 24), (.q8_0, 32, 34), (.q8_1, 32, 36), (.q2_K, 256, 84), (.q3_K, 256, 110),
            (.q4_K, 256, 144), (.q5_K, 256, 176), (.q6_K, 256, 210), (.q8_K, 256, 292),
        ]
        for (type, block, bytes) in table {
            #expect(type.blockSize == block && type.bytesPerBlock == bytes, "\(type)")
        }
        #expect(GGMLType.q4_K.name == "q4_K" && GGMLType.iq2_XXS.name == "iq2_xxs" && GGMLType.bf16.name == "bf16")
        #expect(GGMLType.q4_0.byteCount(forElements: 64) == 36)
        #expect(GGMLType.q4_0.byteCount(forElements: 48) == nil)
        #expect(GGMLType.q2_K.isSupportedForCompute == false && GGMLType.q6_K.isSupportedForCompute)
    }
}
