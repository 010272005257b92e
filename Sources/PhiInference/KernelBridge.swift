// The two numeric entry points the models use (matrix multiply, row dequantization); they delegate to PhiKernels.

import GGUF

enum RowDequantizer {
    static func dequantize(
        type: GGMLType, source: UnsafeRawPointer, destination: UnsafeMutablePointer<Float>, count: Int, tensor: String
    ) throws(PhiInferenceError) {
        switch type {
        case .f32:
            for i in 0..<count {
                destination[i] = Float(bitPattern: source.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self).littleEndian)
            }
        case .f16:
            for i in 0..<count {
                destination[i] = Float(halfBits: source.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self).littleEndian)
            }
        case .bf16:
            for i in 0..<count {
                destination[i] = Float(bitPattern: UInt32(source.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self).littleEndian) << 16)
            }
        default:
            throw .invalidTensor(file: "", tensor: tensor, reason: "cannot dequantize \(type) yet")
        }
    }
}

enum MatrixMultiply {
    static func multiply(
        _ x: UnsafePointer<Float>, rows n: Int, weight: TensorView, into y: UnsafeMutablePointer<Float>
    ) throws(PhiInferenceError) {
        let k = weight.rowLength
        let m = weight.rowCount
        var row = [Float](repeating: 0, count: k)
        try row.withUnsafeMutableBufferPointer { (buffer) throws(PhiInferenceError) in
            let w = buffer.baseAddress!
            for j in 0..<m {
                try weight.dequantizeRow(j, into: w)
                for r in 0..<n {
                    let xr = x + r * k
                    var sum: Float = 0
                    for t in 0..<k { sum += xr[t] * w[t] }
                    y[r * m + j] = sum
                }
            }
        }
    }
}
