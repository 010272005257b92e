import Foundation

/// A sparse feature vector: strictly increasing indices and their values.
public struct SparseFeatureVector: Sendable, Hashable, Codable {
    public var indices: [Int32]
    public var values: [Float]

    public init(indices: [Int32] = [], values: [Float] = []) {
        self.indices = indices
        self.values = values
    }

    /// The dot product with a dense weight vector (indices out of range count as zero).
    public func dot(_ weights: [Float]) -> Double {
        var sum: Float = 0
        weights.withUnsafeBufferPointer { w in
            for k in indices.indices {
                let i = Int(indices[k])
                if i < w.count { sum += w[i] * values[k] }
            }
        }
        return Double(sum)
    }
}

/// Computes `DifficultyFeatureSpec` vectors. Reuses scratch space, so one extractor serves one thread; it is
/// cheap to make (a few kilobytes).
public struct DifficultyFeatureExtractor: Sendable {
    public let spec: DifficultyFeatureSpec
    private var slots: [Int32]
    private var slotCounts: [Float]
    private var usedSlots: [Int32]

    public init(spec: DifficultyFeatureSpec) {
        self.spec = spec
        slots = Array(repeating: -1, count: 1024)
        slotCounts = Array(repeating: 0, count: 1024)
        usedSlots = []
        usedSlots.reserveCapacity(512)
    }

    /// The feature vector of one request.
    public mutating func features(of input: ClassifierInput) -> SparseFeatureVector {
        var stats = TextStatistics()
        stats.historyTurns = input.history.count
        resetSlots(expected: (input.prompt.utf8.count + input.history.reduce(0) { $0 + $1.utf8.count }) / 2)
        for turn in input.history { scan(turn, into: &stats) }
        scan(input.prompt, into: &stats)
        return vector(stats: stats)
    }

    // MARK: - Hash table of n-gram index → count

    private mutating func resetSlots(expected: Int) {
        var size = slots.count
        while size < expected * 2 + 16 { size *= 2 }
        if size != slots.count {
            slots = Array(repeating: -1, count: size)
            slotCounts = Array(repeating: 0, count: size)
        } else {
            for s in usedSlots { slots[Int(s)] = -1; slotCounts[Int(s)] = 0 }
        }
        usedSlots.removeAll(keepingCapacity: true)
    }

    @inline(__always)
    private mutating func add(index: Int32) {
        let mask = slots.count - 1
        var s = Int(truncatingIfNeeded: UInt32(bitPattern: index) &* 2_654_435_761) & mask
        while true {
            let key = slots[s]
            if key == index { slotCounts[s] += 1; return }
            if key == -1 {
                slots[s] = index
                slotCounts[s] = 1
                usedSlots.append(Int32(s))
                if usedSlots.count * 2 > slots.count { grow() }
                return
            }
            s = (s + 1) & mask
        }
    }

    private mutating func grow() {
        let entries = usedSlots.map { (slots[Int($0)], slotCounts[Int($0)]) }
        let size = slots.count * 2
        slots = Array(repeating: -1, count: size)
        slotCounts = Array(repeating: 0, count: size)
        usedSlots.removeAll(keepingCapacity: true)
        let mask = size - 1
        for (index, count) in entries {
            var s = Int(truncatingIfNeeded: UInt32(bitPattern: index) &* 2_654_435_761) & mask
            while slots[s] != -1 { s = (s + 1) & mask }
            slots[s] = index
            slotCounts[s] = count
            usedSlots.append(Int32(s))
        }
    }

    // MARK: - Scanning

    private mutating func scan(_ text: String, into stats: inout TextStatistics) {
        var text = text
        text.withUTF8 { bytes in scan(bytes, into: &stats) }
    }

