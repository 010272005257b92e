import AsyncHTTPClient
import Backends
import FakeUpstream
import Foundation
import Logging
import OpenAIWire
import PhigateConfig
import Testing

/// End-to-end backend tests against the scriptable loopback `FakeUpstream`.
@Suite struct RemoteBackendTests {
    static let logger = Logger(label: "test")
    static let providerKey = "sk-test-PROVIDERKEY123"

    static func chatRequest(stream: Bool = false, includeUsage: Bool = false, extra: String = "") throws -> ChatCompletionRequest {
        let options = includeUsage ? #","stream_options":{"include_usage":true}"# : ""
        let json = #"{"model":"alias-name","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"}],"stream":\#(stream)\#(options),"temperature":0.2,"seed":7\#(extra)}"#
        return try ChatCompletionRequest.decode(from: Data(json.utf8))
    }

    /// Runs `body` with a fake upstream and a backend of `kind` pointed at it; shuts both down afterwards.
    static func withBackend(
        _ kind: BackendKind,
        // Generous where timeouts are not the subject: in a full parallel run on 2 cores the compute-heavy suites can
        // hold the cooperative pool for over 30 s.
        timeouts: BackendTimeouts = BackendTimeouts(connect: .seconds(60), firstByte: .seconds(300), total: .seconds(600)),
        apiKey: String? = providerKey,
        script: @escaping FakeUpstream.Script,
        _ body: (any ChatBackend, FakeUpstream) async throws -> Void
    ) async throws {
        let upstream = try await FakeUpstream.start(script: script)
        let config = BackendConfig(
            name: kind.rawValue, kind: kind, baseURL: upstream.baseURL + "/v1", apiKeyEnv: "KEY", timeouts: timeouts,
            headers: kind == .anthropic ? ["anthropic-version": "2023-06-01"] : ["x-extra": "1"], models: [])
        let gateway = GatewayConfig(backends: [config])
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: BackendRegistry.httpClientConfiguration(for: gateway))
        let key = apiKey.map(Secret.init)
        let backend: any ChatBackend = switch kind {
        case .openai: OpenAIBackend(config: config, apiKey: key, httpClient: client)
        case .anthropic: AnthropicBackend(config: config, apiKey: key, httpClient: client)
        case .local: preconditionFailure("remote backends only")
        }
        do {
            try await body(backend, upstream)
        } catch {
            try? await client.shutdown()
            await upstream.shutdown()
            throw error
        }
        try await client.shutdown()
        await upstream.shutdown()
    }

    static func collect(_ stream: AsyncThrowingStream<ChatStreamEvent, any Error>) async -> ([ChatStreamEvent], (any Error)?) {
        var events: [ChatStreamEvent] = []
        do {
            for try await event in stream { events.append(event) }
            return (events, nil)
        } catch {
            return (events, error)
        }
    }

    static func json(_ request: RecordedRequest) throws -> JSONValue {
        try JSONDecoder().decode(JSONValue.self, from: Data(request.body))
    }

    // MARK: OpenAI

    @Test func openAICompletionForwardsRequestAndDecodesResponse() async throws {
        try await Self.withBackend(.openai, script: { _ in .openAIChat(content: "Hello!", promptTokens: 12, completionTokens: 3) }) { backend, upstream in
            let request = try Self.chatRequest(extra: #","metadata":{"trace":"t1"},"reasoning_effort":"low""#)
            let response = try await backend.complete(request, upstreamModel: "gpt-4o-2024-08-06", logger: Self.logger)
            #expect(response.choices.first?.message.content == "Hello!")
            #expect(response.usage == Usage(promptTokens: 12, completionTokens: 3))
            let sent = try #require(upstream.requests.first)
            #expect(sent.method == "POST")
            #expect(sent.path == "/v1/chat/completions")
            #expect(sent.header("authorization") == "Bearer \(Self.providerKey)")
            #expect(sent.header("x-extra") == "1")
            let body = try Self.json(sent)
            #expect(body["model"] == .string("gpt-4o-2024-08-06"))
            #expect(body["metadata"] == .object(["trace": .string("t1")]))
            #expect(body["reasoning_effort"] == .string("low"))
            #expect(body["seed"] == .integer(7))
            #expect(body["stream"] == nil)
        }
    }

    @Test func openAIStreamPassesChunksAndStripsUnaskedUsage() async throws {
        try await Self.withBackend(.openai, script: { _ in .openAIStream(deltas: ["Hel", "lo"], includeUsage: true, promptTokens: 9, completionTokens: 2) }) { backend, upstream in
            let (events, error) = await Self.collect(backend.stream(try Self.chatRequest(stream: true), upstreamModel: "gpt-4o", logger: Self.logger))
            #expect(error == nil)
            let chunks = events.compactMap { if case .chunk(let chunk) = $0 { chunk } else { nil } }
            #expect(chunks.compactMap { $0.choices.first?.delta.content }.joined() == "Hello")
            #expect(chunks.allSatisfy { !$0.isUsageOnly && $0.usage == nil })
            #expect(chunks.last?.choices.first?.finishReason == "stop")
            #expect(events.contains(.usage(Usage(promptTokens: 9, completionTokens: 2))))
            let body = try Self.json(try #require(upstream.requests.first))
            #expect(body["stream"] == .bool(true))
            #expect(body["stream_options"]?["include_usage"] == .bool(true), "usage is always asked upstream")
        }
    }

    @Test func openAIStreamForwardsUsageChunkWhenAsked() async throws {
        try await Self.withBackend(.openai, script: { _ in .openAIStream(includeUsage: true) }) { backend, _ in
            let (events, error) = await Self.collect(backend.stream(
                try Self.chatRequest(stream: true, includeUsage: true), upstreamModel: "gpt-4o", logger: Self.logger))
            #expect(error == nil)
            guard case .chunk(let last)? = events.last(where: { if case .chunk = $0 { true } else { false } }) else {
                Issue.record("chunks expected")
                return
            }
            #expect(last.isUsageOnly)
        }
    }

    @Test func upstreamErrorStatusIsSummarizedWithoutTheKey() async throws {
        let script: FakeUpstream.Script = { _ in
            .openAIError(status: 401, message: "Incorrect API key provided: \(Self.providerKey). See docs.", type: "invalid_request_error")
        }
        try await Self.withBackend(.openai, script: script) { backend, _ in
            do {
                _ = try await backend.complete(try Self.chatRequest(), upstreamModel: "gpt-4o", logger: Self.logger)
                Issue.record("expected a fault")
            } catch let fault as UpstreamFault {
                guard case .status(let code, let message, _) = fault else {
                    Issue.record("expected .status, got \(fault)")
                    return
                }
                #expect(code == 401)
                #expect(message.hasPrefix("invalid_request_error: Incorrect API key provided: <redacted>"))
                #expect(!fault.description.contains("PROVIDERKEY"))
                #expect(!fault.openAIError(backend: "openai").message.contains("PROVIDERKEY"))
            }
        }
    }

    @Test func streamErrorStatusIsAFault() async throws {
        try await Self.withBackend(.openai, script: { _ in .openAIError(status: 503, message: "overloaded") }) { backend, _ in
            let (_, error) = await Self.collect(backend.stream(try Self.chatRequest(stream: true), upstreamModel: "m", logger: Self.logger))
            #expect(error as? UpstreamFault == .status(code: 503, message: "server_error: overloaded"))
        }
    }

    @Test func resetConnectionIsConnectionReset() async throws {
        try await Self.withBackend(.openai, script: { _ in .reset }) { backend, _ in
            await #expect(throws: UpstreamFault.connectionReset) {
                _ = try await backend.complete(try Self.chatRequest(), upstreamModel: "m", logger: Self.logger)
            }
        }
    }

    @Test func closedPortIsConnectionRefused() async throws {
        let upstream = try await FakeUpstream.start(always: .openAIChat())
        let port = upstream.port
        await upstream.shutdown()
        let config = BackendConfig(name: "openai", kind: .openai, baseURL: "http://127.0.0.1:\(port)/v1",
                                   timeouts: BackendTimeouts(connect: .seconds(60), firstByte: .seconds(300), total: .seconds(600)))
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: BackendRegistry.httpClientConfiguration(for: GatewayConfig(backends: [config])))
        let backend = OpenAIBackend(config: config, apiKey: nil, httpClient: client)
        await #expect(throws: UpstreamFault.connectionRefused) {
            _ = try await backend.complete(try Self.chatRequest(), upstreamModel: "m", logger: Self.logger)
        }
        try await client.shutdown()
    }

    @Test func stalledUpstreamTimesOutOnFirstByte() async throws {
        let timeouts = BackendTimeouts(connect: .seconds(2), firstByte: .milliseconds(200), total: .seconds(10))
        try await Self.withBackend(.openai, timeouts: timeouts, script: { _ in .stall }) { backend, _ in
            await #expect(throws: UpstreamFault.timeout(.firstByte)) {
                _ = try await backend.complete(try Self.chatRequest(), upstreamModel: "m", logger: Self.logger)
            }
            let (_, error) = await Self.collect(backend.stream(try Self.chatRequest(stream: true), upstreamModel: "m", logger: Self.logger))
            #expect(error as? UpstreamFault == .timeout(.firstByte))
        }
    }

    @Test func slowStreamHitsTotalTimeout() async throws {
        // The first chunk comes at once, the whole stream would take 90 s: the 40 s total limit ends it (the
        // margin lets the first chunk arrive even while compute-heavy suites hold both cores for tens of seconds).
        let timeouts = BackendTimeouts(connect: .seconds(40), firstByte: .seconds(40), total: .seconds(40))
        try await Self.withBackend(.openai, timeouts: timeouts, script: { _ in .openAIStream(deltas: Array(repeating: "x", count: 300), interval: .milliseconds(300)) }) { backend, _ in
            let (events, error) = await Self.collect(backend.stream(try Self.chatRequest(stream: true), upstreamModel: "m", logger: Self.logger))
            #expect(error as? UpstreamFault == .timeout(.total))
            #expect(!events.isEmpty)
        }
    }

    @Test(arguments: [FakeResponse.StreamEnding.reset, .close])
    func cutStreamIsBrokenStream(ending: FakeResponse.StreamEnding) async throws {
        try await Self.withBackend(.openai, script: { _ in .openAIStreamCut(afterChunks: 3, ending: ending) }) { backend, _ in
            let (events, error) = await Self.collect(backend.stream(try Self.chatRequest(stream: true), upstreamModel: "m", logger: Self.logger))
            // A reset may discard bytes still in flight. A close may too: AsyncHTTPClient fails the request when the
            // connection ends mid-body and drops body parts it read but had not handed to the consumer yet (seen
            // under load: 1 of 3). What must hold is that the cut is reported, never a silent end.
            #expect(events.count <= 3)
            let fault = try #require(error as? UpstreamFault)
            #expect(fault == .brokenStream(afterChunks: events.count) || fault == .connectionReset)
            #expect(fault.openAIError(backend: "openai").status == 502)
        }
    }

    @Test func malformedStreamIsMalformedResponse() async throws {
        try await Self.withBackend(.openai, script: { _ in .openAIStreamMalformed() }) { backend, _ in
            let (_, error) = await Self.collect(backend.stream(try Self.chatRequest(stream: true), upstreamModel: "m", logger: Self.logger))
            guard case .malformedResponse? = error as? UpstreamFault else {
                Issue.record("expected malformedResponse, got \(String(describing: error))")
                return
            }
        }
    }

    @Test func missingKeyFailsWithoutCallingUpstream() async throws {
        try await Self.withBackend(.openai, apiKey: nil, script: { _ in .openAIChat() }) { backend, upstream in
            await #expect(throws: UpstreamFault.missingAPIKey(backend: "openai", variable: "KEY")) {
                _ = try await backend.complete(try Self.chatRequest(), upstreamModel: "m", logger: Self.logger)
            }
            #expect(upstream.requests.isEmpty)
        }
    }

    @Test func droppingTheStreamCancelsTheUpstreamRequest() async throws {
        let script: FakeUpstream.Script = { _ in .openAIStream(deltas: Array(repeating: "tok", count: 200), interval: .milliseconds(20)) }
        try await Self.withBackend(.openai, script: script) { backend, upstream in
            let consumer = Task {
                var seen = 0
                for try await event in backend.stream(try Self.chatRequest(stream: true), upstreamModel: "m", logger: Self.logger) {
                    if case .chunk = event { seen += 1 }
                    if seen == 3 { break }
                }
                return seen
            }
            let seen = try await consumer.value
            #expect(seen == 3)
            let outcome = await upstream.waitForOutcome(ofRequest: 0)
            guard case .peerClosed(let chunks)? = outcome else {
                Issue.record("expected the upstream to see the connection closed, got \(String(describing: outcome))")
                return
            }
            #expect(chunks < 200)
        }
    }

    @Test func descriptionsHideTheKey() async throws {
        try await Self.withBackend(.openai, script: { _ in .openAIChat() }) { backend, _ in
            #expect(!String(describing: backend).contains("PROVIDERKEY"))
            #expect(!String(reflecting: backend).contains("PROVIDERKEY"))
        }
    }

    // MARK: Anthropic

    @Test func anthropicCompletionIsTranslated() async throws {
        let script: FakeUpstream.Script = { _ in
            .anthropicMessage(text: "Bonjour", toolUses: [FakeToolCall(id: "toolu_1", name: "weather", argumentsJSON: #"{"city":"Paris"}"#)],
                              inputTokens: 21, outputTokens: 8)
        }
        try await Self.withBackend(.anthropic, script: script) { backend, upstream in
            let response = try await backend.complete(try Self.chatRequest(), upstreamModel: "claude-sonnet-4-20250514", logger: Self.logger)
            #expect(response.choices[0].message.content == "Bonjour")
            #expect(response.choices[0].message.toolCalls?.first?.function.arguments == #"{"city":"Paris"}"#)
            #expect(response.choices[0].finishReason == "tool_calls")
            #expect(response.usage == Usage(promptTokens: 21, completionTokens: 8))
            let sent = try #require(upstream.requests.first)
            #expect(sent.path == "/v1/messages")
            #expect(sent.header("x-api-key") == Self.providerKey)
            #expect(sent.header("anthropic-version") == "2023-06-01")
            #expect(sent.header("authorization") == nil)
            let body = try Self.json(sent)
            #expect(body["model"] == .string("claude-sonnet-4-20250514"))
            #expect(body["system"] == .string("Be brief."))
            #expect(body["max_tokens"] == .integer(Int64(AnthropicTranslation.defaultMaxTokens)))
        }
    }

    @Test func anthropicStreamIsTranslated() async throws {
        let script: FakeUpstream.Script = { _ in .anthropicStream(deltas: ["Bon", "jour"], inputTokens: 14, outputTokens: 5) }
        try await Self.withBackend(.anthropic, script: script) { backend, upstream in
            let (events, error) = await Self.collect(backend.stream(
                try Self.chatRequest(stream: true, includeUsage: true), upstreamModel: "claude", logger: Self.logger))
            #expect(error == nil)
            let chunks = events.compactMap { if case .chunk(let chunk) = $0 { chunk } else { nil } }
            #expect(chunks.first?.choices.first?.delta.role == "assistant")
            #expect(chunks.compactMap { $0.choices.first?.delta.content }.joined() == "Bonjour")
            #expect(chunks.contains { $0.choices.first?.finishReason == "stop" })
            #expect(chunks.last?.isUsageOnly == true)
            #expect(events.contains(.usage(Usage(promptTokens: 14, completionTokens: 5))))
            #expect(try Self.json(try #require(upstream.requests.first))["stream"] == .bool(true))
        }
    }

    @Test func anthropicCutStreamIsBroken() async throws {
        let events = FakeResponse.anthropicStreamEvents()
        try await Self.withBackend(.anthropic, script: { _ in .sse(Array(events.prefix(5)), ending: .close) }) { backend, _ in
            let (_, error) = await Self.collect(backend.stream(try Self.chatRequest(stream: true), upstreamModel: "c", logger: Self.logger))
            let fault = try #require(error as? UpstreamFault)
            // Under a loaded machine the close can overtake the last writes, so fewer events may arrive;
            // what matters is that the cut is a failure, never a clean end.
            switch fault {
            case .brokenStream(let afterChunks): #expect(afterChunks <= 3, "\(fault)")
            case .connectionReset: break
            default: Issue.record("expected a broken stream, got \(fault)")
            }
        }
    }

    @Test func anthropicErrorStatusIsSummarized() async throws {
        try await Self.withBackend(.anthropic, script: { _ in .anthropicError(status: 529, message: "Overloaded", type: "overloaded_error") }) { backend, _ in
            await #expect(throws: UpstreamFault.status(code: 529, message: "overloaded_error: Overloaded")) {
                _ = try await backend.complete(try Self.chatRequest(), upstreamModel: "c", logger: Self.logger)
            }
        }
    }
}

