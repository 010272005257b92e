// Hugging Face's added-vocabulary split: leftmost-longest matches of added tokens cut the text
// into fragments before normalization and BPE, with lstrip/rstrip absorbing whitespace.

struct AddedTokenSplitter: Sendable {
    enum Fragment: Equatable {
        case text(Range<Int>)
        case token(Int32)
    }

    private struct Candidate: Sendable {
        var scalars: [Unicode.Scalar]
        var token: AddedToken
    }

    /// Candidates by first scalar, longest first.
    private let candidates: [UInt32: [Candidate]]

    init(_ tokens: [AddedToken]) {
        var map: [UInt32: [Candidate]] = [:]
        for token in tokens where !token.content.isEmpty {
            let scalars = Array(token.content.unicodeScalars)
            map[scalars[0].value, default: []].append(Candidate(scalars: scalars, token: token))
        }
        for key in map.keys {
            map[key]!.sort { $0.scalars.count > $1.scalars.count }
        }
        candidates = map
    }

    var isEmpty: Bool { candidates.isEmpty }

    func split(_ s: [Unicode.Scalar], parseSpecialTokens: Bool) -> [Fragment] {
        var fragments: [Fragment] = []
        var textStart = 0
        var i = 0
        while i < s.count {
            guard let match = longestMatch(s, at: i, parseSpecialTokens: parseSpecialTokens) else {
                i += 1
                continue
            }
            var start = i
            var end = i + match.scalars.count
            if match.token.stripsLeft {
                while start > textStart, s[start - 1].isWhitespaceClass { start -= 1 }
            }
            if match.token.stripsRight {
                while end < s.count, s[end].isWhitespaceClass { end += 1 }
            }
            if start > textStart { fragments.append(.text(textStart..<start)) }
            fragments.append(.token(match.token.id))
            textStart = end
            i = end
        }
        if textStart < s.count { fragments.append(.text(textStart..<s.count)) }
        return fragments
    }

    private func longestMatch(_ s: [Unicode.Scalar], at i: Int, parseSpecialTokens: Bool) -> Candidate? {
        guard let list = candidates[s[i].value] else { return nil }
        for candidate in list {
            if candidate.token.isSpecial, !parseSpecialTokens { continue }
            let n = candidate.scalars.count
            guard i + n <= s.count else { continue }
            var matches = true
            for k in 1..<max(n, 1) where s[i + k] != candidate.scalars[k] {
                matches = false
                break
            }
            if matches { return candidate }
        }
        return nil
    }
}
