import PhigateConfig
import Testing

@Suite struct LocalBackendConfigTests {
    static let local = """
        backends:
          - name: local
            kind: local
            model: "${PHIGATE_LOCAL_MODEL:-}"
            threads: "${PHIGATE_LOCAL_THREADS:-0}"
            context_size: 2048
            max_concurrent_sequences: 8
            queue_limit: 5
            kv_cache_budget: 3GiB
            kv_cache_type: f16
            numerics: exact
            chat_template: phi4-mini
            on_load_failure: mark_down
            sampling: { temperature: 0.7, top_p: 0.9, top_k: 40, min_p: 0.05, repetition_penalty: 1.1, max_tokens: 256 }
            models:
              - { name: local, price_per_1m: { input: 0.01, output: 0.02 } }
        aliases:
          phi: local
        """

    static func load(_ yaml: String, environment: [String: String] = [:]) throws(ConfigError) -> GatewayConfig {
        try ConfigLoader.load(yaml: yaml, file: "local.yaml", environment: environment)
    }

    @Test func everyLocalKeyIsDecoded() throws {
        let config = try Self.load(Self.local, environment: ["PHIGATE_LOCAL_MODEL": "/models/phi.gguf", "PHIGATE_LOCAL_THREADS": "3"])
        let backend = try #require(config.backends.first)
        #expect(backend.kind == .local && backend.baseURL.isEmpty && !backend.kind.isRemote)
        let local = try #require(backend.local)
        #expect(local.modelPath == "/models/phi.gguf" && local.isEnabled)
        #expect(local.threads == 3 && local.contextSize == 2048 && local.maxSequences == 8 && local.queueLimit == 5)
        #expect(local.kvCacheBudget == 3 << 30)
        #expect(local.kvCacheType == .f16 && local.numerics == .exact && local.chatTemplate == "phi4-mini")
        #expect(local.onLoadFailure == .markDown)
        #expect(local.sampling == LocalSamplingDefaults(temperature: 0.7, topP: 0.9, topK: 40, minP: 0.05, repetitionPenalty: 1.1, maxTokens: 256))
        #expect(backend.models.first?.price == ModelPrice(inputMicrosPerMillion: 10_000, outputMicrosPerMillion: 20_000))
        #expect(config.aliases["phi"] == "local")
    }

    @Test func anEmptyModelDisablesTheBackendWithAWarning() throws {
        let config = try Self.load(Self.local)
        #expect(config.backends[0].local?.isEnabled == false)
        let resolved = ConfigLoader.resolve(config, environment: [:])
        #expect(resolved.disabledBackends["local"]?.contains("PHIGATE_LOCAL_MODEL") == true)
        #expect(resolved.warnings.contains { $0.contains("backend 'local'") && $0.contains("503") })
        #expect(resolved.summary.contains { $0.contains("DISABLED") })
    }

    @Test func remoteOnlyKeysAndBadValuesAreErrorsWithTheirPath() {
        func error(_ yaml: String) -> String {
            do {
                _ = try Self.load(yaml)
                return ""
            } catch {
                return error.description
            }
        }
        let withURL = Self.local.replacingOccurrences(of: "    threads:", with: "    base_url: http://x\n    threads:")
        #expect(error(withURL).contains("backends[0].base_url: unknown key"))
        #expect(error(Self.local.replacingOccurrences(of: "kv_cache_type: f16", with: "kv_cache_type: q4")).contains(
            "backends[0].kv_cache_type: expected one of f32, f16"))
        #expect(error(Self.local.replacingOccurrences(of: "chat_template: phi4-mini", with: "chat_template: llama3")).contains(
            "backends[0].chat_template: expected one of phi2, phi3, phi4-mini"))
        #expect(error(Self.local.replacingOccurrences(of: "temperature: 0.7", with: "temperature: 9")).contains(
            "backends[0].sampling.temperature: expected a temperature from 0 to 2"))
        #expect(error(Self.local.replacingOccurrences(of: "max_concurrent_sequences: 8", with: "max_concurrent_sequences: 0")).contains(
            "backends[0].max_concurrent_sequences"))
        #expect(error(Self.local.replacingOccurrences(of: "    model: \"${PHIGATE_LOCAL_MODEL:-}\"\n", with: "")).contains(
            "backends[0].model: missing required key"))
    }

    @Test func theLocalTierRejectsARemoteBackendOffThisMachine() {
        let yaml = """
            backends:
              - { name: cloud, kind: openai, base_url: "https://api.openai.com/v1", models: [gpt-4o] }
              - { name: llamacpp, kind: openai, base_url: "http://127.0.0.1:8081/v1", models: [llama] }
            routing:
              policy: policies/default.yaml
              tiers: { local: [llamacpp, cloud] }
            """
        do {
            _ = try Self.load(yaml)
            Issue.record("a remote backend in the local tier was accepted")
        } catch {
            #expect(error.description.contains("routing.tiers.local[1]"))
            #expect(error.description.contains("not on this machine"))
            #expect(!error.description.contains("routing.tiers.local[0]"), "a loopback HTTP backend is local")
        }
    }
}