    private mutating func scan(_ bytes: UnsafeBufferPointer<UInt8>, into stats: inout TextStatistics) {
        let mask = UInt64(spec.hashDimension - 1)
        let maxN = spec.maxWordNGram
        let table = TextStatistics.wordTable
        var previous: (UInt64, UInt64) = (0, 0)  // hashes of the last two tokens (0 = none)
        var i = 0
        let n = bytes.count
        var atLineStart = true
        var lineStartSpaces = 0
        stats.lines += 1
        while i < n {
            let b = bytes[i]
            if b & 0xC0 != 0x80 { stats.characters += 1 }
            stats.bytes += 1
            if b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D {
                if b == 0x0A {
                    stats.lines += 1
                    atLineStart = true
                    lineStartSpaces = 0
                } else if atLineStart {
                    lineStartSpaces += (b == 0x09 ? 4 : 1)
                }
                i += 1
                continue
            }
            if atLineStart {
                if lineStartSpaces >= 4 { stats.codeMarkers += 1 }
                if Self.isOption(bytes, at: i) { stats.options += 1 }
                atLineStart = false
            }
            var hash: UInt64 = 14_695_981_039_346_656_037
            if Self.isWordByte(b) {
                let start = i
                var digits = 0
                var letters = 0
                while i < n, Self.isWordByte(bytes[i]) {
                    var c = bytes[i]
                    if c >= 0x30 && c <= 0x39 { digits += 1 } else { letters += 1 }
                    if c >= 0x41 && c <= 0x5A { c |= 0x20 }
                    if c & 0xC0 != 0x80 && i > start { stats.characters += 1 }
                    if i > start { stats.bytes += 1 }
                    hash = (hash ^ UInt64(c)) &* 1_099_511_628_211
                    i += 1
                }
                stats.words += 1
                stats.digits += digits
                if digits > 0 && bytes[start] >= 0x30 && bytes[start] <= 0x39 {
                    stats.numbers += 1
                    stats.longestNumber = max(stats.longestNumber, digits)
                }
                if letters >= 6 { stats.longWords += 1 }
                let length = i - start
                if length >= 2 && length <= 9 { stats.countCue(hash, table: table) }
            } else {
                switch b {
                case 0x5C:  // \
                    stats.mathMarkup += 1
                    if i + 1 < n && bytes[i + 1] | 0x20 >= 0x61 && bytes[i + 1] | 0x20 <= 0x7A { stats.latexMarkers += 1 }
                case 0x24: stats.mathMarkup += 1  // $
                case 0x5E: stats.mathMarkup += 1; stats.operators += 1; stats.latexMarkers += 1  // ^
                case 0x5F: if i + 1 < n && bytes[i + 1] == 0x7B { stats.mathMarkup += 1; stats.latexMarkers += 1 }  // _{
                case 0x2B, 0x2D, 0x2A, 0x2F, 0x3C, 0x3E, 0x25: stats.operators += 1
                case 0x3D:
                    stats.operators += 1
                    if i + 1 < n && bytes[i + 1] == 0x3D { stats.codeMarkers += 1 }
                case 0x7B, 0x3B: stats.codeMarkers += 1
                case 0x3F: stats.questionMarks += 1
                default: break
                }
                hash = (hash ^ UInt64(b)) &* 1_099_511_628_211
                i += 1
            }
            hash = Self.mix(hash)
            add(index: Int32(truncatingIfNeeded: hash & mask))
            if maxN >= 2 && previous.0 != 0 {
                add(index: Int32(truncatingIfNeeded: Self.mix(previous.0 &* 0x9E37_79B9_7F4A_7C15 ^ hash) & mask))
                if maxN >= 3 && previous.1 != 0 {
                    let h = Self.mix(previous.1 &* 0xC2B2_AE3D_27D4_EB4F ^ previous.0 &* 0x9E37_79B9_7F4A_7C15 ^ hash)
                    add(index: Int32(truncatingIfNeeded: h & mask))
                }
            }
            previous = (hash, previous.0)
        }
    }

