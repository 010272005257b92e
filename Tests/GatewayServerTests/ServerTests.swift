import AsyncHTTPClient
import FakeUpstream
import Foundation
import GatewayServer
import Hummingbird
import Logging
import PhigateConfig
import Testing

@Suite("Server endpoints, headers, metrics, disconnects and secrets")
struct ServerTests {
    @Test("GET /v1/models lists served models and aliases in OpenAI's shape")
    func modelsList() async throws {
        try await GatewayHarness.run { gateway in
            let reply = try await gateway.request("GET", "/v1/models")
            #expect(reply.status == 200)
            #expect(reply.json["object"] as? String == "list")
            let data = try #require(reply.json["data"] as? [[String: Any]])
            let ids = data.compactMap { $0["id"] as? String }
            #expect(ids == ["gpt-4o-mini", "gpt-4o", "claude-3-5-sonnet", "fast"])
            #expect(data.allSatisfy { $0["object"] as? String == "model" })
            let owners = data.compactMap { $0["owned_by"] as? String }
            #expect(owners == ["openai", "openai", "anthropic", "openai"])
        }
    }

    @Test("health and readiness answer without a key")
    func health() async throws {
        try await GatewayHarness.run { gateway in
            let health = try await gateway.request("GET", "/healthz", headers: [])
            #expect(health.status == 200)
            #expect(health.json["status"] as? String == "ok")
            let ready = try await gateway.request("GET", "/readyz", headers: [])
            #expect(ready.status == 200)
            #expect(ready.json["status"] as? String == "ready")
            #expect((ready.json["backends"] as? [String: String]) == ["openai": "ok", "anthropic": "ok"])
        }
    }

    @Test("every response carries x-request-id (the client's when sane) and x-phigate-backend")
    func requestIDs() async throws {
        try await GatewayHarness.run { gateway in
            let echoed = try await gateway.chat(chatBody(), headers: GatewayHarness.authorized + [("x-request-id", "client-id_42.a:b")])
            #expect(echoed.header("x-request-id") == "client-id_42.a:b")
            #expect(echoed.header("x-phigate-backend") == "openai")

            let replaced = try await gateway.chat(chatBody(), headers: GatewayHarness.authorized + [("x-request-id", "bad id\twith spaces")])
            let generated = try #require(replaced.header("x-request-id"))
            #expect(!generated.isEmpty && generated != "bad id\twith spaces")

            let other = try await gateway.chat(chatBody())
            #expect(other.header("x-request-id") != generated)

            for reply in [
                try await gateway.request("GET", "/healthz", headers: []),
                try await gateway.chat(chatBody(), headers: []),
                try await gateway.chat(chatBody(model: "nope")),
                try await gateway.chat(chatBody(model: "claude-3-5-sonnet", stream: true)),
            ] {
                #expect(reply.header("x-request-id")?.isEmpty == false)
                #expect(reply.header("x-phigate-backend") != nil)
            }
        }
    }

    @Test("metrics count requests, latency, upstream errors, tokens and cost")
    func metrics() async throws {
        try await GatewayHarness.run(script: { request in
            request.bodyText.contains("gpt-4o-2024-08-06") ? .openAIError(status: 500, message: "boom") : FakeUpstream.standardScript(request)
        }) { gateway in
            _ = try await gateway.chat(chatBody())
            _ = try await gateway.chat(chatBody(stream: true))
            _ = try await gateway.chat(chatBody(model: "gpt-4o"))
            _ = try await gateway.chat(chatBody(model: "claude-3-5-sonnet"))
            let text = try await gateway.metricsText()
            #expect(text.contains(#"phigate_requests_total{model="gpt-4o-mini",backend="openai",status="200"} 2"#))
            #expect(text.contains(#"phigate_requests_total{model="gpt-4o",backend="openai",status="502"} 1"#))
            #expect(text.contains(#"phigate_requests_total{model="claude-3-5-sonnet",backend="anthropic",status="200"} 1"#))
            #expect(text.contains(#"phigate_request_duration_seconds_bucket{model="gpt-4o-mini",backend="openai""#))
            #expect(text.contains(#"phigate_upstream_errors_total{backend="openai",kind="status"} 1"#))
            #expect(text.contains(#"phigate_prompt_tokens_total{model="gpt-4o-mini",backend="openai"} 22"#))
            #expect(text.contains(#"phigate_completion_tokens_total{model="gpt-4o-mini",backend="openai"} 14"#))
            #expect(text.contains(#"phigate_prompt_tokens_total{model="claude-3-5-sonnet",backend="anthropic"} 13"#))
            #expect(text.contains("phigate_cost_usd_total{model=\"claude-3-5-sonnet\",backend=\"anthropic\"}"))
            #expect(text.contains("phigate_time_to_first_chunk_seconds"))
        }
    }

