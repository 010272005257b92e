// Which kernel `matmul` runs for a call, and which kernels give every row the result it would get alone.
import CPhiKernels

/// The kernel `matmul` picks for `rows` activation rows (one place for the dispatch rule, so that a batched call
/// can give each sequence's rows the kernel that sequence would get on its own).
enum MatMulKernel: Hashable {
    /// `phi_matmul_quantized_order` with `PHI_ORDER_ROW`: every (row, token) summed as `phi_vec_dot` sums it.
    case quantizedRowOrder
    /// `PHI_ORDER_REPACKED` (AVX-512 VNNI prefill tiles; row order elsewhere).
    case quantizedRepacked
    /// `phi_x8_matmul` over the weight's packed 8-row copy (`WeightMatrix.packable8Types`), for every row count.
    case quantizedPacked8
    /// F16/BF16 weights dequantized in tiles + one OpenBLAS sgemm per tile, over the worker pool.
    case halfTiles
    /// OpenBLAS sgemv per activation row (float32 weights, or dequantized tiles).
    case blasGEMV
    /// OpenBLAS sgemm over all rows at once.
    case blasGEMM

    init(rows n: Int, weight: WeightMatrix, quantization: ActivationQuantization) {
        let isHalf = weight.type == .f16 || weight.type == .bf16
        if quantization == .llamaCpp, n >= 8, isHalf {
            // Measured: OpenBLAS sgemm on dequantized tiles beats on-the-fly half widening for batches (≈26 vs 17
            // GMAC/s per core); exact numerics, rows split over the worker pool.
            self = .halfTiles
        } else if quantization == .llamaCpp, weight.hasPacked8 {
            self = .quantizedPacked8
        } else if quantization == .llamaCpp, weight.type != .f32, phi_quant_supported(weight.type.rawValue) != 0 {
            self = n >= 4 ? .quantizedRepacked : .quantizedRowOrder
        } else {
            self = n == 1 ? .blasGEMV : .blasGEMM
        }
    }

    /// Whether a row's result depends only on that row, so rows of several sequences can share one call. The
    /// quantized kernels prepare and sum each activation row on its own (in either order); GEMV runs per row. An
    /// sgemm's blocking may depend on the row count, so GEMM kernels run once per sequence.
    var isRowIndependent: Bool {
        switch self {
        case .quantizedRowOrder, .quantizedRepacked, .quantizedPacked8, .blasGEMV: true
        case .halfTiles, .blasGEMM: false
        }
    }
}
