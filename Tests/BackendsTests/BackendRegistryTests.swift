import Backends
import Logging
import OpenAIWire
import PhigateConfig
import Testing

/// A backend that answers nothing: registry tests only look at routing.
struct StubBackend: ChatBackend {
    let name: String
    var kind: BackendKind { .openai }

    func complete(_ request: ChatCompletionRequest, upstreamModel: String, logger: Logger) async throws -> ChatCompletionResponse {
        throw UpstreamFault.connectionRefused
    }

    func stream(_ request: ChatCompletionRequest, upstreamModel: String, logger: Logger) -> AsyncThrowingStream<ChatStreamEvent, any Error> {
        AsyncThrowingStream { $0.finish(throwing: UpstreamFault.connectionRefused) }
    }
}

@Suite struct BackendRegistryTests {
    let config = GatewayConfig(
        backends: [
            BackendConfig(name: "openai", kind: .openai, baseURL: "http://127.0.0.1:1/v1", apiKeyEnv: "OPENAI_API_KEY", models: [
                ModelConfig(name: "gpt-4o", upstreamName: "gpt-4o-2024-08-06",
                            price: ModelPrice(inputMicrosPerMillion: 2_500_000, outputMicrosPerMillion: 10_000_000), contextLength: 128_000),
                ModelConfig(name: "gpt-4o-mini"),
            ]),
            BackendConfig(name: "anthropic", kind: .anthropic, baseURL: "http://127.0.0.1:1/v1", apiKeyEnv: "ANTHROPIC_API_KEY",
                          models: [ModelConfig(name: "claude-sonnet-4")]),
        ],
        aliases: ["latest": "gpt-4o", "sonnet": "claude-sonnet-4"])

    var registry: BackendRegistry {
        BackendRegistry(
            config: config, backends: [StubBackend(name: "openai"), StubBackend(name: "anthropic")],
            backendsMissingKey: ["anthropic"])
    }

    @Test func resolvesServedNamesAndAliases() throws {
        let direct = try registry.resolve(model: "gpt-4o")
        #expect(direct.backendName == "openai")
        #expect(direct.upstreamName == "gpt-4o-2024-08-06")
        #expect(direct.contextLength == 128_000)
        let alias = try registry.resolve(model: "latest")
        #expect(alias.requestedName == "latest")
        #expect(alias.name == "gpt-4o")
        #expect(alias.upstreamName == "gpt-4o-2024-08-06")
        #expect(try registry.resolve(model: "gpt-4o-mini").upstreamName == "gpt-4o-mini")
    }

    @Test func unknownModelIs404() {
        #expect(throws: ModelLookupError.unknownModel("gpt-9")) { try registry.resolve(model: "gpt-9") }
        #expect(ModelLookupError.unknownModel("gpt-9").openAIError.status == 404)
        #expect(ModelLookupError.unknownModel("gpt-9").openAIError.code == "model_not_found")
    }

    @Test func modelOfBackendWithoutKeyIsAClearError() {
        let expected = ModelLookupError.missingAPIKey(model: "sonnet", backend: "anthropic", variable: "ANTHROPIC_API_KEY")
        #expect(throws: expected) { try registry.resolve(model: "sonnet") }
        #expect(expected.openAIError.status == 503)
        #expect(expected.openAIError.message.contains("ANTHROPIC_API_KEY"))
    }

    @Test func modelListHasServedNamesThenAliases() {
        let list = registry.modelList(created: 1_700_000_000)
        #expect(list.object == "list")
        #expect(list.data.map(\.id) == ["gpt-4o", "gpt-4o-mini", "claude-sonnet-4", "latest", "sonnet"])
        #expect(list.data.map(\.ownedBy) == ["openai", "openai", "anthropic", "openai", "anthropic"])
    }

    @Test func costUsesIntegerMicros() throws {
        let model = try registry.resolve(model: "gpt-4o")
        let cost = model.cost(of: Usage(promptTokens: 1000, completionTokens: 500))
        #expect(cost.micros == 7500)
        #expect(cost.dollars == 0.0075)
    }

    @Test func faultsMapToStatuses() {
        #expect(UpstreamFault.timeout(.firstByte).openAIError(backend: "b").status == 504)
        #expect(UpstreamFault.connectionRefused.openAIError(backend: "b").status == 502)
        #expect(UpstreamFault.connectionReset.openAIError(backend: "b").status == 502)
        let status = UpstreamFault.status(code: 503, message: "overloaded").openAIError(backend: "openai")
        #expect(status.status == 502)
        #expect(status.message == "Backend 'openai': upstream answered 503: overloaded.")
        let limited = UpstreamFault.status(code: 429, message: "rate limited").openAIError(backend: "openai")
        #expect(limited.status == 429)
        #expect(limited.type == "rate_limit_error")
        #expect(UpstreamFault.status(code: 401, message: "bad key").openAIError(backend: "b").status == 502)
        let context = UpstreamFault.status(code: 400, message: "invalid_request_error: This model's maximum context length is 8192 tokens.")
        #expect(context.openAIError(backend: "b").status == 400)
        #expect(context.openAIError(backend: "b").code == "context_length_exceeded")
        #expect(UpstreamFault.circuitOpen(retryAfter: .seconds(3)).openAIError(backend: "b").status == 503)
        #expect(UpstreamFault.circuitOpen(retryAfter: .seconds(3)).openAIError(backend: "b").code == "upstream_circuit_open")
        #expect(UpstreamFault.brokenStream(afterChunks: 3).openAIError(backend: "b").status == 502)
        #expect(UpstreamFault.missingAPIKey(backend: "b", variable: "V").openAIError(backend: "b").status == 503)
    }
}
