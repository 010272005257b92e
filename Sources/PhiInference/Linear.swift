// A linear layer `y = x·Wᵀ + b` over a weight in place in its file (any supported ggml type), and the
// token embedding lookup.

import PhiKernels

/// `y[n × outputSize] = x[n × inputSize] · Wᵀ (+ bias)`, in float32 over exactly dequantized weights
/// (PhiKernels' `matmul`: dequantized tiles + OpenBLAS sgemm).
struct Linear: Sendable {
    let weight: WeightMatrix
    let bias: [Float]?

    var inputSize: Int { weight.columns }
    var outputSize: Int { weight.rows }

    func callAsFunction(_ x: UnsafePointer<Float>, rows n: Int, into y: UnsafeMutablePointer<Float>) {
        let input = UnsafeBufferPointer(start: x, count: n * inputSize)
        let output = UnsafeMutableBufferPointer(start: y, count: n * outputSize)
        if let bias {
            bias.withUnsafeBufferPointer { matmul(input, rows: n, weight: weight, bias: $0, into: output) }
        } else {
            matmul(input, rows: n, weight: weight, bias: nil, into: output)
        }
    }
}

extension Linear {
    /// The layer over the stacked rows of several sequences (`segments[i]` rows each): every row comes out as
    /// its own sequence's call would give it (see PhiKernels' `matmul(_:segments:…)`).
    func callAsFunction(_ x: UnsafePointer<Float>, segments: [Int], into y: UnsafeMutablePointer<Float>) {
        let n = segments.reduce(0, +)
        let input = UnsafeBufferPointer(start: x, count: n * inputSize)
        let output = UnsafeMutableBufferPointer(start: y, count: n * outputSize)
        if let bias {
            bias.withUnsafeBufferPointer { matmul(input, segments: segments, weight: weight, bias: $0, into: output) }
        } else {
            matmul(input, segments: segments, weight: weight, bias: nil, into: output)
        }
    }
}

/// One layer's share of `Linear.apply(_:segments:)`.
struct LinearCall {
    let layer: Linear
    let x: UnsafePointer<Float>
    let y: UnsafeMutablePointer<Float>
    /// Floats between result rows (nil: `layer.outputSize`).
    var yStride: Int? = nil
    /// Applied to the results (in the packed kernels' stores, on the workers).
    var activation: ProductActivation = .none
}

extension Linear {
    /// Several layers whose inputs are ready together, over the same stacked rows: one pass of the worker pool where
    /// their kernels allow (PhiKernels' `matmul(_:segments:)` over products), each result as the layer's own call
    /// gives it.
    static func apply(_ calls: [LinearCall], segments: [Int]) {
        apply(calls, segments: segments, afterAttention: [], deferredFrom: calls.count)
    }

    /// `attention`, then the layers; those from `deferredFrom` on may read what the attention writes (PhiKernels'
    /// `matmul(_:segments:afterAttention:deferredFrom:)`: one dispatch where the kernels allow).
    static func apply(
        _ calls: [LinearCall], segments: [Int], afterAttention attention: [AttentionCall], deferredFrom deferred: Int
    ) {
        withBiases(calls[...], []) { biases in
            let products = zip(calls, biases).map { call, bias in
                MatMulProduct(
                    x: call.x, weight: call.layer.weight, bias: bias, y: call.y, yStride: call.yStride,
                    activation: call.activation)
            }
            matmul(products, segments: segments, afterAttention: attention, deferredFrom: deferred)
        }
    }

    /// The calls' bias pointers, valid inside `body`.
    private static func withBiases(
        _ calls: ArraySlice<LinearCall>, _ pointers: [UnsafePointer<Float>?], _ body: ([UnsafePointer<Float>?]) -> Void
    ) {
        guard let first = calls.first else { return body(pointers) }
        guard let bias = first.layer.bias else { return withBiases(calls.dropFirst(), pointers + [nil], body) }
        bias.withUnsafeBufferPointer { withBiases(calls.dropFirst(), pointers + [$0.baseAddress], body) }
    }
}

/// Rows of the token embedding matrix.
struct Embedding: Sendable {
    let weight: WeightMatrix

    var vocabularySize: Int { weight.rows }
    var dimension: Int { weight.columns }

    /// Writes the embedding of each token (row-major `tokens.count × dimension`).
    func lookup(_ tokens: [Int], into y: UnsafeMutablePointer<Float>) throws(PhiInferenceError) {
        for (r, token) in tokens.enumerated() {
            guard token >= 0, token < vocabularySize else {
                throw .invalidTokenID(token, vocabularySize: vocabularySize)
            }
            weight.row(token, into: UnsafeMutableBufferPointer(start: y + r * dimension, count: dimension))
        }
    }
}
