// A linear layer `y = x·Wᵀ + b` over a weight in place in its file (any supported ggml type), and the
// token embedding lookup.

/// `y[n × outputSize] = x[n × inputSize] · Wᵀ (+ bias)`, in float32 over exactly dequantized weights.
struct Linear: Sendable {
    let weight: TensorView
    let bias: [Float]?

    var inputSize: Int { weight.rowLength }
    var outputSize: Int { weight.rowCount }

    func callAsFunction(_ x: UnsafePointer<Float>, rows n: Int, into y: UnsafeMutablePointer<Float>) throws(PhiInferenceError) {
        try MatrixMultiply.multiply(x, rows: n, weight: weight, into: y)
        if let bias {
            bias.withUnsafeBufferPointer { b in
                for r in 0..<n {
                    let row = y + r * outputSize
                    for i in 0..<outputSize { row[i] += b[i] }
                }
            }
        }
    }
}

/// Rows of the token embedding matrix.
struct Embedding: Sendable {
    let weight: TensorView

    var vocabularySize: Int { weight.rowCount }
    var dimension: Int { weight.rowLength }

    /// Writes the embedding of each token (row-major `tokens.count × dimension`).
    func lookup(_ tokens: [Int], into y: UnsafeMutablePointer<Float>) throws(PhiInferenceError) {
        for (r, token) in tokens.enumerated() {
            guard token >= 0, token < vocabularySize else {
                throw .invalidTokenID(token, vocabularySize: vocabularySize)
            }
            try weight.dequantizeRow(token, into: y + r * dimension)
        }
    }
}
