import GGUF

/// SplitMix64, identical to the generator in the script that produced the PyPI `gguf` reference checksums.
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

enum TestBlocks {
    /// Byte offsets of the float16 scale fields of each block type (set to finite values in random blocks).
    static func halfFields(_ type: GGMLType) -> [Int] {
        switch type {
        case .q4_0, .q5_0, .q8_0: [0]
        case .q4_1, .q5_1, .q4_K, .q5_K: [0, 2]
        case .q6_K: [208]
        default: []
        }
    }

    static func finiteHalf(_ r: UInt64) -> UInt16 { UInt16(r & 0x8000) | (0x1C00 + UInt16(r % 0x1800)) }
    static func finiteBF16(_ r: UInt64) -> UInt16 { UInt16(r & 0x8000) | (0x3C00 + UInt16(r % 0x0800)) }

    /// `count` elements of random blocks of `type` with finite scales (same recipe as the reference script:
    /// random bytes per block, then each f16 scale field from the next draw).
    static func random(_ type: GGMLType, count: Int, seed: UInt64) -> [UInt8] {
        var rng = SplitMix64(seed: seed)
        var out: [UInt8] = []
        if type == .f16 || type == .bf16 {
            for _ in 0..<count {
                let r = rng.next() & 0xFFFF
                let h = type == .f16 ? finiteHalf(r) : finiteBF16(r)
                out += [UInt8(h & 0xFF), UInt8(h >> 8)]
            }
            return out
        }
        if type == .f32 {
            for _ in 0..<count {
                let v = Float(Int(rng.next() % 2001) - 1000) / 1000
                withUnsafeBytes(of: v.bitPattern.littleEndian) { out += $0 }
            }
            return out
        }
        for _ in 0..<(count / type.blockSize) {
            var block = (0..<type.bytesPerBlock).map { _ in UInt8(rng.next() & 0xFF) }
            for offset in halfFields(type) {
                let h = finiteHalf(rng.next() & 0xFFFF)
                block[offset] = UInt8(h & 0xFF)
                block[offset + 1] = UInt8(h >> 8)
            }
            out += block
        }
        return out
    }

    /// Order-sensitive checksum of float bit patterns (same as the reference script).
    static func checksum(_ values: [Float]) -> (UInt64, UInt64) {
        var s1: UInt64 = 0
        var s2: UInt64 = 0
        for (i, v) in values.enumerated() {
            let bits = UInt64(v.bitPattern)
            s1 &+= bits
            s2 &+= bits &* (UInt64(i % 65521) + 1)
        }
        return (s1, s2)
    }

    static let computeTypes: [GGMLType] = [.f32, .f16, .bf16, .q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q4_K, .q5_K, .q6_K]
}

extension [UInt8] {
    mutating func appendHalf(_ bits: UInt16) { append(contentsOf: [UInt8(bits & 0xFF), UInt8(bits >> 8)]) }
}
