import AsyncHTTPClient
import FakeUpstream
import Foundation
import GatewayServer
import Hummingbird
import HummingbirdTesting
import Logging
import OutcomeStore
import PhigateConfig

/// Secrets used by the tests; none of them may ever show up in logs, error bodies or metrics.
enum TestSecrets {
    static let openAIKey = "sk-openai-TESTSECRET-4c1e9a7b2d"
    static let anthropicKey = "sk-ant-TESTSECRET-8f3b6d0a1e"
    static let gatewayKey = "pg-gateway-TESTSECRET-51d2e7"
    static var all: [String] { [openAIKey, anthropicKey, gatewayKey] }
}

/// One HTTP exchange with the gateway.
struct Reply {
    var status: Int
    var headers: [(String, String)]
    var body: String

    /// The first value of a response header (case-insensitive).
    func header(_ name: String) -> String? {
        headers.first { $0.0.lowercased() == name.lowercased() }?.1
    }

    var json: [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] ?? [:]
    }

    var errorObject: [String: Any] { json["error"] as? [String: Any] ?? [:] }

    /// The concatenated `delta.content` of an SSE body's chunks (first choice).
    var streamedContent: String {
        sseData.compactMap { line -> String? in
            let chunk = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
            return ((chunk?["choices"] as? [[String: Any]])?.first?["delta"] as? [String: Any])?["content"] as? String
        }.joined()
    }

    /// The `data:` payloads of an SSE body, in order.
    var sseData: [String] {
        body.components(separatedBy: "\n").compactMap { line in
            line.hasPrefix("data: ") ? String(line.dropFirst(6)) : nil
        }
    }
}

/// A running gateway (through the same `buildApplication` as `phigate serve`) in front of a FakeUpstream.
struct GatewayHarness {
    let port: Int
    let client: HTTPClient
    let upstream: FakeUpstream
    let logs: CapturingLogHandler.Store
    let metrics: GatewayMetrics

    var baseURL: String { "http://127.0.0.1:\(port)" }

    static let environment: [String: String] = [
        "OPENAI_API_KEY": TestSecrets.openAIKey,
        "ANTHROPIC_API_KEY": TestSecrets.anthropicKey,
        "PHIGATE_TEST_GATEWAY_KEY": TestSecrets.gatewayKey,
    ]

    /// The configuration the tests start from: an `openai` backend, an `anthropic` backend, an alias, a key.
    static func config(upstream: FakeUpstream) -> GatewayConfig {
        let timeouts = BackendTimeouts(connect: .seconds(30), firstByte: .seconds(120), total: .seconds(300))
        return GatewayConfig(
            server: ServerConfig(host: "127.0.0.1", port: 0, maxBodySize: 64 * 1024, shutdownGracePeriod: .seconds(5)),
            backends: [
                BackendConfig(
                    name: "openai",
                    kind: .openai,
                    baseURL: upstream.baseURL + "/v1",
                    apiKeyEnv: "OPENAI_API_KEY",
                    timeouts: timeouts,
                    models: [
                        ModelConfig(
                            name: "gpt-4o-mini",
                            price: ModelPrice(inputMicrosPerMillion: 150_000, outputMicrosPerMillion: 600_000)
                        ),
                        ModelConfig(name: "gpt-4o", upstreamName: "gpt-4o-2024-08-06"),
                    ]
                ),
                BackendConfig(
                    name: "anthropic",
                    kind: .anthropic,
                    baseURL: upstream.baseURL + "/v1",
                    apiKeyEnv: "ANTHROPIC_API_KEY",
                    timeouts: timeouts,
                    models: [
                        ModelConfig(
                            name: "claude-3-5-sonnet",
                            upstreamName: "claude-3-5-sonnet-20241022",
                            price: ModelPrice(inputMicrosPerMillion: 3_000_000, outputMicrosPerMillion: 15_000_000)
                        )
                    ]
                ),
            ],
            aliases: ["fast": "gpt-4o-mini"],
            apiKeys: [GatewayKeyConfig(id: "test-key", tenant: "tests", source: .environment("PHIGATE_TEST_GATEWAY_KEY"))],
            database: DatabaseConfig(path: ":memory:"),
            sourceFile: "<tests>"
        )
    }

