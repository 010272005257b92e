// torch.nn.LayerNorm (phi2) and Phi3RMSNorm (phi3), in float32 with double accumulation of the statistics.

import Foundation

/// `y = (x − mean) / sqrt(var + eps) · weight + bias` over the last dimension (biased variance).
struct LayerNorm: Sendable {
    let weight: [Float]
    let bias: [Float]
    let epsilon: Float

    /// Normalizes `n` rows of `weight.count` floats from `x` into `y`.
    func callAsFunction(_ x: UnsafePointer<Float>, rows n: Int, into y: UnsafeMutablePointer<Float>) {
        let width = weight.count
        weight.withUnsafeBufferPointer { w in
            bias.withUnsafeBufferPointer { b in
                for r in 0..<n {
                    let row = x + r * width
                    let mean = RowStatistics.sum(row, count: width) / Double(width)
                    let squares = RowStatistics.sumOfSquares(row, count: width, minus: mean)
                    let inverse = 1 / (squares / Double(width) + Double(epsilon)).squareRoot()
                    let out = y + r * width
                    for i in 0..<width {
                        out[i] = Float((Double(row[i]) - mean) * inverse) * w[i] + b[i]
                    }
                }
            }
        }
    }
}

/// `y = weight · x / sqrt(mean(x²) + eps)` over the last dimension.
struct RMSNorm: Sendable {
    let weight: [Float]
    let epsilon: Float

    func callAsFunction(_ x: UnsafePointer<Float>, rows n: Int, into y: UnsafeMutablePointer<Float>) {
        let width = weight.count
        weight.withUnsafeBufferPointer { w in
            for r in 0..<n {
                let row = x + r * width
                let squares = RowStatistics.sumOfSquares(row, count: width, minus: 0)
                let inverse = Float(1 / (squares / Double(width) + Double(epsilon)).squareRoot())
                let out = y + r * width
                for i in 0..<width { out[i] = w[i] * (row[i] * inverse) }
            }
        }
    }
}

/// A row's sums in double precision over 8 lanes (then the lanes added, then the tail). With one chain of dependent
/// double adds per sum, phi-2's layer norms took ~9 µs each, 0.28 ms of a token's serial work. The order differs
/// from a sequential sum only in double rounding, far below float precision.
enum RowStatistics {
    /// `Σ x[i]`.
    static func sum(_ x: UnsafePointer<Float>, count: Int) -> Double {
        var lanes = SIMD8<Double>()
        var i = 0
        while i + 8 <= count {
            lanes += SIMD8<Double>(UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self))
            i += 8
        }
        var total = lanes.sum()
        while i < count {
            total += Double(x[i])
            i += 1
        }
        return total
    }

    /// `Σ (x[i] − minus)²`.
    static func sumOfSquares(_ x: UnsafePointer<Float>, count: Int, minus offset: Double) -> Double {
        var lanes = SIMD8<Double>()
        let shift = SIMD8<Double>(repeating: offset)
        var i = 0
        while i + 8 <= count {
            let d = SIMD8<Double>(UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self)) - shift
            lanes += d * d
            i += 8
        }
        var total = lanes.sum()
        while i < count {
            let d = Double(x[i]) - offset
            total += d * d
            i += 1
        }
        return total
    }
}