    @Test("a client that disconnects mid-stream cancels the upstream request")
    func clientDisconnectCancelsUpstream() async throws {
        let paced = FakeResponse.openAIStream(deltas: Array(repeating: "tok ", count: 500), interval: .milliseconds(20))
        try await GatewayHarness.run(script: { _ in paced }) { gateway in
            let firstChunk = AsyncStream<Void>.makeStream()
            let client = gateway.client
            let url = gateway.baseURL + "/v1/chat/completions"
            let reader = Task {
                var request = HTTPClientRequest(url: url)
                request.method = .POST
                request.headers.add(name: "authorization", value: "Bearer \(TestSecrets.gatewayKey)")
                request.body = .bytes(ByteBuffer(string: chatBody(stream: true)))
                let response = try await client.execute(request, timeout: .seconds(30))
                for try await _ in response.body {
                    firstChunk.continuation.yield()
                }
            }
            var iterator = firstChunk.stream.makeAsyncIterator()
            _ = await iterator.next()
            reader.cancel()
            _ = await reader.result

            let outcome = await gateway.upstream.waitForOutcome(ofRequest: 0)
            guard case .peerClosed(let chunks) = outcome else {
                Issue.record("upstream saw \(String(describing: outcome)), expected the gateway to close the connection")
                return
            }
            #expect(chunks < 500)
        }
    }

    @Test("provider and gateway keys never appear in logs, error bodies or metrics")
    func secretsNeverLeak() async throws {
        try await GatewayHarness.run(script: { request in
            if request.bodyText.contains("leak-openai") {
                return .openAIError(status: 401, message: "Incorrect API key provided: \(TestSecrets.openAIKey)")
            }
            if request.bodyText.contains("leak-anthropic") {
                return .anthropicError(status: 403, message: "key \(TestSecrets.anthropicKey) is not allowed")
            }
            return FakeUpstream.standardScript(request)
        }) { gateway in
            var bodies: [String] = []
            bodies.append(try await gateway.chat(chatBody()).body)
            bodies.append(try await gateway.chat(chatBody(stream: true)).body)
            bodies.append(try await gateway.chat(chatBody(model: "claude-3-5-sonnet", stream: true)).body)
            bodies.append(try await gateway.chat(#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"leak-openai"}]}"#).body)
            bodies.append(try await gateway.chat(#"{"model":"claude-3-5-sonnet","messages":[{"role":"user","content":"leak-anthropic"}]}"#).body)
            bodies.append(try await gateway.chat(chatBody(), headers: [("authorization", "Bearer \(TestSecrets.gatewayKey)x")]).body)
            bodies.append(try await gateway.chat("{not json").body)
            bodies.append(try await gateway.chat(chatBody(model: "unknown-model")).body)
            bodies.append(try await gateway.metricsText())
            let logs = gateway.logText
            #expect(!logs.isEmpty)
            for secret in TestSecrets.all {
                #expect(!logs.contains(secret), "a secret is in the logs")
                for body in bodies { #expect(!body.contains(secret), "a secret is in a response body") }
            }
            #expect(!logs.contains("Say hello"), "prompt text is in the logs")
        }
    }

    @Test("without gateway keys the server refuses a non-loopback address")
    func refusesOpenListenerWithoutKeys() async throws {
        let upstream = try await FakeUpstream.start(script: FakeUpstream.standardScript)
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        let logger = Logger(label: "test")
        var config = GatewayHarness.config(upstream: upstream)
        config.apiKeys = []
        config.server.host = "0.0.0.0"
        #expect(throws: (any Error).self) {
            _ = try buildApplication(config: config, environment: GatewayHarness.environment, logger: logger, httpClient: client)
        }
        config.server.host = "127.0.0.1"
        #expect(throws: Never.self) {
            _ = try buildApplication(config: config, environment: GatewayHarness.environment, logger: logger, httpClient: client)
        }
        config.server.host = "0.0.0.0"
        config.apiKeys = [GatewayKeyConfig(id: "k", tenant: "t", source: .sha256(String(repeating: "ab", count: 32)))]
        #expect(throws: Never.self) {
            _ = try buildApplication(config: config, environment: GatewayHarness.environment, logger: logger, httpClient: client)
        }
        try await client.shutdown()
        await upstream.shutdown()
    }

    @Test("without gateway keys on loopback, requests need no key")
    func noKeysOnLoopback() async throws {
        try await GatewayHarness.run(configure: { $0.apiKeys = [] }) { gateway in
            let reply = try await gateway.chat(chatBody(), headers: [])
            #expect(reply.status == 200)
        }
    }
}
