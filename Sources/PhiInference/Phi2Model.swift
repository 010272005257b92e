// PhiForCausalLM (transformers `modeling_phi.py`; phi-1, phi-1.5, phi-2): one LayerNorm feeding attention and
// MLP in parallel, `out = x + attn(ln(x)) + mlp(ln(x))`, partial rotary, gelu_new (tanh form), biases
// everywhere, untied `lm_head` with bias. Both q/k/v layouts of GGUF files: split `attn_q/k/v` and fused `attn_qkv`.

/// Phi attention: q/k/v projections (split or fused, with biases), then `dense`.
struct PhiAttention: Sendable {
    enum Projection: Sendable {
        case split(q: Linear, k: Linear, v: Linear)
        case fused(Linear)
    }

    let projection: Projection
    let dense: Linear
}

/// Phi MLP: `fc2(gelu_new(fc1(x)))`.
struct PhiMLP: Sendable {
    let fc1: Linear
    let fc2: Linear
}

/// `out = x + attn(ln(x)) + mlp(ln(x))`.
struct PhiDecoderLayer: Sendable {
    let inputNorm: LayerNorm
    let attention: PhiAttention
    let mlp: PhiMLP
}

/// A loaded phi2-architecture model (weights in place in their mapped files).
public struct Phi2Model: CausalLanguageModel {
    public let config: PhiModelConfig
    let embedding: Embedding
    let layers: [PhiDecoderLayer]
    let finalNorm: LayerNorm
    let lmHead: Linear
    let rope: RotaryEmbedding

    init(
        config: PhiModelConfig, tensors: some ModelTensorSource, onLayer: (Int) -> Void = { _ in }
    ) throws(PhiInferenceError) {
        self.config = config
        let hidden = config.hiddenSize
        let d = config.headDimension
        let qRows = config.headCount * d
        let kvRows = config.kvHeadCount * d
        let embeddingWeight = try tensors.matrix("token_embd.weight", input: hidden, output: config.vocabularySize)
        embedding = Embedding(weight: embeddingWeight)
        func linear(_ name: String, input: Int, output: Int) throws(PhiInferenceError) -> Linear {
            Linear(
                weight: try tensors.linearWeight(name + ".weight", input: input, output: output),
                bias: try tensors.vector(name + ".bias", count: output)
            )
        }
        var layers: [PhiDecoderLayer] = []
        for i in 0..<config.layerCount {
            let p = "blk.\(i)."
            let projection: PhiAttention.Projection
            if tensors.tensor(p + "attn_qkv.weight") != nil {
                projection = .fused(try linear(p + "attn_qkv", input: hidden, output: qRows + 2 * kvRows))
            } else {
                projection = .split(
                    q: try linear(p + "attn_q", input: hidden, output: qRows),
                    k: try linear(p + "attn_k", input: hidden, output: kvRows),
                    v: try linear(p + "attn_v", input: hidden, output: kvRows)
                )
            }
            layers.append(PhiDecoderLayer(
                inputNorm: LayerNorm(
                    weight: try tensors.vector(p + "attn_norm.weight", count: hidden),
                    bias: try tensors.vector(p + "attn_norm.bias", count: hidden),
                    epsilon: config.normEpsilon
                ),
                attention: PhiAttention(projection: projection, dense: try linear(p + "attn_output", input: qRows, output: hidden)),
                mlp: PhiMLP(
                    fc1: try linear(p + "ffn_up", input: hidden, output: config.intermediateSize),
                    fc2: try linear(p + "ffn_down", input: config.intermediateSize, output: hidden)
                )
            ))
            onLayer(i)
        }
        self.layers = layers
        finalNorm = LayerNorm(
            weight: try tensors.vector("output_norm.weight", count: hidden),
            bias: try tensors.vector("output_norm.bias", count: hidden),
            epsilon: config.normEpsilon
        )
        if config.tieWordEmbeddings {
            let bias = tensors.tensor("output.bias") != nil ? try tensors.vector("output.bias", count: config.vocabularySize) : nil
            lmHead = Linear(weight: embeddingWeight, bias: bias)
        } else {
            lmHead = try linear("output", input: hidden, output: config.vocabularySize)
        }
        rope = RotaryEmbedding(dimension: config.ropeDimension, theta: config.ropeTheta)
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

        let x = ScratchBuffer(count: n * hidden)
        let h = ScratchBuffer(count: n * hidden)
        let qkv = ScratchBuffer(count: n * qkvWidth)
        let attended = ScratchBuffer(count: n * heads * d)
        let attentionOut = ScratchBuffer(count: n * hidden)
        let up = ScratchBuffer(count: n * inter)
        try plan.embed(embedding, into: x.pointer)
        for (index, layer) in layers.enumerated() {
            layer.inputNorm(x.pointer, rows: n, into: h.pointer)
            // Phi-2's parallel block: q, k, v and the MLP's up-projection read the same normed input, and the
            // attention output and the MLP's down-projection are both ready after attention, so a layer is two
            // passes over its weights instead of three (`bench local`, phi-2 Q4_0, the Zen 4 host's fast stretches:
            // 30.2 → 30.7 tokens/s).
            let projections: [LinearCall]
            switch layer.attention.projection {
            case .fused(let projection):
                projections = [LinearCall(layer: projection, x: h.pointer, y: qkv.pointer)]
            case .split(let q, let k, let v):
                // Interleaved into [q | k | v] rows so both layouts share the code below.
                projections = [(q, 0), (k, heads * d), (v, (heads + kvHeads) * d)].map { linear, offset in
                    LinearCall(layer: linear, x: h.pointer, y: qkv.pointer + offset, yStride: qkvWidth)
                }
            }
            // gelu is applied as fc1's rows are stored (on the workers), not after the dispatch on one thread.
            let fc1 = LinearCall(layer: layer.mlp.fc1, x: h.pointer, y: up.pointer, activation: .geluTanh)
            Linear.apply(projections + [fc1], segments: segments)
            // fc2 does not need the attention: the caller computes it while the other threads stream fc2, and the
            // output projection that reads it comes last (one dispatch instead of attention's own and the pair's).
            let attention = plan.prepareAttention(
                qkv: qkv.pointer, qkvWidth: qkvWidth, layer: index, heads: heads, kvHeads: kvHeads, headDimension: d,
                rope: { _ in rope }, output: attended.pointer)
            Linear.apply(
                [LinearCall(layer: layer.mlp.fc2, x: up.pointer, y: h.pointer),
                 LinearCall(layer: layer.attention.dense, x: attended.pointer, y: attentionOut.pointer)],
                segments: segments, afterAttention: attention, deferredFrom: 1)
            x.add(attentionOut)
            x.add(h)
        }
        plan.commit()
        return plan.logits(x, hidden: hidden, selection: logits, norm: finalNorm, lmHead: lmHead)
    }
}
