// Byte-level BPE (GPT-2 / phi-2 / o200k) and SentencePiece BPE with byte fallback (phi-3), as
// Hugging Face tokenizers and llama.cpp run them.

import Synchronization

/// The concrete tokenizer for every Phi vocabulary. Build one from a `TokenizerDefinition`, or load
/// one with `BPETokenizer(tokenizerJSON:)` / `BPETokenizer(gguf:)`.
public final class BPETokenizer: Tokenizer {
    public let definition: TokenizerDefinition
    /// Piece → id keyed by UTF-8 bytes: `String` keys would merge canonically equivalent pieces.
    private let pieceIds: [[UInt8]: Int32]
    private let merger: BPEMerger
    private let splitter: AddedTokenSplitter
    /// Byte-level: the id of the one-character token of each byte. SentencePiece: `<0xNN>` ids.
    private let byteIds: [Int32?]
    /// SentencePiece: ids of one-scalar pieces.
    private let scalarIds: [UInt32: Int32]
    private let wordCache = Mutex<[[UInt8]: [Int32]]>([:])
    private static let wordCacheLimit = 50_000

    public let eosTokenIds: Set<Int32>
    public let unusedTokenIds: [Int32]

    public init(_ definition: TokenizerDefinition) throws(TokenizerError) {
        let source = "tokenizer definition"
        guard definition.types.count == definition.pieces.count else {
            throw .invalidValue(
                source: source, key: "types",
                reason: "expected \(definition.pieces.count) token types, found \(definition.types.count)")
        }
        if let scores = definition.scores, scores.count != definition.pieces.count {
            throw .invalidValue(
                source: source, key: "scores",
                reason: "expected \(definition.pieces.count) scores, found \(scores.count)")
        }
        for id in [definition.bosTokenId, definition.eosTokenId, definition.unknownTokenId,
                   definition.paddingTokenId].compactMap({ $0 })
        where id < 0 || Int(id) >= definition.pieces.count {
            throw .invalidValue(
                source: source, key: "special token id",
                reason: "id \(id) outside the vocabulary of \(definition.pieces.count)")
        }
        for token in definition.addedTokens where token.id < 0 || Int(token.id) >= definition.pieces.count {
            throw .invalidValue(
                source: source, key: "added token '\(token.content)'",
                reason: "id \(token.id) outside the vocabulary of \(definition.pieces.count)")
        }
        self.definition = definition

        var ids: [[UInt8]: Int32] = [:]
        ids.reserveCapacity(definition.pieces.count)
        for (i, piece) in definition.pieces.enumerated() where ids[Array(piece.utf8)] == nil {
            ids[Array(piece.utf8)] = Int32(i)
        }
        pieceIds = ids
        splitter = AddedTokenSplitter(definition.addedTokens)

        let types = definition.types
        func isMergeable(_ id: Int32) -> Bool {
            let t = types[Int(id)]
            return t == .normal || t == .undefined
        }
        var merger = BPEMerger()
        if let merges = definition.merges {
            for (rank, rule) in merges.enumerated() {
                let left = Array(rule.left.utf8)
                let right = Array(rule.right.utf8)
                guard let l = ids[left], let r = ids[right], let m = ids[left + right] else {
                    continue
                }
                merger.add(left: l, right: r, result: m, priority: Float(rank))
            }
        } else if let scores = definition.scores {
            // SentencePiece BPE: any two pieces whose concatenation is a piece merge, best score first.
            for (i, piece) in definition.pieces.enumerated() where isMergeable(Int32(i)) {
                let bytes = Array(piece.utf8)
                guard bytes.count > 1 else { continue }
                for cut in 1..<bytes.count where bytes[cut] & 0xC0 != 0x80 {
                    guard let l = ids[Array(bytes[..<cut])], let r = ids[Array(bytes[cut...])],
                        isMergeable(l), isMergeable(r)
                    else { continue }
                    merger.add(left: l, right: r, result: Int32(i), priority: -scores[i])
                }
            }
        }
        self.merger = merger

        var byteIds = [Int32?](repeating: nil, count: 256)
        var scalarIds: [UInt32: Int32] = [:]
        switch definition.model {
        case .byteLevel:
            for b in 0..<256 {
                byteIds[b] = ids[Array(String(ByteLevel.byteToScalar[b]).utf8)]
            }
        case .sentencePiece:
            for b in 0..<256 {
                let hex = String(b, radix: 16, uppercase: true)
                byteIds[b] = ids[Array(("<0x" + (hex.count == 1 ? "0" + hex : hex) + ">").utf8)]
            }
            for (i, piece) in definition.pieces.enumerated() where isMergeable(Int32(i)) {
                let scalars = piece.unicodeScalars
                if scalars.count == 1, let s = scalars.first, scalarIds[s.value] == nil {
                    scalarIds[s.value] = Int32(i)
                }
            }
        }
        self.byteIds = byteIds
        self.scalarIds = scalarIds

        var eos = Set<Int32>()
        if let e = definition.eosTokenId { eos.insert(e) }
        eos.formUnion(definition.endOfTurnTokenIds)
        for name in ["<|end|>", "<|endoftext|>", "<|im_end|>", "<|eot_id|>", "<end_of_turn>"] {
            if let id = ids[Array(name.utf8)], types[Int(id)] == .control || types[Int(id)] == .userDefined {
                eos.insert(id)
            }
        }
        eosTokenIds = eos
        var unused: [Int32] = []
        for (i, piece) in definition.pieces.enumerated() {
            let t = types[i]
            if t == .unused || (t == .unknown && Int32(i) != definition.unknownTokenId)
                || (piece.hasPrefix("[PAD") && piece.hasSuffix("]"))
            {
                unused.append(Int32(i))
            }
        }
        unusedTokenIds = unused
    }

