// Everything a loader reads about a BPE tokenizer, independent of the file it came from.

/// GGUF's `tokenizer.ggml.token_type` values (llama.cpp `llama_token_type`).
public enum TokenType: Int32, Sendable {
    case undefined = 0
    case normal = 1
    case unknown = 2
    case control = 3
    case userDefined = 4
    case unused = 5
    case byte = 6
}

/// A token matched in the text before BPE runs (Hugging Face `added_tokens`, GGUF control and
/// user-defined tokens).
public struct AddedToken: Sendable, Equatable {
    public var id: Int32
    public var content: String
    /// Special (control) tokens are recognised only when `parseSpecialTokens` is true.
    public var isSpecial: Bool
    /// Whitespace before the token is absorbed (Hugging Face `lstrip`).
    public var stripsLeft: Bool
    /// Whitespace after the token is absorbed (Hugging Face `rstrip`).
    public var stripsRight: Bool

    public init(id: Int32, content: String, isSpecial: Bool, stripsLeft: Bool = false, stripsRight: Bool = false) {
        self.id = id
        self.content = content
        self.isSpecial = isSpecial
        self.stripsLeft = stripsLeft
        self.stripsRight = stripsRight
    }
}

/// A BPE tokenizer as data: vocabulary, merges and special-token settings.
public struct TokenizerDefinition: Sendable {
    /// The BPE flavour.
    public enum Model: Sendable, Equatable {
        /// GPT-2 byte-level BPE (phi-2, phi-4-mini) with the given pre-tokenizer.
        case byteLevel(PreTokenizer)
        /// SentencePiece BPE with `▁` for spaces and `<0xNN>` byte fallback (phi-3, llama).
        case sentencePiece
    }

    /// Where SentencePiece adds its dummy `▁` prefix.
    public enum SpacePrefix: Sendable, Equatable {
        /// Never (`add_space_prefix = false`, Metaspace `never`).
        case none
        /// Before every text fragment that starts the input or follows an added token (legacy
        /// Llama/Phi-3 `Prepend("▁")` normalizer, llama.cpp's SPM session).
        case always
        /// Only before a fragment at the very start of the input (Metaspace `first`).
        case first
    }

    public var model: Model
    /// The vocabulary entries as stored, indexed by id.
    public var pieces: [String]
    /// One type per piece (`.normal` when the source has none).
    public var types: [TokenType]
    /// SentencePiece scores (GGUF `tokenizer.ggml.scores`), used to merge when `merges` is nil.
    public var scores: [Float]?
    /// Merge rules by rank (`left`, `right`), as in GGUF `tokenizer.ggml.merges` or tokenizer.json.
    public var merges: [MergeRule]?
    public var addedTokens: [AddedToken]
    public var bosTokenId: Int32?
    public var eosTokenId: Int32?
    /// Extra end-of-generation ids (GGUF `eot_token_id`, `eom_token_id`).
    public var endOfTurnTokenIds: [Int32]
    public var unknownTokenId: Int32?
    public var paddingTokenId: Int32?
    public var addsBOS: Bool
    public var addsEOS: Bool
    public var spacePrefix: SpacePrefix
    /// The chat template source (Jinja) shipped with the tokenizer, if any.
    public var chatTemplate: String?

    public init(
        model: Model, pieces: [String], types: [TokenType]? = nil, scores: [Float]? = nil,
        merges: [MergeRule]? = nil, addedTokens: [AddedToken] = [], bosTokenId: Int32? = nil,
        eosTokenId: Int32? = nil, endOfTurnTokenIds: [Int32] = [], unknownTokenId: Int32? = nil,
        paddingTokenId: Int32? = nil, addsBOS: Bool = false, addsEOS: Bool = false,
        spacePrefix: SpacePrefix = .none, chatTemplate: String? = nil
    ) {
        self.model = model
        self.pieces = pieces
        self.types = types ?? Array(repeating: .normal, count: pieces.count)
        self.scores = scores
        self.merges = merges
        self.addedTokens = addedTokens
        self.bosTokenId = bosTokenId
        self.eosTokenId = eosTokenId
        self.endOfTurnTokenIds = endOfTurnTokenIds
        self.unknownTokenId = unknownTokenId
        self.paddingTokenId = paddingTokenId
        self.addsBOS = addsBOS
        self.addsEOS = addsEOS
        self.spacePrefix = spacePrefix
        self.chatTemplate = chatTemplate
    }
}

/// One BPE merge: the pieces `left` and `right` join into `left + right`.
public struct MergeRule: Sendable, Equatable {
    public var left: String
    public var right: String

    public init(left: String, right: String) {
        self.left = left
        self.right = right
    }
}
