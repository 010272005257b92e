// Loading a tokenizer from GGUF metadata the way llama.cpp's `llama_vocab::load` reads it.

public import GGUF

extension BPETokenizer {
    /// The tokenizer stored in a GGUF file's `tokenizer.ggml.*` metadata.
    ///
    /// Supports `tokenizer.ggml.model` `gpt2` (pre `gpt-2`, `phi-2`, `default`, `gpt-4o`/`o200k`) and
    /// `llama` (SentencePiece BPE merged by `tokenizer.ggml.scores`). Control and user-defined tokens
    /// are split before BPE; as llama.cpp does for models named phi-3, control tokens other than
    /// `<unk>`, `<s>`, `<|endoftext|>` (and the user-defined `</s>`) absorb whitespace on their right.
    public convenience init(gguf file: GGUFFile) throws(TokenizerError) {
        try self.init(Self.definition(gguf: file))
    }

    /// The tokenizer definition read from a GGUF file's metadata.
    public static func definition(gguf file: GGUFFile) throws(TokenizerError) -> TokenizerDefinition {
        let source = "\(file.name): GGUF metadata"
        func invalid(_ key: String, _ reason: String) -> TokenizerError {
            .invalidValue(source: source, key: key, reason: reason)
        }
        guard let modelName = file.string("tokenizer.ggml.model") else {
            throw invalid("tokenizer.ggml.model", "missing: expected 'gpt2' or 'llama'")
        }
        guard let pieces = file.stringArray("tokenizer.ggml.tokens"), !pieces.isEmpty else {
            throw invalid("tokenizer.ggml.tokens", "missing or not a non-empty array of strings")
        }
        let n = pieces.count
        var types = [TokenType](repeating: .normal, count: n)
        if file.value("tokenizer.ggml.token_type") != nil {
            guard let raw = file.intArray("tokenizer.ggml.token_type"), raw.count == n else {
                throw invalid("tokenizer.ggml.token_type", "expected \(n) integers")
            }
            for (i, t) in raw.enumerated() {
                guard let type = Int32(exactly: t).flatMap(TokenType.init(rawValue:)) else {
                    throw invalid("tokenizer.ggml.token_type", "token \(i): unknown type \(t)")
                }
                types[i] = type
            }
        }
        var scores: [Float]? = nil
        if file.value("tokenizer.ggml.scores") != nil {
            guard let s = file.floatArray("tokenizer.ggml.scores"), s.count == n else {
                throw invalid("tokenizer.ggml.scores", "expected \(n) numbers")
            }
            scores = s
        }
        func tokenId(_ key: String) throws(TokenizerError) -> Int32? {
            guard file.value(key) != nil else { return nil }
            guard let v = file.int(key) else { throw invalid(key, "expected an integer") }
            // llama.cpp treats -1 (stored as uint32 max by some converters) as "none".
            if v < 0 || v == Int(UInt32.max) { return nil }
            guard v < n else { throw invalid(key, "id \(v) outside the vocabulary of \(n)") }
            return Int32(v)
        }

        let model: TokenizerDefinition.Model
        var merges: [MergeRule]? = nil
        var spacePrefix = TokenizerDefinition.SpacePrefix.none
        switch modelName {
        case "gpt2":
            let pre = file.string("tokenizer.ggml.pre") ?? "default"
            switch pre {
            case "default", "gpt-2", "gpt2", "phi-2": model = .byteLevel(.gpt2)
            case "gpt-4o", "o200k", "o200k_base": model = .byteLevel(.o200k)
            default: throw .unsupported(source: source, what: "tokenizer.ggml.pre '\(pre)'")
            }
            guard let lines = file.stringArray("tokenizer.ggml.merges") else {
                throw invalid("tokenizer.ggml.merges", "missing: expected an array of strings")
            }
            merges = try lines.enumerated().map { (i, line) throws(TokenizerError) in
                let parts = line.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false)
                guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                    throw invalid("tokenizer.ggml.merges", "entry \(i) '\(line)': expected 'left right'")
                }
                return MergeRule(left: String(parts[0]), right: String(parts[1]))
            }
        case "llama":
            model = .sentencePiece
            guard scores != nil else {
                throw invalid("tokenizer.ggml.scores", "missing: a 'llama' tokenizer merges by score")
            }
            spacePrefix = (file.bool("tokenizer.ggml.add_space_prefix") ?? true) ? .always : .none
        default:
            throw .unsupported(source: source, what: "tokenizer.ggml.model '\(modelName)'")
        }

        let name = (file.string("general.name") ?? "").lowercased()
        let isPhi3Named = name.contains("phi-3") || name.contains("phi3")
        var added: [AddedToken] = []
        for (i, type) in types.enumerated() where type == .control || type == .userDefined {
            let piece = pieces[i]
            var stripsRight = false
            if isPhi3Named {
                stripsRight = (type == .control || piece == "</s>")
                    && !["<unk>", "<s>", "<|endoftext|>"].contains(piece)
            }
            added.append(AddedToken(id: Int32(i), content: piece, isSpecial: type == .control, stripsRight: stripsRight))
        }

        var endOfTurn: [Int32] = []
        if let eot = try tokenId("tokenizer.ggml.eot_token_id") { endOfTurn.append(eot) }
        if let eom = try tokenId("tokenizer.ggml.eom_token_id") { endOfTurn.append(eom) }
        let isSentencePiece = model == .sentencePiece
        return TokenizerDefinition(
            model: model, pieces: pieces, types: types, scores: isSentencePiece ? scores : nil, merges: merges,
            addedTokens: added,
            bosTokenId: try tokenId("tokenizer.ggml.bos_token_id"),
            eosTokenId: try tokenId("tokenizer.ggml.eos_token_id"),
            endOfTurnTokenIds: endOfTurn,
            unknownTokenId: try tokenId("tokenizer.ggml.unknown_token_id"),
            paddingTokenId: try tokenId("tokenizer.ggml.padding_token_id"),
            addsBOS: file.bool("tokenizer.ggml.add_bos_token") ?? isSentencePiece,
            addsEOS: file.bool("tokenizer.ggml.add_eos_token") ?? false,
            spacePrefix: spacePrefix,
            chatTemplate: file.string("tokenizer.chat_template"))
    }
}
