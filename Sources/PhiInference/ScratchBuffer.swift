// Heap float buffers for one forward pass, plus the final-norm + output-projection step shared by the models.

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

/// Final norm + output projection on the selected rows of the hidden states.
enum LogitsHead {
    static func logits(
        _ x: ScratchBuffer, rows n: Int, hidden: Int, selection: LogitPositions, norm: some RowNormalization,
        lmHead: Linear
    ) -> [Float] {
        let first = selection == .last ? n - 1 : 0
        let rows = n - first
        let normed = ScratchBuffer(count: rows * hidden)
        norm(x.pointer + first * hidden, rows: rows, into: normed.pointer)
        let out = ScratchBuffer(count: rows * lmHead.outputSize)
        lmHead(normed.pointer, rows: rows, into: out.pointer)
        return out.array
    }
}
