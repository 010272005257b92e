// Several linear products whose inputs are ready together (a layer's q, k and v; phi-2's attention output and MLP
// input) in one pass over the worker pool.
import CPhiKernels

/// What a product applies to each of its results.
public enum ProductActivation: Sendable {
    case none
    /// `ForwardOps.geluTanh` (gelu_new), with the same bits as calling it on the result rows afterwards.
    case geluTanh
}

/// One product of `matmul(_:segments:)`: `y[t·yStride ..< t·yStride + weight.rows] = f(x[t] · weightᵀ (+ bias))` for
/// every stacked row `t`, `f` the product's `activation`.
public struct MatMulProduct {
    public var x: UnsafePointer<Float>
    public var weight: WeightMatrix
    public var bias: UnsafePointer<Float>?
    public var y: UnsafeMutablePointer<Float>
    /// Floats between consecutive result rows (at least `weight.rows`): lets q, k and v land in one interleaved row.
    public var yStride: Int
    /// Applied in the packed kernels' stores (on the workers, as rows come out) or after the product elsewhere.
    public var activation: ProductActivation

    public init(
        x: UnsafePointer<Float>, weight: WeightMatrix, bias: UnsafePointer<Float>? = nil, y: UnsafeMutablePointer<Float>,
        yStride: Int? = nil, activation: ProductActivation = .none
    ) {
        self.x = x
        self.weight = weight
        self.bias = bias
        self.y = y
        self.yStride = yStride ?? weight.rows
        self.activation = activation
    }
}

/// Runs `products` over the same stacked rows (`segments` as in `matmul(_:segments:weight:…)`); every result is bit
/// for bit what that product's own `matmul(_:segments:…)` gives. When every weight takes the packed 8-row kernel
/// (whose rows are independent of the batch), all products share one dispatch of the pool and one finish, and an
/// input shared by products of one type is quantized once: decode pays each dispatch's start and ragged end ~190
/// times per phi-2 token otherwise. Other kernels run one product after the other.
public func matmul(_ products: [MatMulProduct], segments: [Int], quantization: ActivationQuantization? = nil) {
    matmul(products, segments: segments, afterAttention: [], deferredFrom: products.count, quantization: quantization)
}

/// The `attention` calls, then `products` as `matmul(_:segments:quantization:)` runs them; the products from
/// `deferredFrom` on may read what the attention writes, the others must not. Where every weight takes the packed
/// kernel all of it is one dispatch of the pool: the caller computes the attention while the other threads stream
/// the products that do not need it (phi-2's fc2 beside its attention; its output projection comes last). Every
/// result is bit for bit what the calls one after the other give.
public func matmul(
    _ products: [MatMulProduct], segments: [Int], afterAttention attention: [AttentionCall], deferredFrom deferred: Int,
    quantization: ActivationQuantization? = nil
) {
    precondition(segments.allSatisfy { $0 >= 0 }, "negative segment length")
    precondition(products.allSatisfy { $0.yStride >= $0.weight.rows }, "result stride shorter than a result row")
    precondition((0...products.count).contains(deferred), "deferred products out of range")
    let n = segments.reduce(0, +)
    guard n > 0, !products.isEmpty else {
        for call in attention { call.run() }
        return
    }
    let mode = quantization ?? ComputeSettings.activationQuantization
    let packed = products.count <= 8 && products.allSatisfy {
        MatMulKernel(rows: n, weight: $0.weight, quantization: mode) == .quantizedPacked8 && $0.weight.columns > 0
    }
    if packed && !attention.isEmpty {
        withPackedPointers(products) { pointers in
            let descriptors = descriptorsOf(products, pointers)
            let calls = attention.map(\.raw)
            let status = phi_x8_matmul_many_after_attention(
                descriptors, Int32(descriptors.count), Int64(n), Int32(deferred), calls, Int32(calls.count))
            precondition(status == 0, "phi_x8_matmul_many_after_attention failed (\(status))")
        }
        return
    }
    for call in attention { call.run() }
    if packed {
        withPackedPointers(products) { pointers in
            let descriptors = descriptorsOf(products, pointers)
            let status = phi_x8_matmul_many(descriptors, Int32(descriptors.count), Int64(n))
            precondition(status == 0, "phi_x8_matmul_many failed (\(status))")
        }
        return
    }
    for product in products {
        let m = product.weight.rows
        let k = product.weight.columns
        let input = UnsafeBufferPointer(start: product.x, count: n * k)
        let bias = product.bias.map { UnsafeBufferPointer(start: $0, count: m) }
        if product.yStride == m {
            matmul(input, segments: segments, weight: product.weight, bias: bias,
                   into: UnsafeMutableBufferPointer(start: product.y, count: n * m), quantization: mode)
        } else {
            let rows = UnsafeMutablePointer<Float>.allocate(capacity: n * m)
            defer { rows.deallocate() }
            matmul(input, segments: segments, weight: product.weight, bias: bias,
                   into: UnsafeMutableBufferPointer(start: rows, count: n * m), quantization: mode)
            for t in 0..<n { (product.y + t * product.yStride).update(from: rows + t * m, count: m) }
        }
        if product.activation == .geluTanh { applyGelu(product.y, rows: n, width: m, stride: product.yStride) }
    }
}

/// gelu on `rows` result rows: all at once where that gives each row's own bits (the kernel's vector path is
/// lane-independent; only a width that is not a multiple of 8 leaves a scalar tail per call), else row by row.
private func applyGelu(_ y: UnsafeMutablePointer<Float>, rows: Int, width: Int, stride: Int) {
    if stride == width && width % 8 == 0 {
        ForwardOps.geluTanh(y, count: rows * width)
    } else {
        for t in 0..<rows { ForwardOps.geluTanh(y + t * stride, count: width) }
    }
}

/// The C descriptions of packed products (`pointers`: their packed copies).
private func descriptorsOf(_ products: [MatMulProduct], _ pointers: [UnsafeRawPointer]) -> [phi_x8_product] {
    products.indices.map { i in
        phi_x8_product(
            type: products[i].weight.type.rawValue, packed: pointers[i], m: Int64(products[i].weight.rows),
            k: Int64(products[i].weight.columns), x: products[i].x, bias: products[i].bias, y: products[i].y,
            ldy: Int64(products[i].yStride),
            activation: products[i].activation == .geluTanh ? Int32(PHI_ACTIVATION_GELU_TANH) : 0)
    }
}

/// The packed copies' addresses, valid inside `body` (each `PackedRows8` kept alive until it returns).
private func withPackedPointers(_ products: [MatMulProduct], _ body: ([UnsafeRawPointer]) -> Void) {
    let storage = products.compactMap { $0.weight.packed8 }
    withExtendedLifetime(storage) { body(storage.map { UnsafeRawPointer($0.pointer) }) }
}
