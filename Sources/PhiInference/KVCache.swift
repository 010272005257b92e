// Per-sequence key/value cache (float32, or float16 like llama.cpp's default), laid out
// [layer][kvHead][position][headDim] (see `KVLayerBuffer` for why not llama.cpp's [position][kvHead][headDim]).

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

    /// Element type of the stored keys and values.
    public let precision: KVCachePrecision

    /// One buffer per layer, used for `.f32` (`keys`, `values`) or `.f16` (`keys16`, `values16`).
    let keys: [KVLayerBuffer<Float>]
    let values: [KVLayerBuffer<Float>]
    let keys16: [KVLayerBuffer<UInt16>]
    let values16: [KVLayerBuffer<UInt16>]

    /// Floats per position in one layer.
    var rowWidth: Int { kvHeadCount * headDimension }

    public init(config: PhiModelConfig, capacity: Int? = nil, precision: KVCachePrecision = .f32) {
        self.precision = precision
        self.layerCount = config.layerCount
        self.kvHeadCount = config.kvHeadCount
        self.headDimension = config.headDimension
        self.capacity = min(capacity ?? config.contextLength, config.contextLength)
        // Storage grows with use (reserved lazily) so a 128k-context model does not allocate gigabytes up front.
        func buffers<Element>(_: Element.Type) -> [KVLayerBuffer<Element>] {
            (0..<config.layerCount).map { _ in
                KVLayerBuffer(heads: config.kvHeadCount, headDimension: config.headDimension)
            }
        }
        self.keys = buffers(Float.self)
        self.values = buffers(Float.self)
        self.keys16 = buffers(UInt16.self)
        self.values16 = buffers(UInt16.self)
    }

    /// Bytes of keys and values for `positions` positions of a `config` model (what a cache of that capacity
    /// holds at most).
    public static func byteCount(config: PhiModelConfig, positions: Int, precision: KVCachePrecision) -> Int {
        let element = precision == .f32 ? MemoryLayout<Float>.size : MemoryLayout<UInt16>.size
        return config.layerCount * 2 * config.kvHeadCount * config.headDimension * element * positions
    }

    /// Forgets every position (the storage is kept).
    public func reset() {
        count = 0
    }

    /// Drops positions from `newCount` on (e.g. to reuse a shared prompt prefix).
    public func truncate(to newCount: Int) {
        precondition(newCount >= 0 && newCount <= count, "truncate(to:) beyond the cached length")
        count = newCount
    }

    /// Reserves now what appending up to `positions` positions in one call would (`append`'s growth rule), so a
    /// prompt fed in chunks maps and populates its storage once instead of at each growth, and copies nothing:
    /// 3.7 % of a 2,048-token phi-3-mini prefill in chunks was page population (2.0 % with this). Call it before
    /// the first chunk.
    public func reserve(forPositions positions: Int) {
        let target = Self.reservation(needed: min(positions, capacity), capacity: capacity)
        if precision == .f16 {
            for buffer in keys16 + values16 where buffer.reservedPositions < target {
                buffer.reserve(positions: target, keeping: count)
            }
        } else {
            for buffer in keys + values where buffer.reservedPositions < target {
                buffer.reserve(positions: target, keeping: count)
            }
        }
    }

    /// Positions to reserve when `needed` no longer fit. Doubling (from 64 positions) keeps the copies on growth
    /// linear in the sequence's length. Twice what is needed, not twice what was there: a 1,024-token prompt
    /// reserved exactly 1,024 positions and the first decoded token copied the whole cache (phi-2: 0.67 GB, ~0.3 s).
    static func reservation(needed: Int, capacity: Int) -> Int {
        max(needed, min(capacity, 2 * max(needed, 64)))
    }

    /// Appends `n` rows of keys and values for `layer` at positions `count..<count+n` (each row `rowWidth`
    /// floats, `[kvHead][headDim]`, rows `stride` apart).
    func append(
        layer: Int, keys newKeys: UnsafePointer<Float>, values newValues: UnsafePointer<Float>,
        rows n: Int, stride: Int
    ) {
        let d = headDimension
        let target = Self.reservation(needed: count + n, capacity: capacity)
        if precision == .f16 {
            for (buffer, source) in [(keys16[layer], newKeys), (values16[layer], newValues)] {
                if buffer.reservedPositions < count + n { buffer.reserve(positions: target, keeping: count) }
                for r in 0..<n {
                    for head in 0..<kvHeadCount {
                        HalfConversion.f32ToF16(
                            UnsafeBufferPointer(start: source + r * stride + head * d, count: d),
                            into: UnsafeMutableBufferPointer(start: buffer.pointer(head: head, position: count + r), count: d))
                    }
                }
            }
            return
        }
        for (buffer, source) in [(keys[layer], newKeys), (values[layer], newValues)] {
            if buffer.reservedPositions < count + n { buffer.reserve(positions: target, keeping: count) }
            for r in 0..<n {
                for head in 0..<kvHeadCount {
                    buffer.pointer(head: head, position: count + r).initialize(from: source + r * stride + head * d, count: d)
                }
            }
        }
    }

    /// Marks `n` appended positions as filled (after every layer has appended them).
    func commit(_ n: Int) {
        count += n
    }
}