    /// Starts a FakeUpstream with `script` and the gateway in front of it, runs `body`, then stops both.
    static func run(
        script: @escaping FakeUpstream.Script = FakeUpstream.standardScript,
        environment: [String: String] = environment,
        configure: (inout GatewayConfig) -> Void = { _ in },
        outcomeStore: OutcomeStore? = nil,
        configFile: String? = nil,
        _ body: @escaping @Sendable (GatewayHarness) async throws -> Void
    ) async throws {
        let upstream = try await FakeUpstream.start(script: script)
        let (logger, logs) = CapturingLogHandler.makeLogger()
        let metrics = GatewayMetrics()
        var config = Self.config(upstream: upstream)
        configure(&config)
        do {
            try await withHTTPClient { client in
                let app = try buildApplication(
                    config: config, configFile: configFile, environment: environment, logger: logger, metrics: metrics,
                    outcomeStore: outcomeStore)
                try await app.test(.live) { testClient in
                    let harness = GatewayHarness(
                        port: testClient.port ?? 0,
                        client: client,
                        upstream: upstream,
                        logs: logs,
                        metrics: metrics
                    )
                    try await body(harness)
                }
            }
        } catch {
            await upstream.shutdown()
            throw error
        }
        await upstream.shutdown()
    }

    // MARK: - Requests

    static let authorized = [("authorization", "Bearer \(TestSecrets.gatewayKey)")]

    func request(
        _ method: String,
        _ path: String,
        body: String? = nil,
        headers: [(String, String)] = GatewayHarness.authorized
    ) async throws -> Reply {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = .init(rawValue: method)
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body {
            request.headers.add(name: "content-type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body))
        }
        let response = try await client.execute(request, timeout: .seconds(30))
        let bytes = try await response.body.collect(upTo: 16 << 20)
        return Reply(
            status: Int(response.status.code),
            headers: response.headers.map { ($0.name, $0.value) },
            body: String(buffer: bytes)
        )
    }

    func chat(_ json: String, headers: [(String, String)] = GatewayHarness.authorized) async throws -> Reply {
        try await request("POST", "/v1/chat/completions", body: json, headers: headers)
    }

    /// The Prometheus text served at `/metrics`.
    func metricsText() async throws -> String {
        try await request("GET", "/metrics").body
    }

    /// Everything that was logged, for secret checks.
    var logText: String { logs.text }

    /// Sends 8 × 50 chat requests for `model` from 8 concurrent workers (every other one streamed) while `action`
    /// runs; the number answered completely (200, and streams that end with `[DONE]`).
    func completeAnswers(model: String, during action: @escaping @Sendable () async throws -> Void) async throws -> Int {
        try await withThrowingTaskGroup(of: Int.self) { group in
            group.addTask {
                try await action()
                return 0
            }
            for worker in 0..<8 {
                group.addTask {
                    var answered = 0
                    for i in 0..<50 {
                        let stream = (worker + i) % 2 == 0
                        let reply = try await chat(chatBody(model: model, stream: stream))
                        let complete = !stream || reply.sseData.last == "[DONE]"
                        if reply.status == 200 && complete { answered += 1 }
                    }
                    return answered
                }
            }
            return try await group.reduce(0, +)
        }
    }
}

/// A minimal chat completion request body.
func chatBody(model: String = "gpt-4o-mini", stream: Bool = false, extra: String = "") -> String {
    #"{"model":"\#(model)","messages":[{"role":"user","content":"Say hello"}]\#(stream ? #","stream":true"# : "")\#(extra)}"#
}

/// Runs `body` with an HTTP client that is shut down however `body` ends: a client released unshut traps the whole
/// test process, turning one failed expectation into a crash.
func withHTTPClient(
    configuration: HTTPClient.Configuration = HTTPClient.Configuration(), _ body: (HTTPClient) async throws -> Void
) async throws {
    let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    do {
        try await body(client)
    } catch {
        try? await client.shutdown()
        throw error
    }
    try await client.shutdown()
}
