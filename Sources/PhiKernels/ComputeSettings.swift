// Process-wide compute settings of the kernels: activation quantization (llama.cpp numerics), worker threads,
// instruction-set level. Backed by atomics in CPhiKernels, so reading them is free in the hot loops.
import CPhiKernels

/// How `matmul` computes products with quantized weights.
public enum ActivationQuantization: Sendable, Equatable {
    /// Exact: weights dequantized to float32 in tiles, products in float32 (OpenBLAS); matches `dequant_ref` ~1e-5.
    case off
    /// As ggml-cpu does: activations rounded per block to Q8_0 / Q8_1 / Q8_K, integer dot products per block, rows
    /// split across the worker pool. F16/BF16 weights are converted on the fly against float32 activations.
    case llamaCpp
}

/// Instruction-set level of the quantized kernels.
public enum KernelLevel: Int, Sendable, Comparable, CustomStringConvertible {
    case scalar = 0
    case avx2 = 1
    case avx512 = 2

    public static func < (a: KernelLevel, b: KernelLevel) -> Bool { a.rawValue < b.rawValue }

    public var description: String {
        switch self {
        case .scalar: "scalar"
        case .avx2: "avx2+fma+f16c"
        case .avx512: "avx512-vnni"
        }
    }

    /// The short name commands take (`scalar`, `avx2`, `avx512`).
    public var name: String {
        switch self {
        case .scalar: "scalar"
        case .avx2: "avx2"
        case .avx512: "avx512"
        }
    }
}

/// Process-wide settings (thread-safe; they apply to calls that start after the change).
public enum ComputeSettings {
    /// The matmul mode in effect on this thread (default `.off`: exact); setting it changes the process-wide mode.
    public static var activationQuantization: ActivationQuantization {
        get { phi_quantized_matmul() != 0 ? .llamaCpp : .off }
        set { _ = phi_set_quantized_matmul(newValue == .llamaCpp ? 1 : 0) }
    }

    /// Runs `body` with `mode` for the matmuls issued from the calling thread only (an engine's compute thread,
    /// a test), restoring the previous override afterwards.
    public static func withActivationQuantization<T>(_ mode: ActivationQuantization, _ body: () throws -> T) rethrows -> T {
        let previous = phi_set_thread_quantized_matmul(mode == .llamaCpp ? 1 : 0)
        defer { _ = phi_set_thread_quantized_matmul(previous) }
        return try body()
    }

    /// Threads of the persistent worker pool (default: physical cores, or `PHI_THREADS`).
    public static var threadCount: Int {
        get { Int(phi_pool_threads()) }
        set { _ = phi_pool_set_threads(Int32(clamping: newValue)) }
    }

    /// Physical cores of this machine.
    public static var physicalCores: Int { Int(phi_physical_cores()) }

    /// The highest level the CPU and the OS enable (never AMX).
    public static var detectedLevel: KernelLevel { KernelLevel(rawValue: Int(phi_quant_detected_level())) ?? .scalar }

    /// The level in use (`PHI_FORCE_SCALAR=1` or `levelCap = .scalar` force the portable code).
    public static var level: KernelLevel { KernelLevel(rawValue: Int(phi_quant_level())) ?? .scalar }

    /// Upper bound on the level (tests run each path).
    public static var levelCap: KernelLevel {
        get {
            let previous = phi_quant_set_level_cap(2)
            _ = phi_quant_set_level_cap(previous)
            return KernelLevel(rawValue: Int(previous)) ?? .scalar
        }
        set { _ = phi_quant_set_level_cap(Int32(newValue.rawValue)) }
    }

    /// Optional instructions the AVX-512 level's Q4_0 decode tile uses when present (the fastest tile wins).
    public struct Extensions: OptionSet, Sendable, CustomStringConvertible {
        public let rawValue: Int32
        public init(rawValue: Int32) { self.rawValue = rawValue }
        public static let vbmi = Extensions(rawValue: Int32(PHI_EXTENSION_VBMI))
        public static let gfni = Extensions(rawValue: Int32(PHI_EXTENSION_GFNI))
        public static let all: Extensions = [.vbmi, .gfni]
        public var description: String {
            [(Extensions.vbmi, "vbmi"), (.gfni, "gfni")].filter { contains($0.0) }.map(\.1).joined(separator: "+")
        }
    }

    /// The extensions in use: on the CPU and allowed.
    public static var extensions: Extensions { Extensions(rawValue: phi_quant_extensions()) }

    /// Runs `body` with only `allowed` extensions (restored afterwards; process-wide, for tests).
    public static func withExtensions<T>(_ allowed: Extensions, _ body: () throws -> T) rethrows -> T {
        let previous = phi_quant_set_extension_mask(allowed.rawValue)
        defer { _ = phi_quant_set_extension_mask(previous) }
        return try body()
    }

    /// Runs `body` with one-token products claimed whole by the first thread to reach each, so that the others can
    /// only split those claims in flight (restored afterwards; process-wide, for tests).
    public static func withWholeDecodeClaims<T>(_ body: () throws -> T) rethrows -> T {
        let previous = phi_x8_set_whole_decode_claims(1)
        defer { _ = phi_x8_set_whole_decode_claims(previous) }
        return try body()
    }

    /// The worker pool's running totals (every dispatch since the process started).
    public static var poolCounters: PoolCounters {
        var c = phi_pool_counters()
        phi_pool_read_counters(&c)
        return PoolCounters(
            dispatches: Int(c.dispatches), insideNanoseconds: Int(c.inside_ns), waitNanoseconds: Int(c.wait_ns),
            steals: Int(c.steals))
    }

    /// Mean cost of one empty dispatch + barrier of the worker pool, in nanoseconds.
    public static func barrierNanoseconds(iterations: Int = 2000) -> Double {
        phi_pool_barrier_ns(Int32(clamping: iterations))
    }

    /// Memory read bandwidth (bytes/s) with the pool's threads over a `bytes` buffer, best of `repetitions`.
    public static func readBandwidth(bytes: Int = 512 << 20, repetitions: Int = 5) -> Double {
        phi_read_bandwidth(bytes, Int32(clamping: repetitions))
    }

    /// Read bandwidth (bytes/s) with the pool's threads over memory that already exists (a model's mapped
    /// weights, wherever their pages sit), best of `repetitions`.
    public static func readBandwidth(of memory: UnsafeRawBufferPointer, repetitions: Int = 3) -> Double {
        phi_read_bandwidth_of(memory.baseAddress, memory.count, Int32(clamping: repetitions))
    }
}

/// Totals of the worker pool's dispatches: their count, the time spent inside them, the part of it the
/// dispatching thread waited, its own share done, for the last worker, and how many decode shares a thread with
/// nothing left to claim split with the thread running them.
public struct PoolCounters: Sendable {
    public var dispatches: Int
    public var insideNanoseconds: Int
    public var waitNanoseconds: Int
    public var steals: Int
}
