import PhiKernels
import Testing

/// Prefill attention runs four consecutive queries of a head together (each key and value row loaded once for the
/// four). Each query must get exactly the bits it gets alone, at every kernel level, on float32 and float16 caches:
/// the shared positions, each query's 1–3 extra ones, and the head dimensions whose value vectors do not fill a pass.
@Suite("attention: four queries at a time give each query's bits alone")
struct AttentionQueryBlockTests {
    /// (rows, start, heads, kvHeads, d): blocks with a short last one (5, 7, 13 rows), prefill from 0 and after a
    /// cached prefix, grouped-query heads, and head dimensions of 3, 5, 10 and 12 value vectors (24, 40, 80, 96).
    static let shapes: [(Int, Int, Int, Int, Int)] = [
        (4, 0, 2, 2, 80), (5, 3, 4, 2, 24), (7, 37, 3, 1, 96), (13, 130, 2, 2, 40), (16, 0, 6, 2, 80),
        (9, 61, 32, 32, 80),
    ]

    @Test(arguments: [false, true])
    func blocksMatchSingleQueries(f16: Bool) {
        for (rows, start, heads, kvHeads, d) in Self.shapes {
            let width = kvHeads * d
            let total = start + rows
            var rng = SplitMix64(seed: UInt64(rows * 1000 + start * 10 + d))
            func r() -> Float { Float(Int(rng.next() % 2001) - 1000) / 300 }
            let q = (0..<(rows * heads * d)).map { _ in r() }
            let k = (0..<(total * width)).map { _ in r() }
            let v = (0..<(total * width)).map { _ in r() }
            let kHalf = k.map { Float16($0).bitPattern }, vHalf = v.map { Float16($0).bitPattern }
            let scale = Float(1 / Double(d).squareRoot())

            /// Queries [first, first + count) in one call at `level`.
            func attend(first: Int, count: Int, level: KernelLevel) -> [Float] {
                var out = [Float](repeating: .nan, count: count * heads * d)
                q.withUnsafeBufferPointer { qp in
                    out.withUnsafeMutableBufferPointer { o in
                        let (queries, output) = (qp.baseAddress! + first * heads * d, o.baseAddress!)
                        let (stride, at) = (heads * d, start + first)
                        if f16 {
                            kHalf.withUnsafeBufferPointer { kp in
                                vHalf.withUnsafeBufferPointer { vp in
                                    AttentionCall(
                                        queries: queries, queryStride: stride, rows: count, start: at, keys: kp.baseAddress!,
                                        values: vp.baseAddress!, kvWidth: width, kvHeadStride: d, heads: heads,
                                        kvHeads: kvHeads, headDimension: d, scale: scale, output: output
                                    ).run(level: level)
                                }
                            }
                            return
                        }
                        k.withUnsafeBufferPointer { kp in
                            v.withUnsafeBufferPointer { vp in
                                AttentionCall(
                                    queries: queries, queryStride: stride, rows: count, start: at, keys: kp.baseAddress!,
                                    values: vp.baseAddress!, kvWidth: width, kvHeadStride: d, heads: heads, kvHeads: kvHeads,
                                    headDimension: d, scale: scale, output: output
                                ).run(level: level)
                            }
                        }
                    }
                }
                return out
            }

            for level in [KernelLevel.scalar, .avx2, .avx512] {
                let together = attend(first: 0, count: rows, level: level)
                let alone = (0..<rows).flatMap { attend(first: $0, count: 1, level: level) }
                #expect(!together.contains { $0.isNaN }, "rows \(rows) start \(start) d \(d) \(level)")
                let mismatch = together.indices.first { together[$0].bitPattern != alone[$0].bitPattern }
                #expect(
                    mismatch == nil,
                    "rows \(rows) start \(start) heads \(heads)/\(kvHeads) d \(d) \(level) f16 \(f16): first differing output \(mismatch ?? -1)")
            }
        }
    }
}
