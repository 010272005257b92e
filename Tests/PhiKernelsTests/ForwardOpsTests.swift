import Foundation
import PhiKernels
import Testing

@Suite("vectorized element-wise ops and attention match double-precision formulas")
struct ForwardOpsTests {
    @Test func geluTanhMatchesTheDoubleFormula() {
        var rng = SplitMix64(seed: 8)
        var x = (0..<100_003).map { _ in Float(Int(rng.next() % 200_001) - 100_000) / 8000 }
        x += [0, -0, 30, -30, 1e-8, -1e-8]
        let reference = x.map { v -> Double in
            let d = Double(v)
            return 0.5 * d * (1 + tanh((2 / Double.pi).squareRoot() * (d + 0.044715 * d * d * d)))
        }
        var y = x
        y.withUnsafeMutableBufferPointer { ForwardOps.geluTanh($0.baseAddress!, count: $0.count) }
        for i in x.indices {
            #expect(abs(Double(y[i]) - reference[i]) <= 4e-7 * max(1, abs(Double(x[i]))), "x = \(x[i])")
        }
    }

    @Test func siluMulMatchesTheDoubleFormula() {
        var rng = SplitMix64(seed: 9)
        let g = (0..<40_001).map { _ in Float(Int(rng.next() % 20001) - 10000) / 700 }
        let u = (0..<40_001).map { _ in Float(Int(rng.next() % 20001) - 10000) / 5000 }
        var out = [Float](repeating: 0, count: g.count)
        out.withUnsafeMutableBufferPointer { o in ForwardOps.siluMul(gate: g, up: u, output: o.baseAddress!, count: g.count) }
        for i in g.indices {
            let ref = Double(g[i]) / (1 + exp(-Double(g[i]))) * Double(u[i])
            #expect(abs(Double(out[i]) - ref) <= 1e-6 * max(1, abs(ref)))
        }
    }

    /// (rows, start, heads, kvHeads, d): prefill-like and decode-like rows, short and long contexts (the 4-position
    /// score steps with a tail, the pool's threshold), phi-2's shape (32 × 80) and a grouped-query one (24 / 8 × 96).
    @Test(arguments: [
        (1, 37, 6, 2, 16), (5, 0, 6, 2, 16), (64, 3, 6, 2, 16), (1, 62, 6, 2, 16), (1, 63, 6, 2, 16),
        (1, 699, 6, 2, 16), (1, 300, 32, 32, 80), (1, 1000, 24, 8, 96),
    ])
    func attentionMatchesNaiveSoftmax(rows: Int, start: Int, heads: Int, kvHeads: Int, d: Int) {
        let width = kvHeads * d
        let total = start + rows
        var rng = SplitMix64(seed: UInt64(rows * 100 + start))
        func r() -> Float { Float(Int(rng.next() % 2001) - 1000) / 500 }
        let q = (0..<(rows * heads * d)).map { _ in r() }
        let k = (0..<(total * width)).map { _ in r() }
        let v = (0..<(total * width)).map { _ in r() }
        let scale = Float(1 / Double(d).squareRoot())
        var out = [Float](repeating: 0, count: rows * heads * d)
        out.withUnsafeMutableBufferPointer { o in
            ForwardOps.attention(
                queries: q, queryStride: heads * d, rows: rows, start: start, keys: k, values: v, kvWidth: width,
                heads: heads, kvHeads: kvHeads, headDimension: d, scale: scale, output: o.baseAddress!)
        }
        let kHalf = k.map { Float16($0).bitPattern }, vHalf = v.map { Float16($0).bitPattern }
        var outHalf = [Float](repeating: 0, count: rows * heads * d)
        outHalf.withUnsafeMutableBufferPointer { o in
            ForwardOps.attention(
                queries: q, queryStride: heads * d, rows: rows, start: start, keys: kHalf, values: vHalf,
                kvWidth: width, heads: heads, kvHeads: kvHeads, headDimension: d, scale: scale, output: o.baseAddress!)
        }
        // The same cache laid out head-major ([kvHead][position][headDim], room for 3 more positions per head):
        // the same sums in the same order, so the same bits.
        let reserved = total + 3
        func headMajor<T>(_ rows: [T], filler: T) -> [T] {
            var out = [T](repeating: filler, count: kvHeads * reserved * d)
            for p in 0..<total {
                for g in 0..<kvHeads {
                    for t in 0..<d { out[(g * reserved + p) * d + t] = rows[p * width + g * d + t] }
                }
            }
            return out
        }
        var outHeadMajor = [Float](repeating: 0, count: rows * heads * d)
        outHeadMajor.withUnsafeMutableBufferPointer { o in
            ForwardOps.attention(
                queries: q, queryStride: heads * d, rows: rows, start: start, keys: headMajor(k, filler: .nan),
                values: headMajor(v, filler: .nan), kvWidth: d, kvHeadStride: reserved * d, heads: heads,
                kvHeads: kvHeads, headDimension: d, scale: scale, output: o.baseAddress!)
        }
        var outHalfHeadMajor = [Float](repeating: 0, count: rows * heads * d)
        outHalfHeadMajor.withUnsafeMutableBufferPointer { o in
            ForwardOps.attention(
                queries: q, queryStride: heads * d, rows: rows, start: start, keys: headMajor(kHalf, filler: 0x7E00),
                values: headMajor(vHalf, filler: 0x7E00), kvWidth: d, kvHeadStride: reserved * d, heads: heads,
                kvHeads: kvHeads, headDimension: d, scale: scale, output: o.baseAddress!)
        }
        #expect(outHeadMajor.map(\.bitPattern) == out.map(\.bitPattern))
        #expect(outHalfHeadMajor.map(\.bitPattern) == outHalf.map(\.bitPattern))
        for i in 0..<rows {
            for h in 0..<heads {
                let kvh = h / (heads / kvHeads)
                let position = start + i
                var scores = (0...position).map { p in
                    (0..<d).reduce(0.0) { $0 + Double(q[i * heads * d + h * d + $1]) * Double(k[p * width + kvh * d + $1]) }
                        * Double(scale)
                }
                let m = scores.max()!
                scores = scores.map { exp($0 - m) }
                let sum = scores.reduce(0, +)
                for t in 0..<d {
                    let ref = (0...position).reduce(0.0) { $0 + scores[$1] / sum * Double(v[$1 * width + kvh * d + t]) }
                    #expect(abs(Double(out[i * heads * d + h * d + t]) - ref) <= 2e-5)
                    #expect(abs(Double(outHalf[i * heads * d + h * d + t]) - ref) <= 5e-3)
                }
            }
        }
    }
}