    @inline(__always)
    static func isWordByte(_ b: UInt8) -> Bool {
        (b >= 0x30 && b <= 0x39) || (b | 0x20 >= 0x61 && b | 0x20 <= 0x7A) || b >= 0x80
    }

    /// `A)`, `B.`, `(C)`, `D:` at a line start.
    static func isOption(_ bytes: UnsafeBufferPointer<UInt8>, at start: Int) -> Bool {
        var i = start
        if i < bytes.count && bytes[i] == 0x28 { i += 1 }
        guard i + 1 < bytes.count else { return false }
        let letter = bytes[i] | 0x20
        guard letter >= 0x61 && letter <= 0x68 else { return false }
        let next = bytes[i + 1]
        return next == 0x29 || next == 0x2E || next == 0x3A
    }

    @inline(__always)
    static func mix(_ x: UInt64) -> UInt64 {
        var z = x &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z = z ^ (z >> 31)
        return z == 0 ? 1 : z
    }

    // MARK: - Assembly

    private func vector(stats: TextStatistics) -> SparseFeatureVector {
        var pairs: [(Int32, Float)] = []
        pairs.reserveCapacity(usedSlots.count + StructuralFeature.allCases.count)
        var norm: Float = 0
        for s in usedSlots {
            let c = slotCounts[Int(s)]
            norm += c * c
            pairs.append((slots[Int(s)], c))
        }
        let scale = norm > 0 ? 1 / norm.squareRoot() : 0
        for k in pairs.indices { pairs[k].1 *= scale }
        pairs.sort { $0.0 < $1.0 }
        var indices = pairs.map(\.0)
        var values = pairs.map(\.1)
        var next = Int32(spec.hashDimension)
        for v in structuralValues(stats) {
            indices.append(next)
            values.append(v)
            next += 1
        }
        return SparseFeatureVector(indices: indices, values: values)
    }

    /// The structural part of the vector, in layout order (`DifficultyFeatureSpec.structuralCount` entries).
    private func structuralValues(_ stats: TextStatistics) -> [Float] {
        let base = StructuralFeature.allCases.map { Float(stats.value(of: $0)) }
        guard spec.structuralVersion >= 2 else { return base }
        let kind = stats.kind
        var values = base
        values.reserveCapacity(spec.structuralCount)
        for k in PromptKind.allCases {
            if k == kind { values.append(contentsOf: base) } else { values.append(contentsOf: repeatElement(0, count: base.count)) }
        }
        return values
    }

    /// Scans a request and returns, for each weight vector, Σ wᵢ xᵢ over the same features `features(of:)`
    /// computes, without sorting or materialising the vector (the fast path for live decisions).
    public mutating func dots(_ input: ClassifierInput, weights: [[Float]]) -> [Double] {
        var stats = TextStatistics()
        stats.historyTurns = input.history.count
        resetSlots(expected: (input.prompt.utf8.count + input.history.reduce(0) { $0 + $1.utf8.count }) / 2)
        for turn in input.history { scan(turn, into: &stats) }
        scan(input.prompt, into: &stats)
        var norm: Float = 0
        for s in usedSlots {
            let c = slotCounts[Int(s)]
            norm += c * c
        }
        let scale = norm > 0 ? 1 / norm.squareRoot() : 0
        let base = spec.hashDimension
        let structural = structuralValues(stats)
        return weights.map { w in
            w.withUnsafeBufferPointer { w in
                var hashed: Float = 0
                for s in usedSlots {
                    let i = Int(slots[Int(s)])
                    if i < w.count { hashed += w[i] * slotCounts[Int(s)] }
                }
                var sum = hashed * scale
                for (k, v) in structural.enumerated() where v != 0 && base + k < w.count { sum += w[base + k] * v }
                return Double(sum)
            }
        }
    }
}

