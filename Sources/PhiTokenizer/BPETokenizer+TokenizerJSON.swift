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
        let json = try Self.jsonObject(at: tokenizerJSON)
        let configJSON = try config.map { url throws(TokenizerError) in try Self.jsonObject(at: url) }
        try self.init(Self.definition(tokenizerJSON: json, config: configJSON, path: tokenizerJSON.path))
    }

    static func jsonObject(at url: URL) throws(TokenizerError) -> [String: Any] {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw .invalidFile(path: url.path, reason: "cannot read: \(error.localizedDescription)")
        }
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: data)
        } catch {
            throw .invalidFile(path: url.path, reason: "not valid JSON")
        }
        guard let dict = object as? [String: Any] else {
            throw .invalidFile(path: url.path, reason: "expected a JSON object at the top level")
        }
        return dict
    }

    /// The definition described by parsed `tokenizer.json` / `tokenizer_config.json` objects.
    static func definition(
        tokenizerJSON json: [String: Any], config: [String: Any]?, path: String
    ) throws(TokenizerError) -> TokenizerDefinition {
        func invalid(_ key: String, _ reason: String) -> TokenizerError {
            .invalidValue(source: path, key: key, reason: reason)
        }
        guard let modelJSON = json["model"] as? [String: Any] else { throw invalid("model", "missing object") }
        guard (modelJSON["type"] as? String) == "BPE" else {
            throw .unsupported(source: path, what: "model.type '\(modelJSON["type"] ?? "none")' (expected BPE)")
        }
        guard let vocab = modelJSON["vocab"] as? [String: Any] else { throw invalid("model.vocab", "missing object") }
        let addedJSON = json["added_tokens"] as? [[String: Any]] ?? []

        var maxId = -1
        var entries: [(String, Int)] = []
        entries.reserveCapacity(vocab.count)
        for (piece, value) in vocab {
            guard let id = (value as? NSNumber)?.intValue, id >= 0 else {
                throw invalid("model.vocab['\(piece)']", "expected a non-negative integer id")
            }
            entries.append((piece, id))
            maxId = max(maxId, id)
        }
        var added: [AddedToken] = []
        for (i, token) in addedJSON.enumerated() {
            guard let id = (token["id"] as? NSNumber)?.intValue, id >= 0, let content = token["content"] as? String else {
                throw invalid("added_tokens[\(i)]", "expected 'id' and 'content'")
            }
            added.append(AddedToken(
                id: Int32(id), content: content, isSpecial: token["special"] as? Bool ?? false,
                stripsLeft: token["lstrip"] as? Bool ?? false, stripsRight: token["rstrip"] as? Bool ?? false))
            maxId = max(maxId, id)
        }
        guard maxId >= 0, maxId < Int(Int32.max) else { throw invalid("model.vocab", "empty vocabulary") }
        var pieces = [String](repeating: "", count: maxId + 1)
        var types = [TokenType](repeating: .unused, count: maxId + 1)
        for (piece, id) in entries {
            pieces[id] = piece
            types[id] = .normal
        }
        let byteFallback = modelJSON["byte_fallback"] as? Bool ?? false
        if byteFallback {
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
        if let list = modelJSON["merges"] as? [Any] {
            merges.reserveCapacity(list.count)
            for (i, item) in list.enumerated() {
                if let pair = item as? [String], pair.count == 2 {
                    merges.append(MergeRule(left: pair[0], right: pair[1]))
                } else if let line = item as? String {
                    let parts = line.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false)
                    guard parts.count == 2 else { throw invalid("model.merges[\(i)]", "expected 'left right'") }
                    merges.append(MergeRule(left: String(parts[0]), right: String(parts[1])))
                } else {
                    throw invalid("model.merges[\(i)]", "expected a pair of strings")
                }
            }
        }

        let (model, spacePrefix) = try Self.modelKind(json, path: path)

        func tokenId(of value: Any?) -> Int32? {
            let content: String? = (value as? String) ?? ((value as? [String: Any])?["content"] as? String)
            guard let content else { return nil }
            if let token = added.first(where: { $0.content == content }) { return token.id }
            if let id = vocab[content] as? NSNumber { return Int32(id.intValue) }
            return nil
        }
        var bos = tokenId(of: config?["bos_token"])
        let eos = tokenId(of: config?["eos_token"])
        var addsBOS = config?["add_bos_token"] as? Bool
        if let processor = json["post_processor"] as? [String: Any], processor["type"] as? String == "TemplateProcessing",
            let single = processor["single"] as? [[String: Any]], let first = single.first,
            let special = first["SpecialToken"] as? [String: Any], let name = special["id"] as? String
        {
            addsBOS = addsBOS ?? true
            bos = bos ?? tokenId(of: name)
        }
        if let id = (modelJSON["unk_token"] as? String).flatMap({ tokenId(of: $0) }), types[Int(id)] == .normal {
            types[Int(id)] = .unknown
        }

        var chatTemplate: String? = config?["chat_template"] as? String
        if chatTemplate == nil, let list = config?["chat_template"] as? [[String: Any]] {
            chatTemplate = (list.first { $0["name"] as? String == "default" } ?? list.first)?["template"] as? String
        }
        return TokenizerDefinition(
            model: model, pieces: pieces, types: types, merges: merges, addedTokens: added,
            bosTokenId: bos, eosTokenId: eos,
            unknownTokenId: (modelJSON["unk_token"] as? String).flatMap { tokenId(of: $0) },
            paddingTokenId: tokenId(of: config?["pad_token"]),
            addsBOS: addsBOS ?? false, addsEOS: config?["add_eos_token"] as? Bool ?? false,
            spacePrefix: spacePrefix, chatTemplate: chatTemplate)
    }

    /// Byte-level (with its split pattern) or SentencePiece, from the normalizer / pre-tokenizer / decoder.
    private static func modelKind(
        _ json: [String: Any], path: String
    ) throws(TokenizerError) -> (TokenizerDefinition.Model, TokenizerDefinition.SpacePrefix) {
        func flatten(_ value: Any?, _ listKey: String) -> [[String: Any]] {
            guard let dict = value as? [String: Any] else { return [] }
            if dict["type"] as? String == "Sequence", let items = dict[listKey] as? [[String: Any]] {
                return items.flatMap { flatten($0, listKey) }
            }
            return [dict]
        }
        let pre = flatten(json["pre_tokenizer"], "pretokenizers")
        let normalizers = flatten(json["normalizer"], "normalizers")
        let decoders = flatten(json["decoder"], "decoders")

        for step in pre where step["type"] as? String == "Split" {
            let pattern = ((step["pattern"] as? [String: Any])?["Regex"] as? String) ?? ""
            if pattern.contains("\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}") { return (.byteLevel(.o200k), .none) }
            throw .unsupported(source: path, what: "pre_tokenizer Split pattern '\(pattern)'")
        }
        if pre.contains(where: { $0["type"] as? String == "ByteLevel" })
            || decoders.contains(where: { $0["type"] as? String == "ByteLevel" })
        {
            return (.byteLevel(.gpt2), .none)
        }
        if let metaspace = pre.first(where: { $0["type"] as? String == "Metaspace" }) {
            switch metaspace["prepend_scheme"] as? String {
            case "first": return (.sentencePiece, .first)
            case "never": return (.sentencePiece, .none)
            case "always": return (.sentencePiece, .always)
            default: return (.sentencePiece, (metaspace["add_prefix_space"] as? Bool ?? true) ? .always : .none)
            }
        }
        let prepends = normalizers.contains {
            $0["type"] as? String == "Prepend" && $0["prepend"] as? String == "\u{2581}"
        }
        let replacesSpace = normalizers.contains {
            $0["type"] as? String == "Replace" && $0["content"] as? String == "\u{2581}"
        }
        if prepends || replacesSpace || decoders.contains(where: { $0["type"] as? String == "ByteFallback" }) {
            return (.sentencePiece, prepends ? .always : .none)
        }
        throw .unsupported(source: path, what: "tokenizer layout (neither byte-level nor SentencePiece BPE)")
    }
}
