// Per-sequence key/value cache (float32, or float16 like llama.cpp's default), laid out
// [layer][position][kvHead][headDim] like llama.cpp's cache, each position's row padded by one cache line when its
// size is a multiple of two lines (see `rowStride`).

import PhiKernels

/// Element type of a `KVCache`.
public enum KVCachePrecision: String, Sendable, CaseIterable {
    /// float32: exact (the fixtures' references use an F32 cache).
    case f32
    /// IEEE float16 (half the memory); keys and values are rounded to fp16 when appended.
    case f16
}

/// Keys (after RoPE) and values of every layer for one sequence, up to the model's context length.
///
/// A cache belongs to one sequence and one model, and is used by one thread at a time (the engine's compute
/// thread); it is a class so the forward pass can append to it in place.
public final class KVCache {
    public let layerCount: Int
    public let kvHeadCount: Int
    public let headDimension: Int
    /// Capacity in positions (the model's context length unless a smaller one was asked for).
    public let capacity: Int
    /// Positions filled so far; the next token goes at position `count`.
    public private(set) var count: Int = 0
    /// Whether the cached keys were rotated with LongRoPE's long factors (see `Phi3Model`).
    var usesLongRoPEFactors = false

    /// Element type of the stored keys and values.
    public let precision: KVCachePrecision

    var keys: [[Float]]
    var values: [[Float]]
    var keys16: [[UInt16]]
    var values16: [[UInt16]]

    /// Floats per position in one layer.
    var rowWidth: Int { kvHeadCount * headDimension }

    /// Elements from one position's row to the next.
    let rowStride: Int

    /// `rowWidth`, plus one 64-byte cache line when a row is a multiple of two lines. Why: rows 5–12 KB apart (phi-2,
    /// phi-3; F16 or F32) put one head's keys for every position into 1/32 of the L2's sets, so attention over a long
    /// prompt missed the cache on its own head's keys and values; with an odd number of lines per row they spread
    /// over all sets (512-query attention 1.35–1.45× faster from this alone, same results).
    static func rowStride(rowWidth: Int, precision: KVCachePrecision) -> Int {
        let element = precision == .f32 ? MemoryLayout<Float>.size : MemoryLayout<UInt16>.size
        return (rowWidth * element) % 128 == 0 ? rowWidth + 64 / element : rowWidth
    }

    public init(config: PhiModelConfig, capacity: Int? = nil, precision: KVCachePrecision = .f32) {
        self.precision = precision
        self.layerCount = config.layerCount
        self.kvHeadCount = config.kvHeadCount
        self.headDimension = config.headDimension
        self.capacity = min(capacity ?? config.contextLength, config.contextLength)
        self.rowStride = Self.rowStride(rowWidth: config.kvHeadCount * config.headDimension, precision: precision)
        // Storage grows with use (reserved lazily) so a 128k-context model does not allocate gigabytes up front.
        self.keys = Array(repeating: [], count: config.layerCount)
        self.values = Array(repeating: [], count: config.layerCount)
        self.keys16 = Array(repeating: [], count: config.layerCount)
        self.values16 = Array(repeating: [], count: config.layerCount)
    }

    /// Bytes of keys and values for `positions` positions of a `config` model (what a cache of that capacity
    /// holds at most).
    public static func byteCount(config: PhiModelConfig, positions: Int, precision: KVCachePrecision) -> Int {
        let element = precision == .f32 ? MemoryLayout<Float>.size : MemoryLayout<UInt16>.size
        let stride = rowStride(rowWidth: config.kvHeadCount * config.headDimension, precision: precision)
        return config.layerCount * 2 * stride * element * positions
    }

    /// Forgets every position (the storage is kept).
    public func reset() {
        count = 0
        usesLongRoPEFactors = false
        for layer in 0..<layerCount {
            keys[layer].removeAll(keepingCapacity: true)
            values[layer].removeAll(keepingCapacity: true)
            keys16[layer].removeAll(keepingCapacity: true)
            values16[layer].removeAll(keepingCapacity: true)
        }
    }

    /// Drops positions from `newCount` on (e.g. to reuse a shared prompt prefix).
    public func truncate(to newCount: Int) {
        precondition(newCount >= 0 && newCount <= count, "truncate(to:) beyond the cached length")
        count = newCount
        for layer in 0..<layerCount {
            if precision == .f32 {
                keys[layer].removeSubrange((newCount * rowStride)...)
                values[layer].removeSubrange((newCount * rowStride)...)
            } else {
                keys16[layer].removeSubrange((newCount * rowStride)...)
                values16[layer].removeSubrange((newCount * rowStride)...)
            }
        }
    }

    /// Appends `n` rows of keys and values for `layer` (each row `rowWidth` floats, rows `stride` apart), each
    /// followed by `rowStride − rowWidth` zeros.
    func append(
        layer: Int, keys newKeys: UnsafePointer<Float>, values newValues: UnsafePointer<Float>,
        rows n: Int, stride: Int
    ) {
        let width = rowWidth
        let padding = rowStride - width
        let target = min(capacity, max(count + n, 2 * max(count, 64))) * rowStride
        if precision == .f16 {
            if keys16[layer].capacity < (count + n) * rowStride {
                keys16[layer].reserveCapacity(target)
                values16[layer].reserveCapacity(target)
            }
            for r in 0..<n {
                for (source, isKey) in [(newKeys + r * stride, true), (newValues + r * stride, false)] {
                    let row = [UInt16](unsafeUninitializedCapacity: width) { buffer, initialized in
                        HalfConversion.f32ToF16(UnsafeBufferPointer(start: source, count: width), into: buffer)
                        initialized = width
                    }
                    if isKey { keys16[layer].append(contentsOf: row) } else { values16[layer].append(contentsOf: row) }
                }
                keys16[layer].append(contentsOf: repeatElement(0, count: padding))
                values16[layer].append(contentsOf: repeatElement(0, count: padding))
            }
            return
        }
        if keys[layer].capacity < (count + n) * rowStride {
            keys[layer].reserveCapacity(target)
            values[layer].reserveCapacity(target)
        }
        for r in 0..<n {
            keys[layer].append(contentsOf: UnsafeBufferPointer(start: newKeys + r * stride, count: width))
            values[layer].append(contentsOf: UnsafeBufferPointer(start: newValues + r * stride, count: width))
            keys[layer].append(contentsOf: repeatElement(0, count: padding))
            values[layer].append(contentsOf: repeatElement(0, count: padding))
        }
    }

    /// Marks `n` appended positions as filled (after every layer has appended them).
    func commit(_ n: Int) {
        count += n
    }
}
