import Foundation
import GGUF
import Testing
import PhiTokenizer

/// Malformed tokenizer metadata fails with an error naming the key.
@Suite struct LoadingErrorTests {
    static func gguf(_ edit: (inout GGUFWriter) -> Void) throws -> GGUFFile {
        var writer = GGUFWriter()
        writer.set("general.architecture", .string("phi2"))
        writer.set("tokenizer.ggml.model", .string("gpt2"))
        writer.set("tokenizer.ggml.pre", .string("phi-2"))
        writer.set("tokenizer.ggml.tokens", .array(.string, ["a", "b", "ab", "<|endoftext|>"].map { .string($0) }))
        writer.set("tokenizer.ggml.token_type", .array(.int32, [1, 1, 1, 3].map { .int32($0) }))
        writer.set("tokenizer.ggml.merges", .array(.string, [.string("a b")]))
        writer.set("tokenizer.ggml.eos_token_id", .uint32(3))
        edit(&writer)
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("phitokenizer-\(UUID().uuidString).gguf")
        try writer.write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        return try GGUFFile(url: url)
    }

    static func loadError(_ file: GGUFFile) -> TokenizerError? {
        do {
            _ = try BPETokenizer(gguf: file)
            return nil
        } catch {
            return error
        }
    }

    @Test func minimalGGUFLoads() throws {
        let t = try BPETokenizer(gguf: Self.gguf { _ in })
        #expect(t.vocabularySize == 4)
        #expect(t.eosTokenIds == [3])
        // "ab" has no byte symbols in this vocabulary: the bytes have no ids and are dropped.
        #expect(t.decode([2]) == "ab")
    }

    @Test("each malformed key is named", arguments: [
        ("tokenizer.ggml.model", "remove"),
        ("tokenizer.ggml.tokens", "remove"),
        ("tokenizer.ggml.token_type", "short"),
        ("tokenizer.ggml.token_type", "bad"),
        ("tokenizer.ggml.merges", "bad"),
        ("tokenizer.ggml.merges", "remove"),
        ("tokenizer.ggml.eos_token_id", "range"),
        ("tokenizer.ggml.scores", "short"),
    ])
    func malformedKey(_ key: String, _ how: String) throws {
        let file = try Self.gguf { w in
            switch (key, how) {
            case (_, "remove"): w.set(key, .uint8(0))  // wrong type reads as missing
            case ("tokenizer.ggml.token_type", "short"): w.set(key, .array(.int32, [.int32(1)]))
            case ("tokenizer.ggml.token_type", "bad"): w.set(key, .array(.int32, [1, 1, 1, 42].map { .int32($0) }))
            case ("tokenizer.ggml.merges", "bad"): w.set(key, .array(.string, [.string("ab")]))
            case ("tokenizer.ggml.eos_token_id", "range"): w.set(key, .uint32(4))
            case ("tokenizer.ggml.scores", "short"): w.set(key, .array(.float32, [.float32(0)]))
            default: break
            }
        }
        let error = try #require(Self.loadError(file))
        guard case let .invalidValue(source, errorKey, reason) = error else {
            Issue.record("unexpected \(error)")
            return
        }
        #expect(errorKey == key)
        #expect(source.contains(".gguf"))
        #expect(!reason.isEmpty)
    }

    @Test func unsupportedModelsAreNamed() throws {
        let bert = Self.loadError(try Self.gguf { $0.set("tokenizer.ggml.model", .string("bert")) })
        #expect(bert.map { "\($0)" }?.contains("unsupported tokenizer.ggml.model 'bert'") == true)
        let qwen = Self.loadError(try Self.gguf { $0.set("tokenizer.ggml.pre", .string("qwen2")) })
        #expect(qwen.map { "\($0)" }?.contains("tokenizer.ggml.pre 'qwen2'") == true)
        let llama = Self.loadError(try Self.gguf { $0.set("tokenizer.ggml.model", .string("llama")) })
        #expect(llama.map { "\($0)" }?.contains("tokenizer.ggml.scores") == true)
    }

    @Test func gpt4oPreTokenizerSelectsO200k() throws {
        let t = try BPETokenizer(gguf: Self.gguf { $0.set("tokenizer.ggml.pre", .string("gpt-4o")) })
        #expect(t.definition.model == .byteLevel(.o200k))
    }

    @Test func tokenizerJSONErrors() throws {
        #expect(throws: TokenizerError.self) { try BPETokenizer.definition(tokenizerJSON: "{\"model\": ") }
        #expect(throws: TokenizerError.self) { try BPETokenizer.definition(tokenizerJSON: "[1, 2]") }
        do {
            _ = try BPETokenizer.definition(tokenizerJSON: #"{"model": {"type": "WordPiece", "vocab": {}}}"#)
            Issue.record("WordPiece accepted")
        } catch {
            #expect("\(error)".contains("WordPiece"))
        }
        do {
            _ = try BPETokenizer.definition(tokenizerJSON: #"{"model": {"type": "BPE", "vocab": {"a": -1}}}"#)
            Issue.record("negative id accepted")
        } catch {
            #expect("\(error)".contains("model.vocab['a']"))
        }
        let missing = URL(fileURLWithPath: "/nonexistent/tokenizer.json")
        #expect(throws: TokenizerError.self) { try BPETokenizer(tokenizerJSON: missing) }
    }

    @Test func tokenizerJSONWithO200kSplitAndMetaspace() throws {
        let o200k = #"{"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": [["a", "b"]]}, "pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "Split", "pattern": {"Regex": "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+"}}, {"type": "ByteLevel", "use_regex": false}]}}"#
        #expect(try BPETokenizer.definition(tokenizerJSON: o200k).model == .byteLevel(.o200k))
        let metaspace = #"{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}, "pre_tokenizer": {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "first", "split": false}}"#
        let d = try BPETokenizer.definition(tokenizerJSON: metaspace)
        #expect(d.model == .sentencePiece)
        #expect(d.spacePrefix == .first)
    }
}
