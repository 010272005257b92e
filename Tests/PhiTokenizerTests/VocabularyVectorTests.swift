import Foundation
import Testing
import PhiTokenizer

/// llama.cpp's tokenizer test vectors and the phi fixtures' reference inputs, every case exactly.
@Suite struct VocabularyVectorTests {
    static let cases: [(tokenizer: String, inp: String, out: String)] = [
        ("gpt2-gguf", "ggml-vocab-gpt-2.gguf.inp", "ggml-vocab-gpt-2.gguf.out"),
        ("phi2-gguf", "phi-2.tests.inp", "phi-2.tests.out"),
        ("phi2-json", "phi-2.tests.inp", "phi-2.tests.out"),
        ("phi3-gguf", "ggml-vocab-phi-3.gguf.inp", "ggml-vocab-phi-3.gguf.out"),
        ("phi3-json", "ggml-vocab-phi-3.gguf.inp", "ggml-vocab-phi-3.gguf.out"),
    ]

    @Test("every test vector matches", arguments: cases)
    func vectorsMatch(_ c: (tokenizer: String, inp: String, out: String)) throws {
        let tokenizer = try Fixtures.tokenizer(c.tokenizer)
        let vectors = try Fixtures.vectors(c.inp, c.out)
        #expect(vectors.count >= 40)
        for (text, expected) in vectors {
            let ids = tokenizer.encode(text, addSpecialTokens: false, parseSpecialTokens: false)
            #expect(ids == expected, "\(c.tokenizer) \(text.debugDescription)")
        }
    }

    @Test("decode(encode(x)) == x for every test string", arguments: cases)
    func roundTrip(_ c: (tokenizer: String, inp: String, out: String)) throws {
        let tokenizer = try Fixtures.tokenizer(c.tokenizer)
        for (text, expected) in try Fixtures.vectors(c.inp, c.out) {
            #expect(tokenizer.decode(expected) == text, "\(c.tokenizer) \(text.debugDescription)")
            #expect(tokenizer.decode(tokenizer.encode(text, addSpecialTokens: true)) == text)
        }
    }

    static let references: [(tokenizer: String, file: String)] = [
        ("phi2-gguf", "phi/phi2-tiny/phi2-tiny.reference.json"),
        ("phi2-json", "phi/phi2-tiny/phi2-tiny.reference.json"),
        ("phi3-gguf", "phi/phi3-tiny-gqa/phi3-tiny-gqa.reference.json"),
        ("phi3-json", "phi/phi3-tiny-gqa/phi3-tiny-gqa.reference.json"),
    ]

    @Test("reference inputs s8/s40/s100 give the reference ids (phi-3 with BOS)", arguments: references)
    func referenceInputs(_ c: (tokenizer: String, file: String)) throws {
        let tokenizer = try Fixtures.tokenizer(c.tokenizer)
        let inputs = try Fixtures.referenceInputs(c.file)
        #expect(Set(inputs.keys) == ["s8", "s40", "s100"])
        for (name, input) in inputs {
            #expect(tokenizer.encode(input.text, addSpecialTokens: true) == input.ids, "\(c.tokenizer) \(name)")
        }
    }

    @Test func phi3TinyGGUFTokenizerMatchesReference() throws {
        let dir = Fixtures.url("phi/phi3-tiny-gqa")
        let tokenizer = try BPETokenizer(gguf: .init(url: dir.appendingPathComponent("phi3-tiny-gqa-Q8_0.gguf")))
        for (_, input) in try Fixtures.referenceInputs("phi/phi3-tiny-gqa/phi3-tiny-gqa.reference.json") {
            #expect(tokenizer.encode(input.text) == input.ids)
        }
    }
}
