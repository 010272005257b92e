import Testing
import PhiTokenizer

/// Word splits derived by hand from the regex definitions (first alternative that matches wins,
/// greedy quantifiers with backtracking).
@Suite struct PreTokenizerTests {
    @Test("GPT-2 splits", arguments: [
        ("Hello world's  end\n\n  x", ["Hello", " world", "'s", " ", " end", "\n\n ", " x"]),
        ("I'm DON'T they'll", ["I", "'m", " DON", "'", "T", " they", "'ll"]),
        ("x = 1000000;", ["x", " =", " 1000000", ";"]),
        ("a1b", ["a", "1", "b"]),
        ("''s", ["''", "s"]),
        ("tab\there  ", ["tab", "\t", "here", "  "]),
        ("Über-naïve 日本語 🚀!", ["Über", "-", "naïve", " 日本語", " 🚀!"]),
        ("\n", ["\n"]),
        ("", []),
    ])
    func gpt2(_ text: String, _ words: [String]) {
        #expect(PreTokenizer.gpt2.split(text) == words)
    }

    @Test("o200k splits", arguments: [
        // words: optional prefix, case transitions, contractions (case-insensitive) stay attached
        ("Hello world", ["Hello", " world"]),
        ("I'm don't", ["I'm", " don't"]),
        ("WE'RE here", ["WE'RE", " here"]),
        ("helloWorld", ["hello", "World"]),
        ("HELLOWorld", ["HELLOWorld"]),
        ("ÜberCAFÉ", ["Über", "CAFÉ"]),
        ("e\u{301}t\u{E9}", ["e\u{301}t\u{E9}"]),
        ("日本語のテキスト", ["日本語のテキスト"]),
        // numbers in groups of at most three
        ("12345", ["123", "45"]),
        ("1234567", ["123", "456", "7"]),
        ("a1b", ["a", "1", "b"]),
        ("x = 1000000;", ["x", " =", " ", "100", "000", "0", ";"]),
        // punctuation takes trailing newlines and slashes; a prefix character joins the next word
        ("Hello, world!\n\nBye", ["Hello", ",", " world", "!\n\n", "Bye"]),
        ("/path/to\n", ["/path", "/to", "\n"]),
        ("a.b", ["a", ".b"]),
        ("🚀 go", ["🚀", " go"]),
        // whitespace: up to the last newline, then `\s+(?!\S)`, then `\s+`
        ("  \n  x", ["  \n", " ", " x"]),
        ("hello\r\nworld", ["hello", "\r\n", "world"]),
        ("end  ", ["end", "  "]),
        ("", []),
    ])
    func o200k(_ text: String, _ words: [String]) {
        #expect(PreTokenizer.o200k.split(text) == words)
    }

    @Test("splits cover the input", arguments: PreTokenizer.allCases)
    func splitsCoverInput(_ pre: PreTokenizer) throws {
        for (text, _) in try Fixtures.vectors("ggml-vocab-gpt-2.gguf.inp", "ggml-vocab-gpt-2.gguf.out") {
            #expect(pre.split(text).joined() == text)
        }
    }
}

/// A tiny byte-level vocabulary: the 256 byte symbols plus a few merges, to check that the o200k
/// pre-tokenizer drives the byte-level BPE.
@Suite struct TinyByteLevelTests {
    static func tokenizer(_ pre: PreTokenizer) throws -> BPETokenizer {
        let byteSymbols = (0..<256).map { PreTokenizerTestsHelper.byteSymbol(UInt8($0)) }
        let merges: [(String, String)] = [
            ("H", "e"), ("l", "l"), ("He", "ll"), ("Hell", "o"), ("Ġ", "w"), ("o", "r"), ("Ġw", "or"),
            ("l", "d"), ("Ġwor", "ld"), ("o", "W"), ("3", "4"),
        ]
        var pieces = byteSymbols
        for (l, r) in merges where !pieces.contains(l + r) { pieces.append(l + r) }
        pieces.append("<|endoftext|>")
        let eot = Int32(pieces.count - 1)
        return try BPETokenizer(TokenizerDefinition(
            model: .byteLevel(pre), pieces: pieces,
            types: pieces.indices.map { Int32($0) == eot ? .control : .normal },
            merges: merges.map { MergeRule(left: $0.0, right: $0.1) },
            addedTokens: [AddedToken(id: eot, content: "<|endoftext|>", isSpecial: true)],
            eosTokenId: eot))
    }

    @Test func mergesInsideWords() throws {
        let t = try Self.tokenizer(.o200k)
        let ids = t.encode("Hello world", addSpecialTokens: false)
        #expect(ids.map { t.tokenPiece($0)! } == ["Hello", "Ġworld"])
        #expect(t.decode(ids) == "Hello world")
    }

    @Test func o200kSplitsCaseTransitionsAndDigitGroupsBeforeMerging() throws {
        let o200k = try Self.tokenizer(.o200k)
        let gpt2 = try Self.tokenizer(.gpt2)
        // "helloWorld": one GPT-2 word (o+W merge), two o200k words (no o+W merge).
        #expect(gpt2.encode("helloWorld", addSpecialTokens: false).contains(gpt2.tokenId(forPiece: "oW")!))
        #expect(!o200k.encode("helloWorld", addSpecialTokens: false).contains(o200k.tokenId(forPiece: "oW")!))
        // "12345": GPT-2 merges 3+4; o200k splits 123|45 first.
        #expect(gpt2.encode("12345", addSpecialTokens: false).map { gpt2.tokenPiece($0)! } == ["1", "2", "34", "5"])
        #expect(o200k.encode("12345", addSpecialTokens: false).map { o200k.tokenPiece($0)! } == ["1", "2", "3", "4", "5"])
    }

    @Test func specialTokensSplitBeforeBPE() throws {
        let t = try Self.tokenizer(.o200k)
        let eot = t.tokenId(forPiece: "<|endoftext|>")!
        #expect(t.encode("Hello<|endoftext|>Hello", addSpecialTokens: false).map { t.tokenPiece($0)! }
            == ["Hello", "<|endoftext|>", "Hello"])
        #expect(!t.encode("Hello<|endoftext|>", addSpecialTokens: false, parseSpecialTokens: false).contains(eot))
        #expect(t.eosTokenIds == [eot])
        #expect(t.decode(t.encode("x<|endoftext|>y", addSpecialTokens: false)) == "xy")
        #expect(t.decode(t.encode("x<|endoftext|>y", addSpecialTokens: false), skipSpecialTokens: false) == "x<|endoftext|>y")
    }
}

enum PreTokenizerTestsHelper {
    /// GPT-2's bytes_to_unicode, written out independently of the module's table.
    static func byteSymbol(_ b: UInt8) -> String {
        var printable: [UInt8] = Array(33...126) + Array(161...172) + Array(174...255)
        printable.sort()
        if printable.contains(b) { return String(Unicode.Scalar(b)) }
        let others = (0...255).map { UInt8($0) }.filter { !printable.contains($0) }
        return String(Unicode.Scalar(256 + UInt32(others.firstIndex(of: b)!))!)
    }
}
