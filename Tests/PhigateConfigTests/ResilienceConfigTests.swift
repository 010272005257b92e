import Foundation
import PhigateConfig
import Testing

/// `backends[i].retry` and `backends[i].circuit_breaker`: defaults, every key, strict errors.
@Suite struct ResilienceConfigTests {
    static func yaml(_ extra: String) -> String {
        """
        backends:
          - name: openai
            kind: openai
            base_url: https://api.openai.com/v1
            models: [gpt-4o]
        \(extra.split(separator: "\n").map { "    " + $0 }.joined(separator: "\n"))
        """
    }

    static func load(_ extra: String) throws(ConfigError) -> BackendConfig? {
        try ConfigLoader.load(yaml: yaml(extra), file: "test.yaml", environment: [:]).backends.first
    }

    static func errorText(_ extra: String) -> String {
        do {
            _ = try load(extra)
            Issue.record("expected the configuration to be rejected")
            return ""
        } catch {
            return error.description
        }
    }

    @Test func defaultsWhenAbsent() throws {
        let backend = try #require(try Self.load(""))
        #expect(backend.retry == RetryConfig())
        #expect(backend.retry.maxAttempts == 3)
        #expect(backend.retry.initialBackoff == .milliseconds(200))
        #expect(backend.retry.maxBackoff == .seconds(2))
        #expect(backend.retry.maxRetryAfter == .seconds(10))
        #expect(backend.retry.budgetRatio == 0.2)
        #expect(backend.retry.budgetReserve == 10)
        #expect(backend.circuitBreaker == CircuitBreakerConfig())
        #expect(backend.circuitBreaker.isEnabled)
        #expect(backend.circuitBreaker.consecutiveFailures == 5)
        #expect(backend.circuitBreaker.cooldown == .seconds(30))
    }

    @Test func everyKeyDecodes() throws {
        let backend = try #require(try Self.load("""
            retry: { max_attempts: 4, initial_backoff: 0ms, max_backoff: 1s, max_retry_after: 30s, budget_ratio: 0.5, budget_reserve: 3 }
            circuit_breaker: { enabled: false, consecutive_failures: 0, failure_rate: 0.25, window: 40, cooldown: 2m }
            """))
        #expect(backend.retry == RetryConfig(
            maxAttempts: 4, initialBackoff: .zero, maxBackoff: .seconds(1), maxRetryAfter: .seconds(30), budgetRatio: 0.5,
            budgetReserve: 3))
        #expect(backend.circuitBreaker == CircuitBreakerConfig(
            isEnabled: false, consecutiveFailures: 0, failureRate: 0.25, window: 40, cooldown: .seconds(120)))
    }

    @Test func errorsNameTheKeyAndTheForm() {
        #expect(Self.errorText("retry: { max_tries: 2 }").contains(
            "backends[0].retry.max_tries: unknown key (expected one of max_attempts, initial_backoff, max_backoff"))
        #expect(Self.errorText("retry: { max_attempts: 0 }").contains(
            #"backends[0].retry.max_attempts: expected a number of calls from 1 to 10, found "0""#))
        #expect(Self.errorText("retry: { initial_backoff: 5s, max_backoff: 1s }").contains(
            "backends[0].retry.initial_backoff: must not exceed max_backoff"))
        #expect(Self.errorText("retry: { budget_ratio: lots }").contains("backends[0].retry.budget_ratio: expected retries per request"))
        #expect(Self.errorText("circuit_breaker: { failure_rate: 2 }").contains(
            "backends[0].circuit_breaker.failure_rate: expected a share above 0 up to 1"))
        #expect(Self.errorText("circuit_breaker: { cooldown: soon }").contains("backends[0].circuit_breaker.cooldown: expected a duration"))
        #expect(Self.errorText("circuit_breaker: { enabled: maybe }").contains("backends[0].circuit_breaker.enabled: expected true or false"))
        #expect(Self.errorText("circuit_breaker: 3").contains("backends[0].circuit_breaker"))
    }

    @Test func streamIdleTimeout() throws {
        #expect(try Self.load("")?.timeouts.idle == .seconds(120))
        #expect(try Self.load("timeouts: { idle: 45s }")?.timeouts.idle == .seconds(45))
        #expect(Self.errorText("timeouts: { idle: 0s }").contains("backends[0].timeouts.idle: expected a duration"))
    }

    @Test func theExampleConfigurationDocumentsBoth() throws {
        let file = ConfigLoaderTests.configDirectory.appendingPathComponent("phigate.example.yaml").path
        let config = try ConfigLoader.load(file: file, environment: ["PHIGATE_LOCAL_MODEL": ""])
        let openai = try #require(config.backends.first { $0.name == "openai" })
        #expect(openai.retry == RetryConfig())
        #expect(openai.circuitBreaker == CircuitBreakerConfig())
        #expect(openai.timeouts.idle == .seconds(120))
    }
}
