// Incremental decoding that only ever emits whole UTF-8 characters (mlx-swift-lm's
// StreamingDetokenizer role), with the same result as decoding all ids at once.

/// Turns a stream of token ids into text pieces. The concatenation of everything `append` and
/// `finish` return equals `tokenizer.decode(allIds, skipSpecialTokens:)`: a character split across
/// tokens (byte-level pieces, SentencePiece `<0xNN>` byte fallback) is held back until complete, and
/// the SentencePiece leading space of the first piece is dropped as `decode` drops it.
public struct StreamingDetokenizer: Sendable {
    public let tokenizer: any Tokenizer
    public let skipSpecialTokens: Bool
    private var pending: [UInt8] = []
    private var stripsLeadingSpace: Bool

    /// - Parameter stripsLeadingSpace: drop one leading space from the first non-empty piece; nil
    ///   uses the tokenizer's rule (SentencePiece dummy prefix).
    public init(tokenizer: any Tokenizer, skipSpecialTokens: Bool = true, stripsLeadingSpace: Bool? = nil) {
        self.tokenizer = tokenizer
        self.skipSpecialTokens = skipSpecialTokens
        self.stripsLeadingSpace = stripsLeadingSpace ?? tokenizer.stripsLeadingSpaceOnDecode
    }

    /// Adds one token; returns the text that became complete ("" while a character is unfinished).
    public mutating func append(_ id: Int32) -> String {
        var bytes = tokenizer.tokenBytes(id, skipSpecialTokens: skipSpecialTokens)
        guard !bytes.isEmpty else { return "" }
        if stripsLeadingSpace {
            stripsLeadingSpace = false
            if bytes.first == 0x20 { bytes.removeFirst() }
        }
        pending.append(contentsOf: bytes)
        let cut = Self.completePrefixLength(pending)
        guard cut > 0 else { return "" }
        let text = String(decoding: pending[..<cut], as: UTF8.self)
        pending.removeFirst(cut)
        return text
    }

    /// Adds several tokens; returns the text that became complete.
    public mutating func append<S: Sequence>(contentsOf ids: S) -> String where S.Element == Int32 {
        var text = ""
        for id in ids { text += append(id) }
        return text
    }

    /// The bytes still held back (an unfinished character), decoded with U+FFFD for what is invalid.
    /// The detokenizer is empty afterwards.
    public mutating func finish() -> String {
        defer { pending.removeAll() }
        return String(decoding: pending, as: UTF8.self)
    }

    /// True while bytes of an unfinished character are held back.
    public var hasPendingBytes: Bool { !pending.isEmpty }

    /// Length of the longest prefix that does not end inside a UTF-8 sequence which could still
    /// be completed by more bytes.
    static func completePrefixLength(_ b: [UInt8]) -> Int {
        var i = b.count - 1
        var continuation = 0
        while i >= 0, continuation < 4 {
            let c = b[i]
            if c & 0xC0 == 0x80 {
                continuation += 1
                i -= 1
                continue
            }
            let needed: Int
            switch c {
            case 0xC2...0xDF: needed = 2
            case 0xE0...0xEF: needed = 3
            case 0xF0...0xF4: needed = 4
            default: needed = 1  // ASCII or a byte that can never start a valid sequence
            }
            return b.count - i < needed ? i : b.count
        }
        return b.count  // stray continuation bytes: invalid whatever follows
    }
}
