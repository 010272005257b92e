import Foundation
import PhigateConfig
import Testing

@Suite("limits: is strictly decoded")
struct LimitsConfigTests {
    private static let base = """
        backends:
          - name: openai
            kind: openai
            base_url: https://api.openai.com/v1
            models: [gpt-4o]

        """

    private func load(_ limits: String) throws(ConfigError) -> GatewayConfig {
        try ConfigLoader.load(yaml: Self.base + limits, file: "limits.yaml", environment: [:])
    }

    private func errorText(_ limits: String) -> String {
        do {
            _ = try load(limits)
            Issue.record("expected the configuration to be rejected")
            return ""
        } catch {
            return error.description
        }
    }

    @Test("every limit decodes")
    func decodesEveryLimit() throws {
        let config = try load("""
            limits:
              max_messages: 100
              max_tokens: 4096
              body_timeout: 5s
              per_key: { requests_per_minute: 60, tokens_per_minute: 10_000 }
              per_tenant: { requests_per_minute: 600 }
              keys: { ci: { tokens_per_minute: 500 } }
              tenants: { acme: { requests_per_minute: 5 } }
              backend_concurrency: { openai: 8 }
            """)
        let limits = try #require(config.limits)
        #expect(limits.maxMessages == 100 && limits.maxTokens == 4096 && limits.bodyTimeout == .seconds(5))
        #expect(limits.perKey == RateLimit(requestsPerMinute: 60, tokensPerMinute: 10_000))
        #expect(limits.rate(forKey: "ci") == RateLimit(tokensPerMinute: 500))
        #expect(limits.rate(forKey: "other") == limits.perKey)
        #expect(limits.rate(forTenant: "acme") == RateLimit(requestsPerMinute: 5))
        #expect(limits.rate(forTenant: "other") == RateLimit(requestsPerMinute: 600))
        #expect(limits.backendConcurrency == ["openai": 8])
    }

    @Test("no limits block means no limits")
    func absentBlock() throws {
        #expect(try load("").limits == nil)
    }

    @Test(
        "bad limits are errors naming the key path",
        arguments: [
            ("limits: { max_mesages: 3 }", "limits.max_mesages: unknown key"),
            ("limits: { max_tokens: 0 }", "limits.max_tokens"),
            ("limits: { max_tokens: lots }", "limits.max_tokens"),
            ("limits: { per_key: { requests_per_minute: -1 } }", "limits.per_key.requests_per_minute"),
            ("limits: { per_key: { rpm: 1 } }", "limits.per_key.rpm: unknown key"),
            ("limits: { per_key: 60 }", "limits.per_key"),
            ("limits: { backend_concurrency: { nope: 2 } }", "limits.backend_concurrency.nope: unknown backend 'nope'"),
            ("limits: { backend_concurrency: { openai: 0 } }", "limits.backend_concurrency.openai"),
            ("limits: { body_timeout: soon }", "limits.body_timeout"),
        ]
    )
    func rejects(yaml: String, expected: String) {
        let text = errorText(yaml)
        #expect(text.contains(expected), "\(text)")
    }
}
