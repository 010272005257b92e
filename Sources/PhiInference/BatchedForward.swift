// One forward step over several sequences at once (continuous batching): their new rows are stacked so every
// weight matrix is read once per step, while RoPE positions, KV caches and attention stay per sequence.

import PhiKernels

/// One sequence's part of a batched forward step: its new tokens (one while decoding, a chunk while prefilling)
/// and its own cache, which the step extends.
public struct BatchedSequenceInput {
    public var tokens: [Int]
    public let cache: KVCache
    /// The sequence length Phi-3 LongRoPE chooses its factors for. `nil`: the length after this step
    /// (`cache.count + tokens.count`), as a single `forward` call does. A prompt prefilled in chunks passes the
    /// length at the end of the whole prompt, so every chunk is rotated as the one-call prompt would be.
    public var scalingLength: Int?

    public init(tokens: [Int], cache: KVCache, scalingLength: Int? = nil) {
        self.tokens = tokens
        self.cache = cache
        self.scalingLength = scalingLength
    }
}

/// Where each sequence's rows sit in a batched step, checked before any cache is touched.
struct BatchPlan {
    let inputs: [BatchedSequenceInput]
    /// Rows per sequence, in batch order.
    let segments: [Int]
    /// First row of each sequence in the stacked buffers.
    let offsets: [Int]
    /// Total rows.
    let rows: Int

    /// Throws (leaving every cache unchanged) when the batch is empty, a cache appears twice, or any input does
    /// not fit its cache or holds an id outside the vocabulary.
    init(_ inputs: [BatchedSequenceInput], model: some CausalLanguageModel) throws(PhiInferenceError) {
        guard !inputs.isEmpty else {
            throw .invalidParameter(name: "batch", reason: "at least one sequence is needed")
        }
        var seen = Set<ObjectIdentifier>()
        for input in inputs {
            guard seen.insert(ObjectIdentifier(input.cache)).inserted else {
                throw .invalidParameter(name: "batch", reason: "a KV cache appears twice in one batch")
            }
            try model.checkFits(input.tokens, cache: input.cache)
        }
        self.inputs = inputs
        segments = inputs.map(\.tokens.count)
        var offsets: [Int] = []
        var row = 0
        for count in segments {
            offsets.append(row)
            row += count
        }
        self.offsets = offsets
        rows = row
    }

    /// Embeddings of every new token, stacked (`rows × hidden`).
    func embed(_ embedding: Embedding, into x: UnsafeMutablePointer<Float>) throws(PhiInferenceError) {
        for (input, offset) in zip(inputs, offsets) {
            try embedding.lookup(input.tokens, into: x + offset * embedding.dimension)
        }
    }

    /// For each sequence: RoPE on its q and k rows at its own positions (with the table `rope(sequence)`), its
    /// keys and values appended to its cache at `layer`, causal attention over its own cache into `output`
    /// (`rows × heads·headDimension`). `qkv` rows are `[q | k | v]`, `qkvWidth` floats apart.
    func attend(
        qkv: UnsafeMutablePointer<Float>, qkvWidth: Int, layer: Int, heads: Int, kvHeads: Int, headDimension d: Int,
        rope: (Int) -> RotaryEmbedding, output: UnsafeMutablePointer<Float>
    ) {
        for call in prepareAttention(
            qkv: qkv, qkvWidth: qkvWidth, layer: layer, heads: heads, kvHeads: kvHeads, headDimension: d, rope: rope,
            output: output)
        {
            call.run()
        }
    }

    /// `attend`'s RoPE and cache appends, and its attention as one call per sequence, to be run (`AttentionCall.run`,
    /// or inside a products' dispatch) before anything else appends to these caches at `layer`.
    func prepareAttention(
        qkv: UnsafeMutablePointer<Float>, qkvWidth: Int, layer: Int, heads: Int, kvHeads: Int, headDimension d: Int,
        rope: (Int) -> RotaryEmbedding, output: UnsafeMutablePointer<Float>
    ) -> [AttentionCall] {
        inputs.enumerated().map { s, input in
            let start = input.cache.count
            let rows = qkv + offsets[s] * qkvWidth
            let table = rope(s)
            for i in 0..<segments[s] {
                let row = rows + i * qkvWidth
                table.apply(row, heads: heads, headDimension: d, position: start + i)
                table.apply(row + heads * d, heads: kvHeads, headDimension: d, position: start + i)
            }
            input.cache.append(
                layer: layer, keys: rows + heads * d, values: rows + (heads + kvHeads) * d, rows: segments[s],
                stride: qkvWidth)
            return CausalAttention.call(
                queries: rows, queryStride: qkvWidth, rows: segments[s], start: start, cache: input.cache,
                layer: layer, heads: heads, output: output + offsets[s] * heads * d)
        }
    }

    /// Marks every sequence's new positions as filled (after all layers appended them).
    func commit() {
        for (input, count) in zip(inputs, segments) { input.cache.commit(count) }
    }

    /// Final norm + output projection on each sequence's selected rows (its last row, or all of them);
    /// one array per sequence.
    func logits(
        _ x: ScratchBuffer, hidden: Int, selection: LogitPositions, norm: some RowNormalization, lmHead: Linear
    ) -> [[Float]] {
        let picked = selection == .last ? segments.map { min($0, 1) } : segments
        let count = picked.reduce(0, +)
        let normed = ScratchBuffer(count: count * hidden)
        var row = 0
        for (s, n) in picked.enumerated() where n > 0 {
            let first = offsets[s] + segments[s] - n
            norm(x.pointer + first * hidden, rows: n, into: normed.pointer + row * hidden)
            row += n
        }
        let vocabulary = lmHead.outputSize
        let out = ScratchBuffer(count: count * vocabulary)
        // As a single `forward` computes them: each sequence's selected rows form one segment.
        lmHead(normed.pointer, segments: picked, into: out.pointer)
        var result: [[Float]] = []
        row = 0
        for n in picked {
            result.append(Array(UnsafeBufferPointer(start: out.pointer + row * vocabulary, count: n * vocabulary)))
            row += n
        }
        return result
    }
}