/// Counts gathered in one pass over the text.
struct TextStatistics {
    var characters = 0
    var bytes = 0
    var words = 0
    var digits = 0
    var numbers = 0
    var longestNumber = 0
    var mathMarkup = 0
    var operators = 0
    var codeMarkers = 0
    var lines = 0
    var questionMarks = 0
    var multiStepCues = 0
    var questionWords = 0
    var options = 0
    var historyTurns = 0
    var longWords = 0
    /// `def` words (Python functions).
    var defWords = 0
    /// LaTeX markup that money amounts do not produce: backslash + letter, `^`, `_{`.
    var latexMarkers = 0

    /// The prompt kind (`PromptKind`) these counts suggest.
    var kind: PromptKind {
        if defWords > 0 { return .code }
        if latexMarkers > 0 { return .math }
        return .word
    }

    static let cueWords = [
        "then", "after", "each", "total", "remaining", "first", "second", "third", "finally", "next", "times",
        "per", "every", "left", "more", "less", "twice", "half", "percent", "ratio", "if", "until", "step",
    ]
    static let codeWords = ["def", "return", "python", "assert", "for", "while", "print"]
    static let questionWordList = [
        "what", "how", "why", "which", "who", "when", "where", "find", "compute", "calculate", "determine",
        "prove", "explain", "evaluate", "simplify", "write", "describe",
    ]

    /// Open-addressed table of word hashes → kind bits (1 cue, 2 question, 4 code, 8 `def`); no SipHash on the hot path.
    static let wordTable: (keys: [UInt64], kinds: [UInt8]) = {
        var keys = [UInt64](repeating: 0, count: 256)
        var kinds = [UInt8](repeating: 0, count: 256)
        for (list, bit) in [(cueWords, UInt8(1)), (questionWordList, 2), (codeWords, 4), (["def"], 8)] {
            for word in list {
                let h = fnv1a(word)
                var s = Int(h & 255)
                while keys[s] != 0 && keys[s] != h { s = (s + 1) & 255 }
                keys[s] = h
                kinds[s] |= bit
            }
        }
        return (keys, kinds)
    }()

    static func fnv1a(_ s: String) -> UInt64 {
        var h: UInt64 = 14_695_981_039_346_656_037
        for b in s.utf8 { h = (h ^ UInt64(b)) &* 1_099_511_628_211 }
        return h
    }

    @inline(__always)
    mutating func countCue(_ hash: UInt64, table: (keys: [UInt64], kinds: [UInt8])) {
        var s = Int(hash & 255)
        while true {
            let key = table.keys[s]
            if key == 0 { return }
            if key == hash {
                let kind = table.kinds[s]
                if kind & 1 != 0 { multiStepCues += 1 }
                if kind & 2 != 0 { questionWords += 1 }
                if kind & 4 != 0 { codeMarkers += 1 }
                if kind & 8 != 0 { defWords += 1 }
                return
            }
            s = (s + 1) & 255
        }
    }

    func value(of feature: StructuralFeature) -> Double {
        func log1p(_ x: Int) -> Double { Foundation.log1p(Double(x)) }
        switch feature {
        case .characters: return log1p(characters) / 10
        case .words: return log1p(words) / 8
        case .estimatedTokens: return log1p(bytes / 4) / 8
        case .digitRatio: return characters > 0 ? Double(digits) / Double(characters) : 0
        case .numbers: return log1p(numbers) / 4
        case .longestNumber: return log1p(longestNumber) / 3
        case .mathMarkup: return log1p(mathMarkup) / 4
        case .operatorRatio: return characters > 0 ? min(1, Double(operators) / Double(characters) * 10) : 0
        case .codeMarkers: return log1p(codeMarkers) / 4
        case .lines: return log1p(lines) / 5
        case .questionMarks: return log1p(questionMarks) / 2
        case .multiStepCues: return log1p(multiStepCues) / 3
        case .questionWords: return log1p(questionWords) / 3
        case .options: return min(1, Double(options) / 4)
        case .historyTurns: return log1p(historyTurns) / 2
        case .longWords: return log1p(longWords) / 7
        case .one: return 1
        }
    }
}
