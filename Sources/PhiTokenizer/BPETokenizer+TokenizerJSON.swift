// Loading a Hugging Face `tokenizer.json` (+ `tokenizer_config.json`) BPE tokenizer.

public import Foundation

extension BPETokenizer {
    /// The tokenizer of a Hugging Face folder: `tokenizer.json`, plus `tokenizer_config.json` when present
    /// (BOS/EOS, `add_bos_token`, `chat_template`).
    public convenience init(directory: URL) throws(TokenizerError) {
        let config = directory.appendingPathComponent("tokenizer_config.json")
        try self.init(
            tokenizerJSON: directory.appendingPathComponent("tokenizer.json"),
            config: FileManager.default.fileExists(atPath: config.path) ? config : nil)
    }

    /// The tokenizer of a `tokenizer.json` file and an optional `tokenizer_config.json`.
    public convenience init(tokenizerJSON: URL, config: URL? = nil) throws(TokenizerError) {
        let json = try Self.jsonValue(at: tokenizerJSON)
        let configJSON = try config.map { url throws(TokenizerError) in try Self.jsonValue(at: url) }
        try self.init(Self.definition(tokenizerJSON: json, config: configJSON, path: tokenizerJSON.path))
    }

    /// The definition described by the text of a `tokenizer.json` and optionally a `tokenizer_config.json`.
    public static func definition(
        tokenizerJSON: String, config: String? = nil
    ) throws(TokenizerError) -> TokenizerDefinition {
        let json = try jsonValue(Array(tokenizerJSON.utf8), path: "tokenizer.json")
        let configJSON = try config.map { text throws(TokenizerError) in
            try jsonValue(Array(text.utf8), path: "tokenizer_config.json")
        }
        return try definition(tokenizerJSON: json, config: configJSON, path: "tokenizer.json")
    }

