import Testing

@testable import PhiInference

/// The norms' row statistics in 8 double lanes: the sequential double sums to within double rounding, whatever the
/// row's length (a multiple of 8 or with a tail).
@Suite("row statistics")
struct NormalizationTests {
    static func row(_ count: Int) -> [Float] {
        var rng = Xoshiro256(seed: UInt64(count) + 7)
        return (0..<count).map { _ in Float(Int(rng.next() % 20_001) - 10_000) / 997 + 0.25 }
    }

    @Test("sum and sum of squares match the sequential double sums", arguments: [0, 5, 8, 13, 2560, 3072])
    func statistics(count: Int) {
        let x = Self.row(count)
        var sum = 0.0, squares = 0.0, centered = 0.0
        for v in x { sum += Double(v) }
        let mean = count > 0 ? sum / Double(count) : 0
        for v in x {
            squares += Double(v) * Double(v)
            centered += (Double(v) - mean) * (Double(v) - mean)
        }
        x.withUnsafeBufferPointer { p in
            let base = p.baseAddress ?? UnsafePointer(bitPattern: 16)!
            #expect(abs(RowStatistics.sum(base, count: count) - sum) <= 1e-12 * max(1, abs(sum)))
            #expect(abs(RowStatistics.sumOfSquares(base, count: count, minus: 0) - squares) <= 1e-12 * max(1, squares))
            #expect(abs(RowStatistics.sumOfSquares(base, count: count, minus: mean) - centered) <= 1e-12 * max(1, centered))
        }
    }

    @Test("LayerNorm of a row: zero mean and unit variance before the affine part")
    func layerNorm() {
        let width = 2560
        let x = Self.row(width)
        let norm = LayerNorm(weight: [Float](repeating: 1, count: width), bias: [Float](repeating: 0, count: width), epsilon: 0)
        var y = [Float](repeating: .nan, count: width)
        x.withUnsafeBufferPointer { xp in y.withUnsafeMutableBufferPointer { norm(xp.baseAddress!, rows: 1, into: $0.baseAddress!) } }
        let mean = y.reduce(0.0) { $0 + Double($1) } / Double(width)
        let variance = y.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / Double(width)
        #expect(abs(mean) < 1e-6)
        #expect(abs(variance - 1) < 1e-5)
    }
}
