import Testing
import PhiTokenizer

@Suite struct StreamingDetokenizerTests {
    /// Feeds ids one by one; every emitted piece must be whole characters.
    static func stream(_ ids: [Int32], _ tokenizer: any Tokenizer) -> [String] {
        var detokenizer = StreamingDetokenizer(tokenizer: tokenizer)
        var pieces = ids.map { detokenizer.append($0) }
        pieces.append(detokenizer.finish())
        return pieces
    }

    @Test("emoji and Japanese split across tokens come out whole",
          arguments: ["phi2-gguf", "phi2-json", "phi3-gguf", "phi3-json"])
    func splitCharacters(_ name: String) throws {
        let tokenizer = try Fixtures.tokenizer(name)
        var splitsSomeCharacter = false
        for text in ["emoji 🚀 too", "日本語のテキスト", "Ünïcödé 🦙🤖 and 🇺🇳", "x🚀"] {
            let ids = tokenizer.encode(text, addSpecialTokens: true)
            // Some token of the text carries only part of a character.
            let partial = ids.contains { id in
                let b = tokenizer.tokenBytes(id, skipSpecialTokens: true)
                return !b.isEmpty && String(validating: b, as: UTF8.self) == nil
            }
            splitsSomeCharacter = splitsSomeCharacter || partial
            let pieces = Self.stream(ids, tokenizer)
            #expect(pieces.joined() == text)
            #expect(pieces.allSatisfy { !$0.contains("\u{FFFD}") })
            #expect(pieces.last == "")
        }
        #expect(splitsSomeCharacter, "\(name): no character was split across tokens")
    }

    @Test("streaming equals decode for the reference texts", arguments: ["phi2-gguf", "phi3-json"])
    func streamingEqualsDecode(_ name: String) throws {
        let tokenizer = try Fixtures.tokenizer(name)
        let file = name.hasPrefix("phi2") ? "phi/phi2-tiny/phi2-tiny.reference.json"
            : "phi/phi3-tiny-gqa/phi3-tiny-gqa.reference.json"
        for (_, input) in try Fixtures.referenceInputs(file) {
            let pieces = Self.stream(input.ids, tokenizer)
            #expect(pieces.joined() == tokenizer.decode(input.ids))
            #expect(pieces.joined() == input.text)
        }
    }

    @Test func sentencePieceLeadingSpaceDroppedOnlyOnce() throws {
        let tokenizer = try Fixtures.tokenizer("phi3-gguf")
        let ids = tokenizer.encode("Hello world", addSpecialTokens: true)  // <s> ▁Hello ▁world
        var detokenizer = StreamingDetokenizer(tokenizer: tokenizer)
        #expect(ids.map { detokenizer.append($0) } == ["", "Hello", " world"])
        var keeping = StreamingDetokenizer(tokenizer: tokenizer, stripsLeadingSpace: false)
        #expect(keeping.append(contentsOf: ids) == " Hello world")
    }

    @Test func byteFallbackHeldUntilComplete() throws {
        let tokenizer = try Fixtures.tokenizer("phi3-gguf")
        let bytes = Array("🚀".utf8).map { tokenizer.tokenId(forPiece: String(format: $0)) ?? -1 }
        #expect(!bytes.contains(-1))
        var detokenizer = StreamingDetokenizer(tokenizer: tokenizer, stripsLeadingSpace: false)
        #expect(detokenizer.append(bytes[0]) == "")
        #expect(detokenizer.append(bytes[1]) == "")
        #expect(detokenizer.append(bytes[2]) == "")
        #expect(detokenizer.hasPendingBytes)
        #expect(detokenizer.append(bytes[3]) == "🚀")
        #expect(!detokenizer.hasPendingBytes)
    }

    @Test func unfinishedCharacterIsFlushedAsReplacement() throws {
        let tokenizer = try Fixtures.tokenizer("phi3-gguf")
        var detokenizer = StreamingDetokenizer(tokenizer: tokenizer, stripsLeadingSpace: false)
        let first = tokenizer.tokenId(forPiece: "<0xF0>")!
        #expect(detokenizer.append(tokenizer.tokenId(forPiece: "a")!) == "a")
        #expect(detokenizer.append(first) == "")
        #expect(detokenizer.finish() == "\u{FFFD}")
        #expect(detokenizer.finish() == "")
    }

    @Test func invalidBytesDoNotStallTheStream() throws {
        let tokenizer = try Fixtures.tokenizer("phi3-gguf")
        var detokenizer = StreamingDetokenizer(tokenizer: tokenizer, stripsLeadingSpace: false)
        // A lone continuation byte can never become valid: emitted at once as U+FFFD.
        #expect(detokenizer.append(tokenizer.tokenId(forPiece: "<0x80>")!) == "\u{FFFD}")
        #expect(detokenizer.append(tokenizer.tokenId(forPiece: "<0xFF>")!) == "\u{FFFD}")
    }

    @Test func specialTokensSkippedOrShown() throws {
        let tokenizer = try Fixtures.tokenizer("phi3-gguf")
        let ids = tokenizer.encode("<|user|>Hi<|end|>")
        var skipping = StreamingDetokenizer(tokenizer: tokenizer)
        #expect(skipping.append(contentsOf: ids) == "Hi")
        var showing = StreamingDetokenizer(tokenizer: tokenizer, skipSpecialTokens: false)
        #expect(showing.append(contentsOf: ids) + showing.finish() == tokenizer.decode(ids, skipSpecialTokens: false))
    }
}

extension String {
    /// `<0xNN>` of a byte.
    fileprivate init(format byte: UInt8) {
        let hex = String(byte, radix: 16, uppercase: true)
        self = "<0x" + (hex.count == 1 ? "0" : "") + hex + ">"
    }
}
