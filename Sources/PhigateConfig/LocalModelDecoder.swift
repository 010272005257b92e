internal import Yams

/// Reads the `kind: local` keys of a backend into `LocalModelConfig`.
struct LocalModelDecoder {
    typealias Value = ConfigReader.Value
    let reader: ConfigReader

    static let keys = [
        "model", "threads", "context_size", "max_concurrent_sequences", "queue_limit", "kv_cache_budget", "kv_cache_type",
        "numerics", "chat_template", "on_load_failure", "sampling",
    ]
    static let samplingKeys = ["temperature", "top_p", "top_k", "min_p", "repetition_penalty", "max_tokens"]

    func decode(_ fields: ConfigReader.Fields, owner: Value) -> LocalModelConfig? {
        // `model` may expand to "" (e.g. "${PHIGATE_LOCAL_MODEL:-}"): that disables the backend.
        guard let path = fields.required("model", expected: "a GGUF file or Hugging Face folder path").flatMap({ reader.string($0) })
        else { return nil }
        var local = LocalModelConfig(modelPath: path)
        if let threads = fields.optional("threads").flatMap({ reader.int($0, in: 0...1024, expected: "a number of threads (0: one per core)") }) {
            local.threads = threads
        }
        if let context = fields.optional("context_size").flatMap({ reader.int($0, in: 1...10_000_000, expected: "a number of tokens") }) {
            local.contextSize = context
        }
        if let sequences = fields.optional("max_concurrent_sequences").flatMap({ reader.int($0, in: 1...256, expected: "a number of sequences from 1 to 256") }) {
            local.maxSequences = sequences
        }
        if let queue = fields.optional("queue_limit").flatMap({ reader.int($0, in: 0...1_000_000, expected: "a number of waiting requests") }) {
            local.queueLimit = queue
        }
        if let budget = fields.optional("kv_cache_budget").flatMap({ reader.byteSize($0, limit: 1 << 40) }) { local.kvCacheBudget = budget }
        if let type = fields.optional("kv_cache_type").flatMap({ reader.choice($0, of: LocalKVCacheType.self) }) { local.kvCacheType = type }
        if let numerics = fields.optional("numerics").flatMap({ reader.choice($0, of: LocalNumerics.self) }) { local.numerics = numerics }
        if let template = fields.optional("chat_template").flatMap({ reader.nonEmptyString($0, expected: "phi2, phi3 or phi4-mini") }) {
            if ["phi2", "phi-2", "phi3", "phi-3", "phi3.5", "phi-3.5", "phi4-mini", "phi-4-mini"].contains(template.lowercased()) {
                local.chatTemplate = template
            } else if let value = fields.optional("chat_template") {
                reader.report(value, "expected one of phi2, phi3, phi4-mini, found \"\(template.prefix(60))\"")
            }
        }
        if let policy = fields.optional("on_load_failure").flatMap({ reader.choice($0, of: LocalLoadFailurePolicy.self) }) {
            local.onLoadFailure = policy
        }
        if let value = fields.optional("sampling"), let sampling = sampling(value) { local.sampling = sampling }
        return local
    }

    private func sampling(_ value: Value) -> LocalSamplingDefaults? {
        guard let fields = reader.mapping(value, allowed: Self.samplingKeys) else { return nil }
        var sampling = LocalSamplingDefaults()
        if let t = fields.optional("temperature").flatMap({ reader.double($0, in: 0...2, expected: "a temperature from 0 to 2") }) { sampling.temperature = t }
        if let p = fields.optional("top_p").flatMap({ reader.double($0, in: 0.000_001...1, expected: "a probability in (0, 1]") }) { sampling.topP = p }
        if let k = fields.optional("top_k").flatMap({ reader.int($0, in: 0...1_000_000, expected: "a number of tokens (0 disables)") }) { sampling.topK = k }
        if let p = fields.optional("min_p").flatMap({ reader.double($0, in: 0...1, expected: "a probability from 0 to 1") }) { sampling.minP = p }
        if let r = fields.optional("repetition_penalty").flatMap({ reader.double($0, in: 0.000_001...100, expected: "a positive factor (1 disables)") }) {
            sampling.repetitionPenalty = r
        }
        if let n = fields.optional("max_tokens").flatMap({ reader.int($0, in: 1...10_000_000, expected: "a positive number of tokens") }) { sampling.maxTokens = n }
        fields.finish(allowed: Self.samplingKeys)
        return sampling
    }
}