    static func jsonValue(at url: URL) throws(TokenizerError) -> JSONValue {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw .invalidFile(path: url.path, reason: "cannot read: \(error.localizedDescription)")
        }
        return try jsonValue([UInt8](data), path: url.path)
    }

    static func jsonValue(_ bytes: [UInt8], path: String) throws(TokenizerError) -> JSONValue {
        let value: JSONValue
        do {
            value = try JSONValue.parse(bytes)
        } catch {
            throw .invalidFile(path: path, reason: "invalid JSON at byte \(error.offset): \(error.reason)")
        }
        guard value.members != nil else { throw .invalidFile(path: path, reason: "expected a JSON object") }
        return value
    }

    static func definition(
        tokenizerJSON json: JSONValue, config: JSONValue?, path: String
    ) throws(TokenizerError) -> TokenizerDefinition {
        func invalid(_ key: String, _ reason: String) -> TokenizerError {
            .invalidValue(source: path, key: key, reason: reason)
        }
        guard let modelJSON = json["model"], modelJSON.members != nil else { throw invalid("model", "missing object") }
        guard modelJSON["type"]?.string == "BPE" else {
            throw .unsupported(source: path, what: "model.type '\(modelJSON["type"]?.string ?? "none")' (expected BPE)")
        }
        guard let vocab = modelJSON["vocab"]?.members else { throw invalid("model.vocab", "missing object") }

        var maxId = -1
        var entries: [(String, Int)] = []
        entries.reserveCapacity(vocab.count)
        for (piece, value) in vocab {
            guard let id = value.int, id >= 0, id < Int(Int32.max) else {
                throw invalid("model.vocab['\(piece)']", "expected a non-negative integer id")
            }
            entries.append((piece, id))
            maxId = max(maxId, id)
        }
        var added: [AddedToken] = []
        for (i, token) in (json["added_tokens"]?.array ?? []).enumerated() {
            guard let id = token["id"]?.int, id >= 0, id < Int(Int32.max), let content = token["content"]?.string else {
                throw invalid("added_tokens[\(i)]", "expected 'id' and 'content'")
            }
            added.append(AddedToken(
                id: Int32(id), content: content, isSpecial: token["special"]?.bool ?? false,
                stripsLeft: token["lstrip"]?.bool ?? false, stripsRight: token["rstrip"]?.bool ?? false))
            maxId = max(maxId, id)
        }
        guard maxId >= 0 else { throw invalid("model.vocab", "empty vocabulary") }
        var pieces = [String](repeating: "", count: maxId + 1)
        var types = [TokenType](repeating: .unused, count: maxId + 1)
        var idsByPiece: [[UInt8]: Int32] = [:]
        for (piece, id) in entries {
            pieces[id] = piece
            types[id] = .normal
            idsByPiece[Array(piece.utf8)] = Int32(id)
        }
        if modelJSON["byte_fallback"]?.bool ?? false {
            for (i, piece) in pieces.enumerated() where types[i] == .normal && Self.byteValue(ofPiece: piece) != nil {
                types[i] = .byte
            }
        }
        for token in added {
            pieces[Int(token.id)] = token.content
            types[Int(token.id)] = token.isSpecial ? .control : .userDefined
        }

        // Merges: ["a b", …] (tokenizers < 0.20) or [["a", "b"], …].
        var merges: [MergeRule] = []
        if let list = modelJSON["merges"]?.array {
            merges.reserveCapacity(list.count)
            for (i, item) in list.enumerated() {
                if let pair = item.array, pair.count == 2, let l = pair[0].string, let r = pair[1].string {
                    merges.append(MergeRule(left: l, right: r))
                } else if let line = item.string {
                    let parts = line.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false)
                    guard parts.count == 2 else { throw invalid("model.merges[\(i)]", "expected 'left right'") }
                    merges.append(MergeRule(left: String(parts[0]), right: String(parts[1])))
                } else {
                    throw invalid("model.merges[\(i)]", "expected a pair of strings")
                }
            }
        }

        let (model, spacePrefix) = try Self.modelKind(json, path: path)

        func tokenId(of value: JSONValue?) -> Int32? {
            guard let content = value?.string ?? value?["content"]?.string else { return nil }
            let bytes = Array(content.utf8)
            if let token = added.first(where: { Array($0.content.utf8) == bytes }) { return token.id }
            return idsByPiece[bytes]
        }
        var bos = tokenId(of: config?["bos_token"])
        let eos = tokenId(of: config?["eos_token"])
        var addsBOS = config?["add_bos_token"]?.bool
        if let processor = json["post_processor"], processor["type"]?.string == "TemplateProcessing",
            let first = processor["single"]?.array?.first, let name = first["SpecialToken"]?["id"]?.string
        {
            addsBOS = addsBOS ?? true
            bos = bos ?? tokenId(of: .string(name))
        }
        let unknown = tokenId(of: modelJSON["unk_token"])
        if let id = unknown, types[Int(id)] == .normal { types[Int(id)] = .unknown }

        var chatTemplate = config?["chat_template"]?.string
        if chatTemplate == nil, let list = config?["chat_template"]?.array {
            chatTemplate = (list.first { $0["name"]?.string == "default" } ?? list.first)?["template"]?.string
        }
        return TokenizerDefinition(
            model: model, pieces: pieces, types: types, merges: merges, addedTokens: added,
            bosTokenId: bos, eosTokenId: eos, unknownTokenId: unknown,
            paddingTokenId: tokenId(of: config?["pad_token"]),
            addsBOS: addsBOS ?? false, addsEOS: config?["add_eos_token"]?.bool ?? false,
            spacePrefix: spacePrefix, chatTemplate: chatTemplate)
    }

    /// Byte-level (with its split pattern) or SentencePiece, from the normalizer / pre-tokenizer / decoder.
    private static func modelKind(
        _ json: JSONValue, path: String
    ) throws(TokenizerError) -> (TokenizerDefinition.Model, TokenizerDefinition.SpacePrefix) {
        func flatten(_ value: JSONValue?, _ listKey: String) -> [JSONValue] {
            guard let value, value.members != nil else { return [] }
            if value["type"]?.string == "Sequence", let items = value[listKey]?.array {
                return items.flatMap { flatten($0, listKey) }
            }
            return [value]
        }
        let pre = flatten(json["pre_tokenizer"], "pretokenizers")
        let normalizers = flatten(json["normalizer"], "normalizers")
        let decoders = flatten(json["decoder"], "decoders")
        func has(_ steps: [JSONValue], _ type: String) -> Bool { steps.contains { $0["type"]?.string == type } }

        for step in pre where step["type"]?.string == "Split" {
            let pattern = step["pattern"]?["Regex"]?.string ?? step["pattern"]?["String"]?.string ?? ""
            if pattern.contains("\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}") { return (.byteLevel(.o200k), .none) }
            throw .unsupported(source: path, what: "pre_tokenizer Split pattern '\(pattern)'")
        }
        if has(pre, "ByteLevel") || has(decoders, "ByteLevel") { return (.byteLevel(.gpt2), .none) }
        if let metaspace = pre.first(where: { $0["type"]?.string == "Metaspace" }) {
            switch metaspace["prepend_scheme"]?.string {
            case "first": return (.sentencePiece, .first)
            case "never": return (.sentencePiece, .none)
            case "always": return (.sentencePiece, .always)
            default: return (.sentencePiece, (metaspace["add_prefix_space"]?.bool ?? true) ? .always : .none)
            }
        }
        let prepends = normalizers.contains {
            $0["type"]?.string == "Prepend" && $0["prepend"]?.string == "\u{2581}"
        }
        let replacesSpace = normalizers.contains {
            $0["type"]?.string == "Replace" && $0["content"]?.string == "\u{2581}"
        }
        if prepends || replacesSpace || has(decoders, "ByteFallback") {
            return (.sentencePiece, prepends ? .always : .none)
        }
        throw .unsupported(source: path, what: "tokenizer layout (neither byte-level nor SentencePiece BPE)")
    }
}
