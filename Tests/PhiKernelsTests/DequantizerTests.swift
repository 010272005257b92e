import Foundation
import GGUF
import PhiKernels
import Testing

private func dequant(_ type: GGMLType, _ bytes: [UInt8], count: Int) throws -> [Float] {
    try bytes.withUnsafeBytes { try Dequantizer.floats(type: type, from: $0, count: count) }
}

private func half(_ v: Float) -> UInt16 { HalfConversion.f16(from: v) }

@Suite("Dequantization matches the documented block formulas and the PyPI gguf package bit for bit")
struct DequantizerTests {
    // MARK: Hand-built blocks, expected values from the format's formula

    @Test func q4_0IsNibbleMinusEightTimesD() throws {
        var block: [UInt8] = []
        block.appendHalf(half(0.5))
        block += (0..<16).map { UInt8($0 | ((15 - $0) << 4)) }
        let y = try dequant(.q4_0, block, count: 32)
        for j in 0..<16 {
            #expect(y[j] == Float(j - 8) * 0.5)
            #expect(y[j + 16] == Float(7 - j) * 0.5)
        }
        #expect(y[0] == -4 && y[15] == 3.5 && y[16] == 3.5 && y[31] == -4)
    }

    @Test func q4_1IsNibbleTimesDPlusM() throws {
        var block: [UInt8] = []
        block.appendHalf(half(0.25))
        block.appendHalf(half(-1))
        block += (0..<16).map { UInt8($0 | ((15 - $0) << 4)) }
        let y = try dequant(.q4_1, block, count: 32)
        for j in 0..<16 {
            #expect(y[j] == Float(j) * 0.25 - 1)
            #expect(y[j + 16] == Float(15 - j) * 0.25 - 1)
        }
    }

