// transformers' rotary position embedding (rotate_half / NeoX form) on the first `ropeDimension` dims of each
// head, with default frequencies or Phi-3 LongRoPE short/long factors and attention factor.

import Foundation

/// cos/sin tables for one set of inverse frequencies.
struct RotaryEmbedding: Sendable {
    let dimension: Int
    /// `1 / (factor_i · θ^(2i/dimension))`, computed in float32 like transformers.
    let inverseFrequencies: [Float]
    /// Multiplies cos and sin (LongRoPE attention factor; 1 otherwise).
    let scale: Float

    init(dimension: Int, theta: Float, factors: [Float]? = nil, scale: Float = 1) {
        self.dimension = dimension
        self.scale = scale
        self.inverseFrequencies = (0..<(dimension / 2)).map { i in
            let exponent = Float(2 * i) / Float(dimension)
            let base = Float(pow(Double(theta), Double(exponent)))
            return 1 / ((factors?[i] ?? 1) * base)
        }
    }

    /// Rotates `heads` heads of `headDimension` floats at `x` for position `position`.
    func apply(_ x: UnsafeMutablePointer<Float>, heads: Int, headDimension: Int, position: Int) {
        let half = dimension / 2
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 2 * half) { table in
            for i in 0..<half {
                let angle = Float(position) * inverseFrequencies[i]
                table[i] = cos(angle) * scale
                table[half + i] = sin(angle) * scale
            }
            for h in 0..<heads {
                let head = x + h * headDimension
                for i in 0..<half {
                    let a = head[i]
                    let b = head[i + half]
                    let c = table[i]
                    let s = table[half + i]
                    head[i] = a * c - b * s
                    head[i + half] = b * c + a * s
                }
            }
        }
    }
}
