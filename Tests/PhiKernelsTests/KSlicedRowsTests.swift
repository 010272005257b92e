import GGUF
import PhiKernels
import Testing

/// Q4_0 and Q8_0 rows longer than 96 blocks (3,072 values) are packed in k-slices, each summed from where the previous
/// one stopped (`phi_x8_slice_count`, `phi_packed8.c`). A row's sum must stay the single chain of block products that
/// an unsliced row gives, on every path.
@Suite("long rows packed in k-slices")
struct KSlicedRowsTests {
    static let rows = 24
    static let shortColumns = 2_560  // 80 blocks: one slice
    static let longColumns = 10_240  // 320 blocks: four slices of 80 (phi-2's fc2)
    static let types: [GGMLType] = [.q4_0, .q8_0]

    /// Rows whose blocks are `short`'s blocks followed (or preceded, `shortLast`) by blocks of scale 0, whose products
    /// leave a sum exactly as it is.
    static func padded(_ short: [UInt8], type: GGMLType, shortLast: Bool) -> [UInt8] {
        let bytesPerRow = shortColumns / type.blockSize * type.bytesPerBlock
        var zeros = TestBlocks.random(type, count: longColumns - shortColumns, seed: 99)
        for block in stride(from: 0, to: zeros.count, by: type.bytesPerBlock) {
            zeros[block] = 0
            zeros[block + 1] = 0
        }
        var out: [UInt8] = []
        for r in 0..<rows {
            let row = Array(short[(r * bytesPerRow)..<((r + 1) * bytesPerRow)])
            out += shortLast ? zeros + row : row + zeros
        }
        return out
    }

    static func matrix(_ bytes: [UInt8], type: GGMLType, columns: Int) throws -> WeightMatrix {
        try bytes.withUnsafeBytes { try WeightMatrix(name: "w", type: type, rows: rows, columns: columns, copying: $0) }
    }

    @Test("a long row sums to the same bits as the one-slice row it contains", arguments: types)
    func slicesCarryTheSum(type: GGMLType) throws {
        let short = TestBlocks.random(type, count: Self.rows * Self.shortColumns, seed: 5)
        let shortWeight = try #require(try Self.matrix(short, type: type, columns: Self.shortColumns).packedInGroupsOf8OnAnyCPU())
        for shortLast in [false, true] {
            let long = Self.padded(short, type: type, shortLast: shortLast)
            let longWeight = try #require(try Self.matrix(long, type: type, columns: Self.longColumns).packedInGroupsOf8OnAnyCPU())
            for n in [1, 5, 9] {  // decode tile, 4 + 1 tokens, the prefill path
                let xs = PackedRows8Tests.activations(n * Self.shortColumns, seed: UInt64(n))
                let other = PackedRows8Tests.activations(n * (Self.longColumns - Self.shortColumns), seed: UInt64(n) + 50)
                var xl: [Float] = []
                for t in 0..<n {
                    let mine = Array(xs[(t * Self.shortColumns)..<((t + 1) * Self.shortColumns)])
                    let pad = Array(other[(t * (Self.longColumns - Self.shortColumns))..<((t + 1) * (Self.longColumns - Self.shortColumns))])
                    xl += shortLast ? pad + mine : mine + pad
                }
                let expected = matmul(xs, rows: n, weight: shortWeight, quantization: .llamaCpp)
                let got = matmul(xl, rows: n, weight: longWeight, quantization: .llamaCpp)
                #expect(got == expected, "\(type) n=\(n) short row \(shortLast ? "last" : "first")")
                #expect(got.contains { $0 != 0 })
            }
        }
    }

    /// Between slices a thread keeps its claim's sums in chunks of groups on its stack (256 groups for one token, fewer
    /// for more, in y when one group's sums do not fit). One thread claims all 300 groups of a one-token product, so
    /// its chunks end inside the claim; each row must still equal the same row computed as a product of its own
    /// 8-row group, on every path.
    @Test("a row's sum does not depend on the product's other rows", arguments: types)
    func chunksOfCarriedSums(type: GGMLType) throws {
        let groups = 300, k = Self.longColumns
        let bytesPerRow = k / type.blockSize * type.bytesPerBlock
        let bytes = TestBlocks.random(type, count: 8 * groups * k, seed: 12)
        let whole = try bytes.withUnsafeBytes {
            try WeightMatrix(name: "w", type: type, rows: 8 * groups, columns: k, copying: $0)
        }
        let packed = try #require(whole.packedInGroupsOf8OnAnyCPU())
        let parts = try (0..<groups).map { g in
            let rows = Array(bytes[(8 * g * bytesPerRow)..<(8 * (g + 1) * bytesPerRow)])
            let part = try rows.withUnsafeBytes { try WeightMatrix(name: "g", type: type, rows: 8, columns: k, copying: $0) }
            return try #require(part.packedInGroupsOf8OnAnyCPU())
        }
        for n in [1, 7, 300] {  // chunks of 256 groups, of 36, sums in y
            let x = PackedRows8Tests.activations(n * k, seed: UInt64(n) + 40)
            var paths = [("threaded", matmul(x, rows: n, weight: packed, quantization: .llamaCpp))]
            let levels: [KernelLevel] = n == 1 ? [.scalar, .avx2, .avx512] : n == 7 ? [.avx2, .avx512] : []
            for level in levels {
                let y = try #require(QuantizedKernels.packed8Products(weight: whole, x: x, rows: n, level: level))
                paths.append(("\(level), one thread", y))
            }
            let expected = parts.map { matmul(x, rows: n, weight: $0, quantization: .llamaCpp) }
            for (path, y) in paths {
                var mismatched = 0
                for (g, part) in expected.enumerated() {
                    for t in 0..<n where y[(t * 8 * groups + 8 * g)..<(t * 8 * groups + 8 * g + 8)] != part[(8 * t)..<(8 * t + 8)] {
                        mismatched += 1
                    }
                }
                #expect(mismatched == 0, "\(type) n=\(n), \(path): \(mismatched) (group, token) pairs differ")
            }
        }
    }

    @Test("long rows: the file layout's dots within rounding, and every path bit for bit", arguments: types)
    func longRowsMatchTheFileLayout(type: GGMLType) throws {
        let k = Self.longColumns
        let w = try Self.matrix(TestBlocks.random(type, count: Self.rows * k, seed: 8), type: type, columns: k)
        let packed = try #require(w.packedInGroupsOf8OnAnyCPU())
        for n in [1, 5, 9] {
            let x = PackedRows8Tests.activations(n * k, seed: UInt64(n) + 20)
            let y = matmul(x, rows: n, weight: packed, quantization: .llamaCpp)
            PackedRows8Tests.expectFileLayoutDots(y, weight: w, x: x, tokens: n)
            let scalar = try #require(QuantizedKernels.packed8Products(weight: w, x: x, rows: n, level: .scalar))
            let vector = try #require(QuantizedKernels.packed8Products(weight: w, x: x, rows: n, level: .avx2))
            let vnni = try #require(QuantizedKernels.packed8Products(weight: w, x: x, rows: n, level: .avx512))
            #expect(scalar == vector && scalar == vnni, "\(type) n=\(n)")
            #expect(scalar == y, "\(type) n=\(n): the threaded product")
        }
    }
}