    @Test func q5_0AndQ5_1TakeTheFifthBitFromQH() throws {
        let qh: UInt32 = 0xA5A5_5A5A
        let qs = (0..<16).map { UInt8($0 | ((15 - $0) << 4)) }
        func q(_ j: Int) -> Int {
            let low = j < 16 ? j : 15 - (j - 16)
            return low | Int((qh >> UInt32(j)) & 1) << 4
        }
        var b0: [UInt8] = []
        b0.appendHalf(half(1))
        withUnsafeBytes(of: qh.littleEndian) { b0 += $0 }
        b0 += qs
        let y0 = try dequant(.q5_0, b0, count: 32)
        for j in 0..<32 { #expect(y0[j] == Float(q(j) - 16), "q5_0 element \(j)") }

        var b1: [UInt8] = []
        b1.appendHalf(half(2))
        b1.appendHalf(half(0.5))
        withUnsafeBytes(of: qh.littleEndian) { b1 += $0 }
        b1 += qs
        let y1 = try dequant(.q5_1, b1, count: 32)
        for j in 0..<32 { #expect(y1[j] == Float(q(j)) * 2 + 0.5, "q5_1 element \(j)") }
        #expect(y0[1] == Float((1 | 16) - 16))  // bit 1 of 0x5A is set
    }

    @Test func q8_0IsSignedByteTimesD() throws {
        var block: [UInt8] = []
        block.appendHalf(half(0.125))
        block += (0..<32).map { UInt8(bitPattern: Int8(truncatingIfNeeded: $0 * 8 - 128)) }
        let y = try dequant(.q8_0, block, count: 32)
        for j in 0..<32 { #expect(y[j] == Float(j * 8 - 128) * 0.125) }
        #expect(y[0] == -16 && y[31] == 15)
    }

    /// Packs eight 6-bit scales and mins into the 12 K-quant scale bytes (the layout ggml's quantizer writes).
    private func packScalesMins(_ sc: [UInt8], _ m: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 12)
        for j in 0..<4 {
            out[j] = (sc[j] & 63) | ((sc[j + 4] >> 4) << 6)
            out[j + 4] = (m[j] & 63) | ((m[j + 4] >> 4) << 6)
            out[j + 8] = (sc[j + 4] & 0xF) | ((m[j + 4] & 0xF) << 4)
        }
        return out
    }

    private let kScales: [UInt8] = [1, 2, 3, 63, 17, 33, 48, 5]
    private let kMins: [UInt8] = [0, 1, 62, 3, 20, 40, 63, 7]

    @Test func q4_KUsesSixBitScalesAndMinsPerSubBlock() throws {
        let d: Float = 0.0625, dmin: Float = 0.5
        var block: [UInt8] = []
        block.appendHalf(half(d))
        block.appendHalf(half(dmin))
        block += packScalesMins(kScales, kMins)
        block += (0..<128).map { UInt8(($0 % 16) | ((15 - $0 % 16) << 4)) }
        #expect(block.count == 144)
        let y = try dequant(.q4_K, block, count: 256)
        for e in 0..<256 {
            let s = e / 32, l = e % 32
            let q = s % 2 == 0 ? l % 16 : 15 - l % 16
            let expected = d * Float(kScales[s]) * Float(q) - dmin * Float(kMins[s])
            #expect(y[e] == expected, "q4_K element \(e)")
        }
        #expect(y[3 * 32 + 2] == 0.0625 * 63 * 13 - 0.5 * 3)
        #expect(y[7 * 32] == 0.0625 * 5 * 15 - 0.5 * 7)
    }

    @Test func q5_KAddsTheHighBitFromQH() throws {
        let d: Float = 0.25, dmin: Float = 0.125
        let qh = (0..<32).map { UInt8(($0 * 37) & 0xFF) }
        var block: [UInt8] = []
        block.appendHalf(half(d))
        block.appendHalf(half(dmin))
        block += packScalesMins(kScales, kMins)
        block += qh
        block += (0..<128).map { UInt8(($0 % 16) | ((15 - $0 % 16) << 4)) }
        #expect(block.count == 176)
        let y = try dequant(.q5_K, block, count: 256)
        for e in 0..<256 {
            let s = e / 32, l = e % 32
            let q = (s % 2 == 0 ? l % 16 : 15 - l % 16) + Int((qh[l] >> UInt8(s)) & 1) * 16
            let expected = d * Float(kScales[s]) * Float(q) - dmin * Float(kMins[s])
            #expect(y[e] == expected, "q5_K element \(e)")
        }
    }

    @Test func q6_KIsSixBitsMinus32TimesSignedScale() throws {
        let d: Float = 0.03125
        let scales: [Int8] = [-128, 127, -1, 5, 9, -30, 64, 1, 2, -2, 100, -100, 33, 0, 7, -7]
        let q6 = (0..<256).map { ($0 * 7 + 3) % 64 }
        var ql = [UInt8](repeating: 0, count: 128)
        var qh = [UInt8](repeating: 0, count: 64)
        for e in 0..<256 {
            let h = e / 128, k = (e % 128) / 32, l = e % 32
            let qlIndex = 64 * h + l + (k % 2 == 1 ? 32 : 0)
            ql[qlIndex] |= UInt8(q6[e] & 0xF) << (k >= 2 ? 4 : 0)
            qh[32 * h + l] |= UInt8(q6[e] >> 4) << UInt8(2 * k)
        }
        var block = ql + qh + scales.map { UInt8(bitPattern: $0) }
        block.appendHalf(half(d))
        #expect(block.count == 210)
        let y = try dequant(.q6_K, block, count: 256)
        for e in 0..<256 {
            let expected = d * Float(scales[e / 16]) * Float(q6[e] - 32)
            #expect(y[e] == expected, "q6_K element \(e)")
        }
        #expect(y[0] == 0.03125 * -128 * Float(3 - 32))
    }

    @Test func f16AndBF16BitPatterns() throws {
        let f16: [UInt16] = [0x3C00, 0xC000, 0x7BFF, 0x0001, 0x8000, 0x7C00, 0x3555, 0x03FF]
        var bytes: [UInt8] = []
        for h in f16 { bytes.appendHalf(h) }
        let y = try dequant(.f16, bytes, count: 8)
        #expect(y[0] == 1 && y[1] == -2 && y[2] == 65504 && y[3] == 0x1p-24)
        #expect(y[4] == 0 && y[4].sign == .minus && y[5] == .infinity && y[6] == 0.333251953125)
        #expect(y[7] == 1023 * 0x1p-24)
        var b: [UInt8] = []
        for h: UInt16 in [0x3F80, 0xC040, 0x7F80, 0x0001] { b.appendHalf(h) }
        let z = try dequant(.bf16, b, count: 4)
        #expect(z[0] == 1 && z[1] == -3 && z[2] == .infinity && z[3] == Float(bitPattern: 0x0001_0000))
    }

    // MARK: Against the PyPI gguf package (independent implementation)

    /// (type, checksum1, checksum2, first, last) of 1024 elements of `TestBlocks.random(type, 1024, 1234)`
    /// dequantized by `gguf.quants.dequantize` (gguf 0.19.0).
    static let ggufReference: [(GGMLType, UInt64, UInt64, Float, Float)] = [
        (.f16, 2_170_811_596_800, 1_128_532_494_106_624, 0.00948333740234375, -0.005523681640625),
        (.bf16, 2_221_632_782_336, 1_154_798_249_181_184, 6.84375, -0.08203125),
        (.q4_0, 2_105_043_107_840, 1_086_954_186_651_648, 0.1041259765625, 0.0),
        (.q4_1, 2_130_006_141_312, 1_065_025_949_735_168, 0.9769287109375, 0.231689453125),
        (.q5_0, 2_172_193_776_128, 1_103_846_197_671_424, -0.0110321044921875, -0.2127685546875),
        (.q5_1, 2_269_435_282_192, 1_186_849_287_980_384, -1.99163818359375, 0.048736572265625),
        (.q8_0, 2_161_559_570_496, 1_102_472_636_126_400, -0.2064208984375, -3.6668701171875),
        (.q4_K, 1_194_240_224_784, 627_118_563_609_184, 2.0643882751464844, 20.586196899414062),
        (.q5_K, 2_211_987_191_788, 1_417_191_205_212_944, 1.0173301696777344, -39.40496826171875),
        (.q6_K, 2_137_442_861_648, 1_108_324_893_711_784, 0.274658203125, 2.770751953125),
    ]

    @Test(arguments: [true, false])
    func randomBlocksMatchTheGGUFPackageBitForBit(simd: Bool) throws {
        let saved = Dequantizer.isSIMDEnabled
        Dequantizer.isSIMDEnabled = simd
        defer { Dequantizer.isSIMDEnabled = saved }
        for (type, s1, s2, first, last) in Self.ggufReference {
            let y = try dequant(type, TestBlocks.random(type, count: 1024, seed: 1234), count: 1024)
            #expect(y[0] == first && y[1023] == last, "\(type)")
            let sums = TestBlocks.checksum(y)
            #expect(sums.0 == s1 && sums.1 == s2, "\(type) checksum")
        }
    }

    @Test func simdAndScalarPathsAgreeOnOddSizes() throws {
        let saved = Dequantizer.isSIMDEnabled
        defer { Dequantizer.isSIMDEnabled = saved }
        for type in TestBlocks.computeTypes {
            for blocks in [1, 2, 3, 7] {
                let count = blocks * type.blockSize + (type.blockSize == 1 ? 5 : 0)
                let bytes = TestBlocks.random(type, count: count, seed: UInt64(count))
                Dequantizer.isSIMDEnabled = true
                let a = try dequant(type, bytes, count: count)
                Dequantizer.isSIMDEnabled = false
                let b = try dequant(type, bytes, count: count)
                #expect(a.map(\.bitPattern) == b.map(\.bitPattern), "\(type) × \(count)")
            }
        }
    }

    /// Whole fixture tensors dequantized here vs `gguf.quants.dequantize` (checksums over every element).
    static let fixtureReference: [(String, String, UInt64, UInt64)] = [
        ("phi/phi3-tiny-gqa/phi3-tiny-gqa-Q4_0.gguf", "token_embd.weight", 4_301_931_457_026_496, 10_822_424_454_028_252_672),
        ("phi/phi3-tiny-gqa/phi3-tiny-gqa-Q4_0.gguf", "blk.0.attn_qkv.weight", 16_245_044_544_512, 66_561_313_562_257_408),
        ("phi/phi3-tiny-gqa/phi3-tiny-gqa-Q4_0.gguf", "blk.1.ffn_down.weight", 16_293_720_151_040, 66_685_502_028_781_568),
        ("phi/phi3-tiny-gqa/phi3-tiny-gqa-F16.gguf", "token_embd.weight", 4_332_543_884_247_040, 11_812_004_466_855_305_216),
        ("phi/phi2-tiny/phi2-tiny-Q4_0.gguf", "output.weight", 6_870_716_525_794_816, 3_735_045_455_583_451_136),
        ("phi/phi2-tiny/phi2-tiny-Q4_0.gguf", "blk.0.attn_q.weight", 8_133_930_839_040, 16_594_614_246_736_896),
        ("shared:phi/phi2-k/phi2-k-Q4_K_M.gguf", "output.weight", 27_228_519_036_413_010, 6_368_830_156_916_783_364),
        ("shared:phi/phi2-k/phi2-k-Q4_K_M.gguf", "token_embd.weight", 27_565_296_321_421_280, 17_363_532_284_576_577_984),
        ("shared:phi/phi2-k/phi2-k-Q4_K_M.gguf", "blk.0.attn_q.weight", 137_408_991_973_512, 4_502_865_629_474_198_128),
        ("shared:phi/phi2-k/phi2-k-Q4_K_M.gguf", "blk.1.ffn_down.weight", 545_167_111_002_940, 17_860_992_902_614_288_836),
    ]

    @Test func fixtureTensorsMatchTheGGUFPackageBitForBit() throws {
        for (path, name, s1, s2) in Self.fixtureReference {
            let url: URL
            if path.hasPrefix("shared:") {
                guard let u = Fixtures.shared(String(path.dropFirst(7))) else {
                    print("skipped \(path): ../shared/fixtures is not beside the clone")
                    continue
                }
                url = u
            } else {
                url = Fixtures.url(path)
            }
            let file = try GGUFFile(url: url)
            let w = try WeightMatrix(named: name, in: file)
            let sums = TestBlocks.checksum(w.dequantized())
            #expect(sums.0 == s1 && sums.1 == s2, "\(path) \(name) (\(w.type))")
        }
    }

    // MARK: Quantized vs float16 weights of the same model

    @Test(arguments: [("Q8_0", Float(1) / 127), ("Q4_0", Float(1) / 8)])
    func quantizedWeightsStayWithinOneStepOfF16(type: String, stepPerAbsMax: Float) throws {
        let f16 = try GGUFFile(url: Fixtures.url("phi/phi3-tiny-gqa/phi3-tiny-gqa-F16.gguf"))
        let quant = try GGUFFile(url: Fixtures.url("phi/phi3-tiny-gqa/phi3-tiny-gqa-\(type).gguf"))
        for name in ["blk.0.attn_qkv.weight", "blk.0.attn_output.weight", "blk.1.ffn_up.weight", "blk.1.ffn_down.weight"] {
            let a = try WeightMatrix(named: name, in: f16).dequantized()
            let q = try WeightMatrix(named: name, in: quant)
            #expect(q.type == (type == "Q8_0" ? .q8_0 : .q4_0))
            let b = q.dequantized()
            #expect(a.count == b.count)
            var worst: Float = 0
            for block in stride(from: 0, to: a.count, by: 32) {
                let absMax = a[block..<(block + 32)].map(abs).max() ?? 0
                let bound = absMax * stepPerAbsMax * 1.01 + 1e-6
                for i in block..<(block + 32) {
                    #expect(abs(a[i] - b[i]) <= bound, "\(type) \(name)[\(i)]: \(a[i]) vs \(b[i])")
                    worst = max(worst, abs(a[i] - b[i]))
                }
            }
            #expect(worst > 0)  // really quantized
        }
    }

    // MARK: Errors

    @Test func unsupportedTypesAndBadCountsThrow() {
        let bytes = [UInt8](repeating: 0, count: 1024)
        bytes.withUnsafeBytes { raw in
            let buffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: 512)
            defer { buffer.deallocate() }
            #expect(throws: KernelError.self) { try Dequantizer.dequantize(type: .q2_K, from: raw, count: 256, into: buffer) }
            #expect(throws: KernelError.self) { try Dequantizer.dequantize(type: .q4_0, from: raw, count: 48, into: buffer) }
            #expect(throws: KernelError.self) { try Dequantizer.dequantize(type: .f32, from: raw, count: 512, into: buffer) }
            #expect(throws: KernelError.self) { try Dequantizer.dequantize(type: .f16, from: raw, count: 600, into: buffer) }
            #expect(throws: Never.self) { try Dequantizer.dequantize(type: .q4_K, from: raw, count: 0, into: buffer) }
        }
        let error = #expect(throws: KernelError.self) { try dequant(.iq2_XXS, bytes, count: 256) }
        #expect(error?.description.hasPrefix("cannot dequantize iq2_xxs: supported types are f32, f16") == true)
    }
}
