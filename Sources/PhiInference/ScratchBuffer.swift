// Heap float buffers for one forward pass.

/// An uninitialized-then-zeroed float buffer freed on deinit (avoids nested `withUnsafe…` closures in the
/// forward passes). Used by one thread, inside one forward call.
final class ScratchBuffer {
    let pointer: UnsafeMutablePointer<Float>
    let count: Int

    init(count: Int) {
        self.count = count
        pointer = .allocate(capacity: max(count, 1))
        pointer.initialize(repeating: 0, count: max(count, 1))
    }

    deinit {
        pointer.deallocate()
    }

    /// `self += other`, element-wise.
    func add(_ other: ScratchBuffer) {
        for i in 0..<count { pointer[i] += other.pointer[i] }
    }

    var array: [Float] { Array(UnsafeBufferPointer(start: pointer, count: count)) }
}

/// A per-row normalization (LayerNorm, RMSNorm).
protocol RowNormalization {
    func callAsFunction(_ x: UnsafePointer<Float>, rows n: Int, into y: UnsafeMutablePointer<Float>)
}

extension LayerNorm: RowNormalization {}
extension RMSNorm: RowNormalization {}