    // MARK: Tokenizer

    public var vocabularySize: Int { definition.pieces.count }
    public var bosTokenId: Int32? { definition.addsBOS ? definition.bosTokenId : nil }
    public var eosTokenId: Int32? { definition.eosTokenId }
    public var chatTemplateSource: String? { definition.chatTemplate }

    public var stripsLeadingSpaceOnDecode: Bool {
        definition.model == .sentencePiece && definition.spacePrefix != .none
    }

    public func tokenPiece(_ id: Int32) -> String? {
        guard id >= 0, Int(id) < definition.pieces.count else { return nil }
        return definition.pieces[Int(id)]
    }

    public func tokenId(forPiece piece: String) -> Int32? { pieceIds[Array(piece.utf8)] }

    public func tokenType(_ id: Int32) -> TokenType? {
        guard id >= 0, Int(id) < definition.types.count else { return nil }
        return definition.types[Int(id)]
    }

    public func isSpecial(_ id: Int32) -> Bool {
        switch tokenType(id) {
        case .control, .unknown, .unused: true
        default: false
        }
    }

    public func encode(_ text: String, addSpecialTokens: Bool, parseSpecialTokens: Bool) -> [Int32] {
        var out: [Int32] = []
        if addSpecialTokens, definition.addsBOS, let bos = definition.bosTokenId { out.append(bos) }
        let scalars = Array(text.unicodeScalars)
        let fragments: [AddedTokenSplitter.Fragment] =
            splitter.isEmpty
            ? (scalars.isEmpty ? [] : [.text(0..<scalars.count)])
            : splitter.split(scalars, parseSpecialTokens: parseSpecialTokens)
        for fragment in fragments {
            switch fragment {
            case let .token(id):
                out.append(id)
            case let .text(range):
                switch definition.model {
                case let .byteLevel(pre):
                    encodeByteLevel(scalars[range], preTokenizer: pre, into: &out)
                case .sentencePiece:
                    let prefix: Bool
                    switch definition.spacePrefix {
                    case .none: prefix = false
                    case .always: prefix = true
                    case .first: prefix = range.lowerBound == 0
                    }
                    encodeSentencePiece(scalars[range], spacePrefix: prefix, into: &out)
                }
            }
        }
        if addSpecialTokens, definition.addsEOS, let eos = definition.eosTokenId { out.append(eos) }
        return out
    }

