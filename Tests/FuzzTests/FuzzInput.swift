import Foundation

/// SplitMix64: a small seeded generator, so every fuzz run sees the same cases (a failure names its case).
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) {
        self.state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Byte-level mutations of a seed input, biased towards what breaks parsers: structural characters, escapes,
/// extreme numbers, invalid UTF-8, truncation, duplication and splicing.
struct Mutator {
    var rng: SeededGenerator
    /// Fragments worth inserting (JSON and YAML syntax, numbers at the edges, bad encodings).
    var dictionary: [[UInt8]]

    static let jsonDictionary: [[UInt8]] = [
        "{", "}", "[", "]", "\"", ":", ",", "\\", "\\u", "\\ud800", "\\u0000", "null", "true", "false", "-", "0",
        "1e999", "-1e999", "1e-999", "9223372036854775808", "-9223372036854775809", "123456789012345678901234567890",
        "0.0000000000000000000001", "NaN", "Infinity", "\"model\":", "\"messages\":", "\"role\":\"user\"", "\"content\":",
        "\"max_tokens\":", "\"tools\":[", "\"stream\":true", "{\"type\":\"text\",\"text\":\"x\"}", "[[[[[[[[", "]]]]]]]]",
    ].map { Array($0.utf8) } + [[0xFF], [0xC3, 0x28], [0xE2, 0x82], [0xF0, 0x9F, 0x98], [0xED, 0xA0, 0x80], [0x00], [0x7F]]

    static let yamlDictionary: [[UInt8]] = [
        ":", "- ", "\n", "\n  ", "\t", "{", "}", "[", "]", "&a ", "*a", "*missing", "!!binary ", "!!int ", "? ", "|\n", ">\n",
        "'", "\"", "#", "${", "${X}", "${X:-", "$$", "~", "null", "0x7fffffffffffffff", "1e400", "-1", "99999999999999999999",
        "0s", "1.5.5s", "4GiB", "---\n", "...\n", "%YAML 1.2\n", "<<: *a\n",
    ].map { Array($0.utf8) } + [[0xFF], [0xC3, 0x28], [0x00]]

    init(seed: UInt64, dictionary: [[UInt8]]) {
        self.rng = SeededGenerator(seed: seed)
        self.dictionary = dictionary
    }

    mutating func int(_ range: Range<Int>) -> Int { Int.random(in: range, using: &rng) }

    /// One to four mutations of `input` (splicing with `other` sometimes).
    mutating func mutate(_ input: [UInt8], other: [UInt8]) -> [UInt8] {
        var bytes = input
        for _ in 0..<int(1..<5) {
            let position = bytes.isEmpty ? 0 : int(0..<bytes.count + 1)
            switch int(0..<9) {
            case 0 where !bytes.isEmpty:  // flip a bit
                let index = int(0..<bytes.count)
                bytes[index] ^= UInt8(1 << int(0..<8))
            case 1 where !bytes.isEmpty:  // random byte
                bytes[int(0..<bytes.count)] = UInt8(int(0..<256))
            case 2, 3:  // insert a dictionary fragment
                bytes.insert(contentsOf: dictionary[int(0..<dictionary.count)], at: position)
            case 4 where !bytes.isEmpty:  // delete a range
                let end = min(bytes.count, position + int(1..<16))
                if position < end { bytes.removeSubrange(position..<end) }
            case 5:  // truncate
                bytes = Array(bytes.prefix(position))
            case 6 where !bytes.isEmpty:  // duplicate a range
                let start = int(0..<bytes.count)
                let end = min(bytes.count, start + int(1..<64))
                bytes.insert(contentsOf: bytes[start..<end], at: position)
            case 7 where !other.isEmpty:  // splice: our head, the other's tail
                bytes = Array(bytes.prefix(position)) + Array(other.suffix(from: int(0..<other.count)))
            default:  // repeat a fragment many times
                let fragment = dictionary[int(0..<dictionary.count)]
                for _ in 0..<int(1..<200) { bytes.insert(contentsOf: fragment, at: position) }
            }
        }
        return bytes
    }
}
