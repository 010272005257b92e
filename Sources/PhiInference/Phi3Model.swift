// Phi3ForCausalLM (transformers `modeling_phi3.py`): RMSNorm, fused qkv and gate_up, SiLU, partial rotary,
// grouped-query attention, LongRoPE, optionally tied embeddings.
//
// LongRoPE and the KV cache. transformers picks the factors per forward call from the total sequence length
// `max(position_ids) + 1`: short factors while it is ≤ `original_max_position_embeddings`, long factors beyond.
// We do exactly the same, per `forward` call: a prompt longer than the original context is encoded with long
// factors throughout; during incremental decoding, the first token at position ≥ original and every later one
// use long factors, while the keys already in the cache keep the short-factor rotation they were stored with
// (transformers recomputes nothing either). The attention factor multiplies cos/sin in both regimes. So a
// sequence crossing the boundary gives transformers' logits token for token; the price is that its early keys
// mix two rotations (llama.cpp instead chooses once from n_ctx). Re-encoding the cache at the crossing would
// diverge from the reference, so we do not.

import PhiKernels

/// Phi-3 attention: `qkv_proj` rows are Q (heads·d), K (kvHeads·d), V (kvHeads·d); then `o_proj`.
struct Phi3Attention: Sendable {
    let qkv: Linear
    let output: Linear
}

/// Phi-3 MLP: `gate_up_proj` rows are gate then up; `down_proj(silu(gate) · up)`.
struct Phi3MLP: Sendable {
    let gateUp: Linear
    let down: Linear
}

/// `h = x + attn(rmsnorm(x))`, `out = h + mlp(rmsnorm2(h))`.
struct Phi3DecoderLayer: Sendable {
    let inputNorm: RMSNorm
    let attention: Phi3Attention
    let postAttentionNorm: RMSNorm
    let mlp: Phi3MLP
}

/// A loaded phi3-architecture model (weights in place in their mapped files).
public struct Phi3Model: CausalLanguageModel {
    public let config: PhiModelConfig
    let embedding: Embedding
    let layers: [Phi3DecoderLayer]
    let norm: RMSNorm
    let lmHead: Linear
    let shortRope: RotaryEmbedding
    let longRope: RotaryEmbedding?

    init(
        config: PhiModelConfig, tensors: some ModelTensorSource, onLayer: (Int) -> Void = { _ in }
    ) throws(PhiInferenceError) {
        self.config = config
        let hidden = config.hiddenSize
        let d = config.headDimension
        let qkvRows = (config.headCount + 2 * config.kvHeadCount) * d
        let embeddingWeight = try tensors.matrix("token_embd.weight", input: hidden, output: config.vocabularySize)
        embedding = Embedding(weight: embeddingWeight)
        var layers: [Phi3DecoderLayer] = []
        for i in 0..<config.layerCount {
            let p = "blk.\(i)."
            layers.append(Phi3DecoderLayer(
                inputNorm: RMSNorm(weight: try tensors.vector(p + "attn_norm.weight", count: hidden), epsilon: config.normEpsilon),
                attention: Phi3Attention(
                    qkv: Linear(weight: try tensors.linearWeight(p + "attn_qkv.weight", input: hidden, output: qkvRows), bias: nil),
                    output: Linear(weight: try tensors.linearWeight(p + "attn_output.weight", input: config.headCount * d, output: hidden), bias: nil)
                ),
                postAttentionNorm: RMSNorm(weight: try tensors.vector(p + "ffn_norm.weight", count: hidden), epsilon: config.normEpsilon),
                mlp: Phi3MLP(
                    gateUp: Linear(weight: try tensors.linearWeight(p + "ffn_up.weight", input: hidden, output: 2 * config.intermediateSize), bias: nil),
                    down: Linear(weight: try tensors.linearWeight(p + "ffn_down.weight", input: config.intermediateSize, output: hidden), bias: nil)
                )
            ))
            onLayer(i)
        }
        self.layers = layers
        norm = RMSNorm(weight: try tensors.vector("output_norm.weight", count: hidden), epsilon: config.normEpsilon)
        if config.tieWordEmbeddings {
            lmHead = Linear(weight: embeddingWeight, bias: nil)
        } else {
            lmHead = Linear(weight: try tensors.linearWeight("output.weight", input: hidden, output: config.vocabularySize), bias: nil)
        }
        if let longRoPE = config.longRoPE {
            shortRope = RotaryEmbedding(dimension: config.ropeDimension, theta: config.ropeTheta,
                                        factors: longRoPE.shortFactors, scale: longRoPE.attentionFactor)
            longRope = RotaryEmbedding(dimension: config.ropeDimension, theta: config.ropeTheta,
                                       factors: longRoPE.longFactors, scale: longRoPE.attentionFactor)
        } else {
            shortRope = RotaryEmbedding(dimension: config.ropeDimension, theta: config.ropeTheta)
            longRope = nil
        }
    }

    /// The rotary table transformers uses for a forward call whose last position is `lastPosition`.
    func rotary(lastPosition: Int) -> RotaryEmbedding {
        if let longRope, let original = config.longRoPE?.originalContextLength, lastPosition + 1 > original {
            return longRope
        }
        return shortRope
    }

    public func forward(batch: [BatchedSequenceInput], logits: LogitPositions) throws(PhiInferenceError) -> [[Float]] {
        let plan = try BatchPlan(batch, model: self)
        let n = plan.rows
        let segments = plan.segments
        let hidden = config.hiddenSize
        let heads = config.headCount
        let kvHeads = config.kvHeadCount
        let d = config.headDimension
        let qkvWidth = (heads + 2 * kvHeads) * d
        let inter = config.intermediateSize
        // Per sequence, as a single forward call of its tokens chooses (see the top of this file).
        let ropes = batch.map { rotary(lastPosition: ($0.scalingLength ?? $0.cache.count + $0.tokens.count) - 1) }

        let x = ScratchBuffer(count: n * hidden)
        let h = ScratchBuffer(count: n * hidden)
        let qkv = ScratchBuffer(count: n * qkvWidth)
        let attended = ScratchBuffer(count: n * heads * d)
        let gateUp = ScratchBuffer(count: n * 2 * inter)
        let activated = ScratchBuffer(count: n * inter)
        try plan.embed(embedding, into: x.pointer)
        for (index, layer) in layers.enumerated() {
            layer.inputNorm(x.pointer, rows: n, into: h.pointer)
            layer.attention.qkv(h.pointer, segments: segments, into: qkv.pointer)
            plan.attend(
                qkv: qkv.pointer, qkvWidth: qkvWidth, layer: index, heads: heads, kvHeads: kvHeads, headDimension: d,
                rope: { ropes[$0] }, output: attended.pointer)
            layer.attention.output(attended.pointer, segments: segments, into: h.pointer)
            x.add(h)

            layer.postAttentionNorm(x.pointer, rows: n, into: h.pointer)
            layer.mlp.gateUp(h.pointer, segments: segments, into: gateUp.pointer)
            for r in 0..<n {
                let gate = gateUp.pointer + r * 2 * inter
                ForwardOps.siluMul(gate: gate, up: gate + inter, output: activated.pointer + r * inter, count: inter)
            }
            layer.mlp.down(activated.pointer, segments: segments, into: h.pointer)
            x.add(h)
        }
        plan.commit()
        return plan.logits(x, hidden: hidden, selection: logits, norm: norm, lmHead: lmHead)
    }
}