extension RemoteBackendTests {
    @Test func jsonAnswerToAStreamedRequestIsReplayedAsChunks() async throws {
        let script: FakeUpstream.Script = { _ in
            .openAIChat(content: "Whole", toolCalls: [FakeToolCall(id: "call_9", name: "f", argumentsJSON: #"{"a":1}"#)],
                        promptTokens: 4, completionTokens: 2)
        }
        try await Self.withBackend(.openai, script: script) { backend, _ in
            let (events, error) = await Self.collect(backend.stream(
                try Self.chatRequest(stream: true), upstreamModel: "m", logger: Self.logger))
            #expect(error == nil)
            let chunks = events.compactMap { if case .chunk(let chunk) = $0 { chunk } else { nil } }
            #expect(chunks.compactMap { $0.choices.first?.delta.content }.joined() == "Whole")
            #expect(chunks.contains { $0.choices.first?.delta.toolCalls?.first?.id == "call_9" })
            #expect(chunks.last?.choices.first?.finishReason == "tool_calls")
            #expect(events.last == .usage(Usage(promptTokens: 4, completionTokens: 2)))
        }
    }
}

extension RemoteBackendTests {
    @Test func cancellingACompletionCancelsTheUpstreamRequest() async throws {
        try await Self.withBackend(.openai, script: { _ in .stall }) { backend, upstream in
            let call = Task { try await backend.complete(try Self.chatRequest(), upstreamModel: "m", logger: Self.logger) }
            _ = await upstream.waitForRequests(1)
            call.cancel()
            let result = await call.result
            #expect(throws: CancellationError.self) { try result.get() }
            let outcome = await upstream.waitForOutcome(ofRequest: 0)
            #expect(outcome == .peerClosed(afterChunks: 0))
        }
    }
}

extension RemoteBackendTests {
    @Test func manyConcurrentStreamsToOneHostDoNotQueue() async throws {
        // 20 streams, each held open until all 20 requests reached the upstream. With AsyncHTTPClient's default pool
        // of 8 connections per host the last 12 would wait behind streams that do not end.
        let script: FakeUpstream.Script = { _ in .openAIStream(deltas: Array(repeating: "x", count: 12), interval: .seconds(1)) }
        try await Self.withBackend(.openai, script: script) { backend, upstream in
            try await withThrowingTaskGroup(of: Bool.self) { group in
                for _ in 0..<20 {
                    group.addTask {
                        for try await event in backend.stream(try Self.chatRequest(stream: true), upstreamModel: "m", logger: Self.logger) {
                            guard case .chunk = event else { continue }
                            // Hold the stream open until every request arrived (or give up after 10 s).
                            for _ in 0..<1000 where upstream.requests.count < 20 { try await Task.sleep(for: .milliseconds(10)) }
                            return upstream.requests.count >= 20
                        }
                        return false
                    }
                }
                for try await sawAll in group { #expect(sawAll) }
            }
        }
    }
}

extension RemoteBackendTests {
    @Test func anthropicToolStreamBecomesToolCallDeltas() async throws {
        let script: FakeUpstream.Script = { _ in
            .anthropicStream(deltas: ["Checking"], toolUses: [FakeToolCall(id: "toolu_7", name: "weather", argumentsJSON: #"{"city":"Oslo"}"#)])
        }
        try await Self.withBackend(.anthropic, script: script) { backend, upstream in
            let request = try Self.chatRequest(stream: true, extra: #","stop":["END"],"tools":[{"type":"function","function":{"name":"weather","parameters":{"type":"object"}}}]"#)
            let (events, error) = await Self.collect(backend.stream(request, upstreamModel: "claude", logger: Self.logger))
            #expect(error == nil)
            let calls = events.compactMap { event -> ToolCallDelta? in
                if case .chunk(let chunk) = event { chunk.choices.first?.delta.toolCalls?.first } else { nil }
            }
            #expect(calls.first == ToolCallDelta(index: 0, id: "toolu_7", type: "function", function: .init(name: "weather", arguments: "")))
            #expect(calls.compactMap { $0.function?.arguments }.joined() == #"{"city":"Oslo"}"#)
            let finish = events.compactMap { event -> String? in
                if case .chunk(let chunk) = event { chunk.choices.first?.finishReason } else { nil }
            }
            #expect(finish == ["tool_calls"])
            let body = try Self.json(try #require(upstream.requests.first))
            #expect(body["stop_sequences"] == .array([.string("END")]))
            #expect(body["temperature"] == .number(0.2))
            #expect(body["tools"] != nil)
        }
    }
}
