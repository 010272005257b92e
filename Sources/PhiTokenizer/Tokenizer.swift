// The tokenizer role shared by the inference engine, the sampler and the command line.

/// A text ⇄ token id mapping, shaped after mlx-swift-lm's `Tokenizer` protocol.
///
/// Ids are `Int32`, the type GGUF and the model kernels use.
public protocol Tokenizer: Sendable {
    /// Number of entries in the vocabulary (the largest id is `vocabularySize - 1`).
    var vocabularySize: Int { get }
    /// The id put at the start of a sequence when `addSpecialTokens` is true, if the tokenizer adds one.
    var bosTokenId: Int32? { get }
    /// The tokenizer's `eos` id.
    var eosTokenId: Int32? { get }
    /// Ids that end a generation: `eos` plus end-of-turn ids such as `<|end|>`.
    var eosTokenIds: Set<Int32> { get }
    /// Ids inside the vocabulary that encoding never produces and a model should never sample
    /// (padding such as phi-3's `[PAD32011]`…`[PAD32063]`, phi-2's `[PAD50295]`…), ascending.
    var unusedTokenIds: [Int32] { get }

    /// Token ids of `text`.
    /// - Parameters:
    ///   - addSpecialTokens: add the tokenizer's BOS (and EOS) as Hugging Face does with `add_special_tokens`.
    ///   - parseSpecialTokens: recognise control tokens such as `<|user|>` written in the text; when
    ///     false they are tokenized as plain text. User-defined added tokens (phi-2's whitespace runs)
    ///     are always recognised, as in llama.cpp and Hugging Face.
    func encode(_ text: String, addSpecialTokens: Bool, parseSpecialTokens: Bool) -> [Int32]

    /// The bytes a token stands for in decoded text (empty for an unknown id, or a special token when
    /// `skipSpecialTokens`). SentencePiece pieces keep their leading space here.
    func tokenBytes(_ id: Int32, skipSpecialTokens: Bool) -> [UInt8]
    /// True when decoding drops one leading space of the decoded text (SentencePiece dummy prefix).
    var stripsLeadingSpaceOnDecode: Bool { get }

    /// The vocabulary entry as stored (`Ġhello`, `▁Hello`, `<0x0A>`, `<|end|>`), nil for an unknown id.
    func tokenPiece(_ id: Int32) -> String?
    /// The id of a vocabulary entry written as stored.
    func tokenId(forPiece piece: String) -> Int32?
    /// True for control tokens (`<s>`, `<|endoftext|>`, `<|user|>`, …).
    func isSpecial(_ id: Int32) -> Bool
}

extension Tokenizer {
    /// Token ids of `text`, recognising special tokens written in it.
    public func encode(_ text: String, addSpecialTokens: Bool = true) -> [Int32] {
        encode(text, addSpecialTokens: addSpecialTokens, parseSpecialTokens: true)
    }

    /// The text of `ids`; invalid UTF-8 becomes U+FFFD.
    public func decode(_ ids: [Int32], skipSpecialTokens: Bool = true) -> String {
        var bytes: [UInt8] = []
        for id in ids {
            bytes.append(contentsOf: tokenBytes(id, skipSpecialTokens: skipSpecialTokens))
        }
        if stripsLeadingSpaceOnDecode, bytes.first == 0x20 {
            bytes.removeFirst()
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Ids a sampler must mask for a model whose output layer has `logitCount` rows: the unused ids
    /// of the vocabulary plus every id from `vocabularySize` up to `logitCount` (models often pad
    /// their embedding beyond the tokenizer, e.g. phi-2: 50295 tokens, 51200 rows).
    public func maskedTokenIds(logitCount: Int) -> [Int32] {
        var ids = unusedTokenIds.filter { Int($0) < logitCount }
        if logitCount > vocabularySize {
            ids.append(contentsOf: (vocabularySize..<logitCount).map { Int32($0) })
        }
        return ids
    }
}

/// The failures of the tokenizer module: loading a vocabulary and resolving a chat template.
public enum TokenizerError: Error, Equatable, CustomStringConvertible {
    /// A file could not be read or parsed. `path` names the file, `reason` what was wrong.
    case invalidFile(path: String, reason: String)
    /// A required key is missing or has the wrong type (`source`: file or "GGUF metadata").
    case invalidValue(source: String, key: String, reason: String)
    /// The tokenizer model or pre-tokenizer is not one this module implements.
    case unsupported(source: String, what: String)
    /// No known chat template matches and no architecture default applies.
    case unknownChatTemplate(String)

    public var description: String {
        switch self {
        case let .invalidFile(path, reason):
            "\(path): \(reason)"
        case let .invalidValue(source, key, reason):
            "\(source): \(key): \(reason)"
        case let .unsupported(source, what):
            "\(source): unsupported \(what)"
        case let .unknownChatTemplate(what):
            "unknown chat template: \(what)"
        }
    }
}