    public func tokenBytes(_ id: Int32, skipSpecialTokens: Bool) -> [UInt8] {
        guard id >= 0, Int(id) < definition.pieces.count else { return [] }
        let piece = definition.pieces[Int(id)]
        switch definition.types[Int(id)] {
        case .control, .unknown, .unused:
            return skipSpecialTokens ? [] : Array(piece.utf8)
        case .userDefined:
            return Array(piece.utf8)
        case .byte:
            return Self.byteValue(ofPiece: piece).map { [$0] } ?? Array(piece.utf8)
        case .normal, .undefined:
            switch definition.model {
            case .byteLevel:
                return ByteLevel.decode(piece) ?? Array(piece.utf8)
            case .sentencePiece:
                var bytes: [UInt8] = []
                bytes.reserveCapacity(piece.utf8.count)
                var it = piece.unicodeScalars.makeIterator()
                while let s = it.next() {
                    if s == "\u{2581}" { bytes.append(0x20) } else { UTF8.encode(s) { bytes.append($0) } }
                }
                return bytes
            }
        }
    }

    // MARK: Algorithms

    /// `<0xNN>` → NN.
    static func byteValue(ofPiece piece: String) -> UInt8? {
        let u = Array(piece.utf8)
        guard u.count == 6, u[0] == 0x3C, u[1] == 0x30, u[2] == 0x78, u[5] == 0x3E else { return nil }
        return UInt8(String(decoding: u[3...4], as: UTF8.self), radix: 16)
    }

    private func encodeByteLevel(_ text: ArraySlice<Unicode.Scalar>, preTokenizer: PreTokenizer, into out: inout [Int32]) {
        let scalars = Array(text)
        for range in preTokenizer.ranges(of: scalars) {
            var bytes: [UInt8] = []
            for s in scalars[range] { UTF8.encode(s) { bytes.append($0) } }
            if let cached = wordCache.withLock({ $0[bytes] }) {
                out.append(contentsOf: cached)
                continue
            }
            var symbols: [Int32] = []
            symbols.reserveCapacity(bytes.count)
            for b in bytes {
                if let id = byteIds[Int(b)] {
                    symbols.append(id)
                } else if let unk = definition.unknownTokenId {
                    symbols.append(unk)
                }
            }
            let ids = merger.apply(symbols)
            wordCache.withLock { cache in
                if cache.count >= Self.wordCacheLimit { cache.removeAll(keepingCapacity: true) }
                cache[bytes] = ids
            }
            out.append(contentsOf: ids)
        }
    }

    private func encodeSentencePiece(_ text: ArraySlice<Unicode.Scalar>, spacePrefix: Bool, into out: inout [Int32]) {
        guard !text.isEmpty else { return }
        var symbols: [Int32] = []
        symbols.reserveCapacity(text.count + 1)
        func append(_ s: Unicode.Scalar) {
            if let id = scalarIds[s.value] {
                symbols.append(id)
                return
            }
            // Byte fallback: each UTF-8 byte as `<0xNN>`, or `<unk>` where the vocabulary lacks it.
            var fallback: [Int32] = []
            var complete = true
            UTF8.encode(s) { b in
                if let id = byteIds[Int(b)] { fallback.append(id) } else { complete = false }
            }
            if complete {
                symbols.append(contentsOf: fallback)
            } else if let unk = definition.unknownTokenId {
                symbols.append(unk)
            }
        }
        if spacePrefix { append("\u{2581}") }
        for s in text { append(s == " " ? "\u{2581}" : s) }
        out.append(contentsOf: merger.apply(symbols))
    }
}

extension BPETokenizer {
    /// One line for `phigate model inspect`: kind, pre-tokenizer and size.
    public var summary: String {
        let kind: String
        switch definition.model {
        case let .byteLevel(pre): kind = "byte-level BPE (\(pre.rawValue) pre-tokenizer)"
        case .sentencePiece: kind = "SentencePiece BPE with byte fallback"
        }
        return "\(kind), \(vocabularySize) tokens, \(definition.addedTokens.count) added tokens"
    }
}
