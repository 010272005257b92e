// Hand-written scanners equivalent to the GPT-2 and o200k (tiktoken) pre-tokenization regexes.

/// How byte-level BPE splits text into words before merging.
public enum PreTokenizer: String, Sendable, CaseIterable {
    /// GPT-2 / phi-2:
    /// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
    case gpt2
    /// tiktoken `o200k_base` (phi-4-mini, GGUF pre `gpt-4o`):
    /// `[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?`
    /// `|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?`
    /// `|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+`
    case o200k

    /// The words of `text`, in order; their concatenation is `text`.
    public func split(_ text: String) -> [String] {
        let scalars = Array(text.unicodeScalars)
        return ranges(of: scalars).map { range in
            var word = String.UnicodeScalarView()
            word.append(contentsOf: scalars[range])
            return String(word)
        }
    }

    /// The word boundaries of `scalars` as consecutive ranges covering it.
    func ranges(of scalars: [Unicode.Scalar]) -> [Range<Int>] {
        var result: [Range<Int>] = []
        var start = 0
        while start < scalars.count {
            let end: Int
            switch self {
            case .gpt2: end = GPT2Scanner.matchEnd(scalars, at: start)
            case .o200k: end = O200kScanner.matchEnd(scalars, at: start)
            }
            result.append(start..<end)
            start = end
        }
        return result
    }
}

/// Shared pieces of the two patterns.
enum ScannerParts {
    /// End of `\s+(?!\S)|\s+` at `i` (which is whitespace).
    static func whitespaceEnd(_ s: [Unicode.Scalar], at i: Int) -> Int {
        var k = i
        while k < s.count, s[k].isWhitespaceClass { k += 1 }
        if k == s.count { return k }
        // `\s+(?!\S)` backs off one so the last space can join the next word; else `\s+`.
        return k - 1 > i ? k - 1 : k
    }

    /// `'s|'t|'re|'ve|'m|'ll|'d` at `i`, case-sensitive or not; returns the end or nil.
    static func contractionEnd(_ s: [Unicode.Scalar], at i: Int, ignoringCase: Bool) -> Int? {
        guard i + 1 < s.count, s[i] == "'" else { return nil }
        func lower(_ c: Unicode.Scalar) -> Unicode.Scalar {
            if ignoringCase, c.value >= 0x41, c.value <= 0x5A { return Unicode.Scalar(c.value + 0x20)! }
            return c
        }
        let a = lower(s[i + 1])
        if a == "s" || a == "t" || a == "m" || a == "d" { return i + 2 }
        guard i + 2 < s.count else { return nil }
        let b = lower(s[i + 2])
        if (a == "r" && b == "e") || (a == "v" && b == "e") || (a == "l" && b == "l") { return i + 3 }
        return nil
    }
}

/// GPT-2's pattern, alternative by alternative, first match wins.
enum GPT2Scanner {
    static func matchEnd(_ s: [Unicode.Scalar], at i: Int) -> Int {
        if let end = ScannerParts.contractionEnd(s, at: i, ignoringCase: false) { return end }
        let c = s[i]
        // ` ?\p{L}+`, ` ?\p{N}+`, ` ?[^\s\p{L}\p{N}]+`
        let j = (c == " " && i + 1 < s.count) ? i + 1 : i
        let d = s[j]
        if d.isLetterCategory { return run(s, from: j) { $0.isLetterCategory } }
        if d.isNumberCategory { return run(s, from: j) { $0.isNumberCategory } }
        if !d.isWhitespaceClass { return run(s, from: j) { isOther($0) } }
        return ScannerParts.whitespaceEnd(s, at: i)
    }

    static func isOther(_ c: Unicode.Scalar) -> Bool {
        !c.isWhitespaceClass && !c.isLetterCategory && !c.isNumberCategory
    }

    static func run(_ s: [Unicode.Scalar], from j: Int, _ predicate: (Unicode.Scalar) -> Bool) -> Int {
        var k = j
        while k < s.count, predicate(s[k]) { k += 1 }
        return k
    }
}

/// tiktoken's o200k pattern, alternative by alternative, with the regex's backtracking made explicit.
enum O200kScanner {
    static func matchEnd(_ s: [Unicode.Scalar], at i: Int) -> Int {
        if let end = lowerWord(s, at: i) { return end }
        if let end = upperWord(s, at: i) { return end }
        if s[i].isNumberCategory {
            var k = i
            while k < s.count, k - i < 3, s[k].isNumberCategory { k += 1 }
            return k
        }
        if let end = punctuation(s, at: i) { return end }
        if s[i].isWhitespaceClass {
            // `\s*[\r\n]+`: the whitespace run up to and including its last newline.
            var k = i
            var lastNewline = -1
            while k < s.count, s[k].isWhitespaceClass {
                if s[k].isNewline { lastNewline = k }
                k += 1
            }
            if lastNewline >= 0 { return lastNewline + 1 }
            return ScannerParts.whitespaceEnd(s, at: i)
        }
        return i + 1  // unreachable: every scalar is a letter, number, whitespace or other
    }

    /// `[^\r\n\p{L}\p{N}]`: the optional one-character prefix of the word alternatives.
    static func isPrefix(_ c: Unicode.Scalar) -> Bool {
        !c.isNewline && !c.isLetterCategory && !c.isNumberCategory
    }

    /// The starts to try for the word alternatives: after a prefix character first, then without it.
    static func wordStarts(_ s: [Unicode.Scalar], at i: Int) -> [Int] {
        isPrefix(s[i]) && i + 1 < s.count ? [i + 1, i] : [i]
    }

    /// `P?U*L+C?`: U* is greedy, so L+ starts at the last place where a lower-class character follows.
    static func lowerWord(_ s: [Unicode.Scalar], at i: Int) -> Int? {
        for start in wordStarts(s, at: i) {
            var p = start
            while p < s.count, s[p].isO200kUpper { p += 1 }
            var lowerStart: Int? = nil
            if p < s.count, s[p].isO200kLower {
                lowerStart = p
            } else {
                var q = p - 1
                while q >= start {
                    if s[q].isO200kLower { lowerStart = q; break }
                    q -= 1
                }
            }
            guard let l = lowerStart else { continue }
            var end = l
            while end < s.count, s[end].isO200kLower { end += 1 }
            return ScannerParts.contractionEnd(s, at: end, ignoringCase: true) ?? end
        }
        return nil
    }

    /// `P?U+L*C?`.
    static func upperWord(_ s: [Unicode.Scalar], at i: Int) -> Int? {
        for start in wordStarts(s, at: i) {
            guard start < s.count, s[start].isO200kUpper else { continue }
            var end = start
            while end < s.count, s[end].isO200kUpper { end += 1 }
            while end < s.count, s[end].isO200kLower { end += 1 }
            return ScannerParts.contractionEnd(s, at: end, ignoringCase: true) ?? end
        }
        return nil
    }

    /// ` ?[^\s\p{L}\p{N}]+[\r\n/]*`.
    static func punctuation(_ s: [Unicode.Scalar], at i: Int) -> Int? {
        let j = (s[i] == " " && i + 1 < s.count) ? i + 1 : i
        guard GPT2Scanner.isOther(s[j]) else { return nil }
        var end = GPT2Scanner.run(s, from: j) { GPT2Scanner.isOther($0) }
        while end < s.count, s[end].isNewline || s[end] == "/" { end += 1 }
        return end
    }
}
