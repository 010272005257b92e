// Linear layer Y = X·Wᵀ + b (torch.nn.functional.linear) in float32, over dequantized tiles and OpenBLAS.
import COpenBLAS
import CPhiKernels

/// Computes `y[n×rows] = x[n×columns] · weightᵀ (+ bias)`. With `ComputeSettings.activationQuantization == .off`
/// (default), in float32: F32 weights go straight to BLAS; other types are dequantized in tiles of rows into a
/// scratch buffer, then `cblas_sgemm` (n > 1) or `cblas_sgemv`. With `.llamaCpp`, non-F32 weights go through the
/// quantized kernels (`phi_matmul_quantized`: activations rounded per block, integer block dot products, threads).
/// `x` and `y` are row-major and must not overlap.
public func matmul(
    _ x: UnsafeBufferPointer<Float>, rows n: Int, weight: WeightMatrix, bias: UnsafeBufferPointer<Float>? = nil,
    into y: UnsafeMutableBufferPointer<Float>, quantization: ActivationQuantization? = nil
) {
    let k = weight.columns
    let m = weight.rows
    precondition(n >= 0 && x.count >= n * k, "x holds \(x.count) floats, \(n)×\(k) needed")
    precondition(y.count >= n * m, "y holds \(y.count) floats, \(n)×\(m) needed")
    precondition(bias.map { $0.count >= m } ?? true, "bias shorter than \(m)")
    guard n > 0, m > 0, let yBase = y.baseAddress else { return }
    guard k > 0, let xBase = x.baseAddress else {
        for i in 0..<n { for j in 0..<m { yBase[i * m + j] = bias?[j] ?? 0 } }
        return
    }
    run(MatMulKernel(rows: n, weight: weight, quantization: quantization ?? ComputeSettings.activationQuantization),
        xBase, rows: n, weight: weight, bias: bias?.baseAddress, into: yBase)
}

/// Array convenience for `matmul(_:rows:weight:bias:into:)`: returns `n × weight.rows` floats.
public func matmul(
    _ x: [Float], rows n: Int, weight: WeightMatrix, bias: [Float]? = nil, quantization: ActivationQuantization? = nil
) -> [Float] {
    let count = n * weight.rows
    return [Float](unsafeUninitializedCapacity: count) { y, initialized in
        x.withUnsafeBufferPointer { xb in
            if let bias {
                bias.withUnsafeBufferPointer {
                    matmul(xb, rows: n, weight: weight, bias: $0, into: y, quantization: quantization)
                }
            } else {
                matmul(xb, rows: n, weight: weight, bias: nil, into: y, quantization: quantization)
            }
        }
        initialized = count
    }
}

/// Runs `kernel` on `n` rows (`x` non-empty, `weight.columns > 0`).
func run(
    _ kernel: MatMulKernel, _ x: UnsafePointer<Float>, rows n: Int, weight: WeightMatrix, bias: UnsafePointer<Float>?,
    into y: UnsafeMutablePointer<Float>
) {
    let k = weight.columns
    let m = weight.rows
    switch kernel {
    case .halfTiles:
        parallelTiledGEMM(x, n: n, weight: weight, bias: bias, into: y)
        return
    case .quantizedRowOrder, .quantizedRepacked:
        guard let w = weight.bytes.baseAddress else { return }
        let order = kernel == .quantizedRepacked ? Int32(PHI_ORDER_REPACKED) : Int32(PHI_ORDER_ROW)
        let status = phi_matmul_quantized_order(
            weight.type.rawValue, w, weight.rowByteCount, Int64(m), Int64(k), x, Int64(n), bias, y, order)
        precondition(status == 0, "phi_matmul_quantized failed (\(status)) for '\(weight.name)'")
        return
    case .quantizedPacked8:
        guard let packed = weight.packed8 else { return }
        let status = phi_x8_matmul(weight.type.rawValue, packed.pointer, Int64(m), Int64(k), x, Int64(n), bias, y)
        precondition(status == 0, "phi_x8_matmul failed (\(status)) for '\(weight.name)'")
        return
    case .blasGEMV, .blasGEMM:
        break
    }
    BLAS.configureOnce()
    // Each row of a GEMV batch gets its own sgemv call over the same tiles, exactly as it would alone.
    let product: (UnsafePointer<Float>, Int, Int, UnsafeMutablePointer<Float>) -> Void = { w, rows, ldc, c in
        if kernel == .blasGEMV {
            for i in 0..<n { gemm(x + i * k, n: 1, w: w, rows: rows, k: k, into: c + i * ldc, ldc: ldc) }
        } else {
            gemm(x, n: n, w: w, rows: rows, k: k, into: c, ldc: ldc)
        }
    }
    if let w = weight.f32Pointer {
        product(w, m, m, y)
    } else {
        let tile = max(1, min(m, max(16, (1 << 18) / k)))
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: tile * k)
        defer { scratch.deallocate() }
        var r0 = 0
        while r0 < m {
            let count = min(tile, m - r0)
            weight.dequantizeRows(r0..<(r0 + count), into: scratch)
            product(scratch, count, m, y + r0)
            r0 += count
        }
    }
    if let bias {
        for i in 0..<n {
            let row = y + i * m
            for j in 0..<m { row[j] += bias[j] }
        }
    }
}

