// Linear layers over the stacked rows of several sequences (continuous batching): each weight is read once per
// call for all rows that can share a kernel, and every row comes out exactly as its own sequence's call would
// give it.

/// `y = x · weightᵀ (+ bias)` for `segments.reduce(0, +)` stacked rows, where consecutive runs of
/// `segments[i]` rows belong to one sequence. Row results equal, bit for bit, what `matmul(_:rows:…)` gives for
/// that sequence's rows alone: each segment gets the kernel its own row count selects; segments whose kernels
/// compute rows independently share one call per kernel (rows gathered), the others run one call per segment.
public func matmul(
    _ x: UnsafeBufferPointer<Float>, segments: [Int], weight: WeightMatrix, bias: UnsafeBufferPointer<Float>? = nil,
    into y: UnsafeMutableBufferPointer<Float>, quantization: ActivationQuantization? = nil
) {
    precondition(segments.allSatisfy { $0 >= 0 }, "negative segment length")
    let n = segments.reduce(0, +)
    let k = weight.columns
    let m = weight.rows
    let mode = quantization ?? ComputeSettings.activationQuantization
    let kernels = segments.map { MatMulKernel(rows: $0, weight: weight, quantization: mode) }
    if segments.count <= 1 || k == 0 || m == 0 {
        matmul(x, rows: n, weight: weight, bias: bias, into: y, quantization: mode)
        return
    }
    precondition(x.count >= n * k && y.count >= n * m, "x or y shorter than \(n) rows")
    precondition(bias.map { $0.count >= m } ?? true, "bias shorter than \(m)")
    guard let xBase = x.baseAddress, let yBase = y.baseAddress else { return }
    var offsets: [Int] = []
    var offset = 0
    for count in segments {
        offsets.append(offset)
        offset += count
    }
    var shared: [MatMulKernel: [Int]] = [:]
    for (i, kernel) in kernels.enumerated() where segments[i] > 0 {
        if kernel.isRowIndependent {
            shared[kernel, default: []].append(i)
        } else {
            run(kernel, xBase + offsets[i] * k, rows: segments[i], weight: weight, bias: bias?.baseAddress,
                into: yBase + offsets[i] * m)
        }
    }
    for (kernel, members) in shared {
        let rows = members.reduce(0) { $0 + segments[$1] }
        if rows == n {
            run(kernel, xBase, rows: n, weight: weight, bias: bias?.baseAddress, into: yBase)
            continue
        }
        let gatheredX = UnsafeMutablePointer<Float>.allocate(capacity: rows * k)
        let gatheredY = UnsafeMutablePointer<Float>.allocate(capacity: rows * m)
        defer {
            gatheredX.deallocate()
            gatheredY.deallocate()
        }
        var row = 0
        for i in members {
            (gatheredX + row * k).update(from: xBase + offsets[i] * k, count: segments[i] * k)
            row += segments[i]
        }
        run(kernel, gatheredX, rows: rows, weight: weight, bias: bias?.baseAddress, into: gatheredY)
        row = 0
        for i in members {
            (yBase + offsets[i] * m).update(from: gatheredY + row * m, count: segments[i] * m)
            row += segments[i]
        }
    }
}
