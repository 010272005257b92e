import Testing
import PhiTokenizer

@Suite struct TokenizerBehaviourTests {
    @Test("padding ids are exposed for masking", arguments: ["phi2-gguf", "phi2-json"])
    func phi2Padding(_ name: String) throws {
        let t = try Fixtures.tokenizer(name)
        let expected = (50295..<51200).map { Int32($0) }
        #expect(t.maskedTokenIds(logitCount: 51200) == expected)
        #expect(t.encode("    a\t\t \n").allSatisfy { $0 < 50295 })
        if name == "phi2-gguf" {
            #expect(t.vocabularySize == 51200)
            #expect(t.unusedTokenIds == expected)
        } else {
            #expect(t.vocabularySize == 50295)
            #expect(t.unusedTokenIds.isEmpty)
        }
    }

    @Test("phi-3 [PAD32011]…[PAD32063] are exposed for masking", arguments: ["phi3-gguf", "phi3-json"])
    func phi3Padding(_ name: String) throws {
        let t = try Fixtures.tokenizer(name)
        let expected = (32011..<32064).map { Int32($0) }
        #expect(t.maskedTokenIds(logitCount: 32064) == expected)
        if name == "phi3-gguf" {
            #expect(t.unusedTokenIds == expected)
            #expect(t.tokenPiece(32011) == "[PAD32011]")
            #expect(t.tokenPiece(32063) == "[PAD32063]")
        }
    }

    @Test("special ids", arguments: ["phi3-gguf", "phi3-json"])
    func phi3SpecialIds(_ name: String) throws {
        let t = try Fixtures.tokenizer(name)
        #expect(t.bosTokenId == 1)
        #expect(t.eosTokenId == 32000)
        #expect(t.eosTokenIds == [32000, 32007])
        #expect(t.isSpecial(32010))
        #expect(t.isSpecial(1))
        #expect(!t.isSpecial(15043))
        #expect(t.tokenPiece(32010) == "<|user|>")
        #expect(t.tokenId(forPiece: "<|assistant|>") == 32001)
        #expect(t.tokenPiece(-1) == nil)
        #expect(t.tokenPiece(Int32(t.vocabularySize)) == nil)
        #expect(t.decode([-5, 999_999]) == "")
    }

    @Test("special ids", arguments: ["phi2-gguf", "phi2-json"])
    func phi2SpecialIds(_ name: String) throws {
        let t = try Fixtures.tokenizer(name)
        #expect(t.bosTokenId == nil)
        #expect(t.eosTokenId == 50256)
        #expect(t.eosTokenIds == [50256])
        #expect(t.isSpecial(50256))
        #expect(!t.isSpecial(50284))
        #expect(t.encode("Hi<|endoftext|>") == [17250, 50256])
        #expect(t.encode("Hi<|endoftext|>", addSpecialTokens: false, parseSpecialTokens: false).count > 2)
    }

    @Test("phi-2 whitespace tokens split before BPE", arguments: ["phi2-gguf", "phi2-json"])
    func phi2Whitespace(_ name: String) throws {
        let t = try Fixtures.tokenizer(name)
        // n spaces = 50288 - n (n = 2…31), n tabs = 50296 - n (n = 2…9); leftmost-longest.
        #expect(t.encode("    ") == [50284])
        #expect(t.encode(String(repeating: " ", count: 40)) == [50257, 50279])
        #expect(t.encode("\t\t\tx") == [50293, 87])
        #expect(t.decode([50257, 50279]) == String(repeating: " ", count: 40))
        #expect(t.decode([50293]) == "\t\t\t")
    }

    @Test("phi-3 special tokens absorb the whitespace after them and restart the dummy prefix",
          arguments: ["phi3-gguf", "phi3-json"])
    func phi3SpecialTokenSplit(_ name: String) throws {
        let t = try Fixtures.tokenizer(name)
        let hello = t.encode("Hello", addSpecialTokens: false)  // ▁Hello
        #expect(hello == [15043])
        #expect(t.encode("<|user|>\nHello<|end|>\n<|assistant|>\n") == [1, 32010, 15043, 32007, 32001])
        #expect(t.encode("<|user|>Hello", addSpecialTokens: false) == [32010, 15043])
        let plain = t.encode("<|user|>", addSpecialTokens: false, parseSpecialTokens: false)
        #expect(!plain.contains(32010))
        #expect(t.decode(plain) == "<|user|>")
        #expect(t.decode([1, 32010, 15043, 32007], skipSpecialTokens: false) == "<s><|user|> Hello<|end|>")
    }

    @Test func canonicallyEquivalentPiecesKeepTheirOwnIds() throws {
        // Llama's vocabulary has both U+03AF "ί" (30207) and U+1F77 "ί" (30873), which Swift's String
        // equality treats as equal.
        for name in ["phi3-gguf", "phi3-json"] {
            let t = try Fixtures.tokenizer(name)
            #expect(t.tokenId(forPiece: "\u{3AF}") == 30207)
            #expect(t.tokenId(forPiece: "\u{1F77}") == 30873)
            #expect(t.encode("\u{3AF}", addSpecialTokens: false).last == 30207)
            #expect(t.encode("\u{1F77}", addSpecialTokens: false).last == 30873)
            #expect(t.decode(t.encode("\u{1F77}")).unicodeScalars.first == "\u{1F77}")
        }
    }

    @Test func longInputsEncodeAndRoundTrip() throws {
        let unit = "def fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)  # 日本語 🚀\n"
        let text = String(repeating: unit, count: 200)
        for name in ["phi2-gguf", "phi3-gguf"] {
            let t = try Fixtures.tokenizer(name)
            let ids = t.encode(text, addSpecialTokens: false)
            #expect(t.decode(ids) == text)
        }
        // Byte-level words never cross the unit boundary ("\n" | "def"), so the ids repeat.
        let phi2 = try Fixtures.tokenizer("phi2-gguf")
        let unitIds = phi2.encode(unit, addSpecialTokens: false)
        #expect(phi2.encode(text, addSpecialTokens: false) == Array((0..<200).map { _ in unitIds }.joined()))
    }

    @Test func decodeAcrossTokenizersMatchesForTheSameIds() throws {
        // The GGUF and tokenizer.json forms of one vocabulary decode identically.
        let pairs = [("phi2-gguf", "phi2-json"), ("phi3-gguf", "phi3-json")]
        for (a, b) in pairs {
            let ta = try Fixtures.tokenizer(a)
            let tb = try Fixtures.tokenizer(b)
            let ids = (0..<Int32(min(ta.vocabularySize, tb.vocabularySize)))
            for id in ids {
                #expect(ta.tokenBytes(id, skipSpecialTokens: false) == tb.tokenBytes(id, skipSpecialTokens: false),
                        "\(a)/\(b) id \(id)")
            }
        }
    }
}

@Suite struct TokenizerSummaryTests {
    @Test func summariesNameTheKind() throws {
        #expect(try Fixtures.tokenizer("phi2-gguf").summary == "byte-level BPE (gpt2 pre-tokenizer), 51200 tokens, 39 added tokens")
        #expect(try Fixtures.tokenizer("phi3-gguf").summary.hasPrefix("SentencePiece BPE with byte fallback, 32064 tokens"))
    }
}
