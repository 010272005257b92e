/// How a request becomes a feature vector: hashed word n-grams plus a fixed list of structural features.
///
/// Layout of the vector: indices `0 ..< hashDimension` hold the hashed n-gram counts of the whole text
/// (history turns then prompt), L2-normalised; indices `hashDimension ..< dimension` hold the structural features
/// in the order of `StructuralFeature.allCases` (each scaled to roughly [0, 1]). Tokens are runs of ASCII letters
/// and digits (lower-cased; bytes ≥ 0x80 count as letters) and single punctuation characters; each n-gram is
/// hashed with FNV-1a 64 and reduced modulo `hashDimension`.
public struct DifficultyFeatureSpec: Sendable, Hashable, Codable {
    /// log2 of the hashed part's size.
    public var hashBits: Int
    /// Longest word n-gram hashed (1 = unigrams, 2 = unigrams and bigrams).
    public var maxWordNGram: Int
    /// Version of the structural feature list; bump when `StructuralFeature` changes.
    public var structuralVersion: Int

    public init(hashBits: Int = 18, maxWordNGram: Int = 2, structuralVersion: Int = StructuralFeature.version) {
        self.hashBits = hashBits
        self.maxWordNGram = maxWordNGram
        self.structuralVersion = structuralVersion
    }

    enum CodingKeys: String, CodingKey {
        case hashBits = "hash_bits"
        case maxWordNGram = "max_word_ngram"
        case structuralVersion = "structural_version"
    }

    public var hashDimension: Int { 1 << hashBits }
    /// Structural entries after the hashed part: version 1 the `StructuralFeature` list; version 2 that list
    /// followed by each feature times each `PromptKind` indicator (kind-major: all features × code, then × math,
    /// then × word), so the linear model has a separate slope per kind of prompt.
    public var structuralCount: Int {
        let base = StructuralFeature.allCases.count
        return structuralVersion >= 2 ? base * (1 + PromptKind.allCases.count) : base
    }
    public var dimension: Int { hashDimension + structuralCount }

    /// Problems with the spec, or nil when this build can compute it.
    public var problem: String? {
        if !(8...24).contains(hashBits) { return "hash_bits: expected 8…24, found \(hashBits)" }
        if !(1...3).contains(maxWordNGram) { return "max_word_ngram: expected 1…3, found \(maxWordNGram)" }
        if !StructuralFeature.supportedVersions.contains(structuralVersion) {
            return "structural_version: this build computes versions \(StructuralFeature.supportedVersions.map(String.init).joined(separator: ", ")), found \(structuralVersion)"
        }
        return nil
    }
}

/// The structural features, in vector order. Each is squashed to roughly [0, 1].
public enum StructuralFeature: Int, CaseIterable, Sendable, Codable {
    /// log(1 + characters) / 10
    case characters
    /// log(1 + words) / 8
    case words
    /// log(1 + estimated tokens) / 8, tokens estimated as UTF-8 bytes / 4
    case estimatedTokens
    /// digits / characters
    case digitRatio
    /// log(1 + numbers) / 4
    case numbers
    /// log(1 + length of the longest number) / 3
    case longestNumber
    /// log(1 + LaTeX markers: backslashes, `$`, `^`, `_{`) / 4
    case mathMarkup
    /// (+ - * / = < > ^ %) per character × 10, capped at 1
    case operatorRatio
    /// log(1 + code markers: `def `, `return`, `[PYTHON]`, `{`, `;`, `==`, indented lines) / 4
    case codeMarkers
    /// log(1 + lines) / 5
    case lines
    /// log(1 + question marks) / 2
    case questionMarks
    /// log(1 + multi-step cue words: then, after, each, total, remaining, ...) / 3
    case multiStepCues
    /// log(1 + question words: what, how, why, which, ...) / 3
    case questionWords
    /// options in the form A) / B. / (C) at a line start, / 4, capped at 1
    case options
    /// log(1 + earlier turns) / 2
    case historyTurns
    /// log(1 + words of six or more letters) / 7
    case longWords
    /// constant 1 (lets per-feature scaling stay simple; the model has its own bias too)
    case one

    /// The version new models use.
    public static let version = 2
    public static let supportedVersions = [1, 2]
}

/// A cheap guess of what kind of prompt this is, from its text alone (no task label): `code` when it contains a
/// `def` word (a Python function), else `math` when it has LaTeX markup (a backslash command such as `\frac`,
/// `^`, or `_{`), else `word` (prose: word problems, questions, chat).
public enum PromptKind: Int, CaseIterable, Sendable {
    case code
    case math
    case word
}