/// Rows of `weight` in chunks over the worker pool: each chunk dequantized into a private tile, then one
/// single-threaded `cblas_sgemm` into its columns of `y`.
private func parallelTiledGEMM(
    _ x: UnsafePointer<Float>, n: Int, weight: WeightMatrix, bias: UnsafePointer<Float>?, into y: UnsafeMutablePointer<Float>
) {
    BLAS.configureOnce()
    final class Job {
        let x: UnsafePointer<Float>
        let n: Int
        let weight: WeightMatrix
        let bias: UnsafePointer<Float>?
        let y: UnsafeMutablePointer<Float>
        let rowsPerChunk: Int

        init(x: UnsafePointer<Float>, n: Int, weight: WeightMatrix, bias: UnsafePointer<Float>?, y: UnsafeMutablePointer<Float>) {
            self.x = x
            self.n = n
            self.weight = weight
            self.bias = bias
            self.y = y
            rowsPerChunk = max(8, min(64, (1 << 19) / max(1, weight.columns)))
        }

        func run(chunk: Int) {
            let m = weight.rows
            let k = weight.columns
            let r0 = chunk * rowsPerChunk
            let count = min(rowsPerChunk, m - r0)
            guard count > 0 else { return }
            let tile = UnsafeMutablePointer<Float>.allocate(capacity: count * k)
            defer { tile.deallocate() }
            weight.dequantizeRows(r0..<(r0 + count), into: tile)
            gemm(x, n: n, w: tile, rows: count, k: k, into: y + r0, ldc: m)
            if let bias {
                for i in 0..<n {
                    for j in r0..<(r0 + count) { y[i * m + j] += bias[j] }
                }
            }
        }
    }
    let job = Job(x: x, n: n, weight: weight, bias: bias, y: y)
    let chunks = (weight.rows + job.rowsPerChunk - 1) / job.rowsPerChunk
    withExtendedLifetime(job) {
        phi_pool_parallel_for(Int64(chunks), { context, index in
            Unmanaged<Job>.fromOpaque(context!).takeUnretainedValue().run(chunk: Int(index))
        }, Unmanaged.passUnretained(job).toOpaque())
    }
}

/// C[n×rows] (row stride ldc) = A[n×k] · W[rows×k]ᵀ.
private func gemm(
    _ a: UnsafePointer<Float>, n: Int, w: UnsafePointer<Float>, rows: Int, k: Int, into c: UnsafeMutablePointer<Float>,
    ldc: Int
) {
    if n == 1 {
        cblas_sgemv(CblasRowMajor, CblasNoTrans, blasint(rows), blasint(k), 1, w, blasint(k), a, 1, 0, c, 1)
    } else {
        cblas_sgemm(
            CblasRowMajor, CblasNoTrans, CblasTrans, blasint(n), blasint(rows), blasint(k), 1, a, blasint(k), w,
            blasint(k), 0, c, blasint(ldc))
    }
}

/// OpenBLAS threading. phigate runs OpenBLAS single-threaded by default: the engine owns its worker threads
/// (one serial owner per model) and parallelism across them is issue 4's job, so BLAS must not spawn its own
/// pool on top (oversubscription on small machines). The setting is process-wide.
public enum BLAS {
    private static let configured: Void = { openblas_set_num_threads(1) }()

    static func configureOnce() { _ = configured }

    /// Threads OpenBLAS uses for each call (process-wide).
    public static var threadCount: Int {
        get {
            configureOnce()
            return Int(openblas_get_num_threads())
        }
        set {
            configureOnce()
            openblas_set_num_threads(Int32(min(max(1, newValue), 1024)))
        }
    }
}
