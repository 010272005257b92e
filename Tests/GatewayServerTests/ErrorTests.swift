import FakeUpstream
import Foundation
import Testing

@Suite("Errors answer with the OpenAI envelope and the right status")
struct ErrorTests {
    /// Checks the envelope shape and returns its `error` object.
    private func envelope(_ reply: Reply) throws -> [String: Any] {
        let error = try #require(reply.json["error"] as? [String: Any], "no error envelope in \(reply.body)")
        #expect(error["message"] is String)
        #expect(error["type"] is String)
        #expect(error.keys.contains("param"))
        #expect(error.keys.contains("code"))
        #expect(reply.header("content-type")?.hasPrefix("application/json") == true)
        #expect(reply.header("x-request-id") != nil)
        #expect(reply.header("x-phigate-backend") != nil)
        return error
    }

    @Test("malformed JSON is a 400")
    func malformedJSON() async throws {
        try await GatewayHarness.run { gateway in
            let reply = try await gateway.chat(#"{"model":"gpt-4o-mini","messages":["#)
            #expect(reply.status == 400)
            let error = try envelope(reply)
            #expect(error["type"] as? String == "invalid_request_error")
            #expect(gateway.upstream.requests.isEmpty)
        }
    }

    @Test(
        "a schema violation is a 400 naming the field",
        arguments: [
            (#"{"messages":[{"role":"user","content":"hi"}]}"#, "model"),
            (#"{"model":"gpt-4o-mini"}"#, "messages"),
            (#"{"model":"gpt-4o-mini","messages":[{"role":"wizard","content":"hi"}]}"#, "messages[0].role"),
            (#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}],"temperature":"hot"}"#, "temperature"),
            (#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}],"temperature":7}"#, "temperature"),
        ]
    )
    func schemaViolation(body: String, field: String) async throws {
        try await GatewayHarness.run { gateway in
            let reply = try await gateway.chat(body)
            #expect(reply.status == 400)
            let error = try envelope(reply)
            #expect(error["param"] as? String == field)
            #expect((error["message"] as? String)?.contains(field) == true)
        }
    }

    @Test("an unknown model is a 404 model_not_found")
    func unknownModel() async throws {
        try await GatewayHarness.run { gateway in
            let reply = try await gateway.chat(chatBody(model: "gpt-99-ultra"))
            #expect(reply.status == 404)
            let error = try envelope(reply)
            #expect(error["code"] as? String == "model_not_found")
            #expect(error["param"] as? String == "model")
        }
    }

    @Test("a missing, malformed or wrong gateway key is a 401", arguments: [
        [(String, String)](),
        [("authorization", "Basic Zm9vOmJhcg==")],
        [("authorization", "Bearer not-the-key")],
    ])
    func unauthorized(headers: [(String, String)]) async throws {
        try await GatewayHarness.run { gateway in
            let chat = try await gateway.chat(chatBody(), headers: headers)
            #expect(chat.status == 401)
            let error = try envelope(chat)
            #expect(error["code"] as? String == "invalid_api_key")
            let models = try await gateway.request("GET", "/v1/models", headers: headers)
            #expect(models.status == 401)
            #expect(gateway.upstream.requests.isEmpty)
        }
    }

    @Test("a body over the limit is a 413, with or without content-length")
    func bodyTooLarge() async throws {
        try await GatewayHarness.run { gateway in
            let big = String(repeating: "x", count: 70 * 1024)
            let reply = try await gateway.chat(#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"\#(big)"}]}"#)
            #expect(reply.status == 413)
            _ = try envelope(reply)
            #expect(gateway.upstream.requests.isEmpty)
        }
    }

    @Test("an upstream slower than its first-byte timeout is a 504")
    func upstreamTimeout() async throws {
        try await GatewayHarness.run(
            script: { _ in FakeResponse.openAIChat().delayed(by: .seconds(5)) },
            configure: { config in config.backends[0].timeouts.firstByte = .milliseconds(300) }
        ) { gateway in
            let reply = try await gateway.chat(chatBody())
            #expect(reply.status == 504)
            let error = try envelope(reply)
            #expect(reply.header("x-phigate-backend") == "openai")
            #expect((error["message"] as? String)?.contains("timed out") == true)
        }
    }

    @Test("an upstream 5xx is a 502 naming the upstream status and summarizing its message")
    func upstreamStatus() async throws {
        try await GatewayHarness.run(script: { _ in .openAIError(status: 503, message: "model overloaded") }) { gateway in
            let reply = try await gateway.chat(chatBody())
            #expect(reply.status == 502)
            let error = try envelope(reply)
            let message = try #require(error["message"] as? String)
            #expect(message.contains("503"))
            #expect(message.contains("model overloaded"))
            #expect(reply.header("x-phigate-backend") == "openai")
        }
    }

    @Test("an upstream 4xx (e.g. a rejected provider key) is a 502 with the upstream status")
    func upstreamClientError() async throws {
        try await GatewayHarness.run(
            script: { _ in .anthropicError(status: 401, message: "invalid x-api-key", type: "authentication_error") }
        ) { gateway in
            let reply = try await gateway.chat(chatBody(model: "claude-3-5-sonnet"))
            #expect(reply.status == 502)
            let message = try #require(try envelope(reply)["message"] as? String)
            #expect(message.contains("401"))
            #expect(reply.header("x-phigate-backend") == "anthropic")
        }
    }

    @Test("an upstream that resets the connection is a 502")
    func upstreamReset() async throws {
        try await GatewayHarness.run(script: { _ in .reset }) { gateway in
            let reply = try await gateway.chat(chatBody())
            #expect(reply.status == 502)
            _ = try envelope(reply)
        }
    }

    @Test("an unreachable upstream is a 502")
    func upstreamUnreachable() async throws {
        try await GatewayHarness.run(configure: { config in
            config.backends[0].baseURL = "http://127.0.0.1:1/v1"
        }) { gateway in
            let reply = try await gateway.chat(chatBody())
            #expect(reply.status == 502)
            _ = try envelope(reply)
        }
    }

    @Test("a backend whose provider key is missing answers a clear 503 for its models only")
    func missingProviderKey() async throws {
        var environment = GatewayHarness.environment
        environment["ANTHROPIC_API_KEY"] = nil
        try await GatewayHarness.run(environment: environment) { gateway in
            let reply = try await gateway.chat(chatBody(model: "claude-3-5-sonnet"))
            #expect(reply.status == 503)
            let message = try #require(try envelope(reply)["message"] as? String)
            #expect(message.contains("ANTHROPIC_API_KEY"))
            #expect(message.contains("anthropic"))
            let other = try await gateway.chat(chatBody())
            #expect(other.status == 200)
            let ready = try await gateway.request("GET", "/readyz")
            #expect(ready.body.contains("missing_key"))
        }
    }

    @Test("a stream cut mid-way ends with an SSE error event and no [DONE]", arguments: [
        FakeResponse.StreamEnding.reset, .close,
    ])
    func brokenStream(ending: FakeResponse.StreamEnding) async throws {
        // Paced, so that chunks reach the gateway before the cut (AsyncHTTPClient may drop body parts it had read but not
        // handed over when the connection ends: see RemoteBackendTests.cutStreamIsBrokenStream).
        let script: FakeUpstream.Script = { _ in .openAIStreamCut(afterChunks: 3, ending: ending, interval: .milliseconds(50)) }
        try await GatewayHarness.run(script: script) { gateway in
            let reply = try await gateway.chat(chatBody(stream: true))
            #expect(reply.status == 200)
            let data = reply.sseData
            #expect(!data.contains("[DONE]"))
            let last = try #require(data.last)
            let event = try #require((try? JSONSerialization.jsonObject(with: Data(last.utf8))) as? [String: Any])
            let error = try #require(event["error"] as? [String: Any])
            #expect(error["message"] is String)
            #expect(data.count >= 2)
        }
    }

    @Test("a stream whose body ends cleanly before the finish chunk and [DONE] ends with an SSE error event")
    func streamEndsEarly() async throws {
        try await GatewayHarness.run(script: { _ in .openAIStreamCut(afterChunks: 4, ending: .complete) }) { gateway in
            let reply = try await gateway.chat(chatBody(stream: true))
            let data = reply.sseData
            #expect(!data.contains("[DONE]"))
            #expect(data.last?.contains(#""error""#) == true)
        }
    }

    @Test("a stream with its finish chunk but no [DONE] still ends with [DONE] for the client")
    func streamWithoutDone() async throws {
        try await GatewayHarness.run(script: { _ in .openAIStream(done: false) }) { gateway in
            let reply = try await gateway.chat(chatBody(stream: true))
            #expect(reply.sseData.last == "[DONE]")
        }
    }

    @Test("a malformed chunk ends the stream with an SSE error event")
    func malformedChunk() async throws {
        try await GatewayHarness.run(script: { _ in .openAIStreamMalformed() }) { gateway in
            let reply = try await gateway.chat(chatBody(stream: true))
            let data = reply.sseData
            #expect(!data.contains("[DONE]"))
            #expect(data.last?.contains(#""error""#) == true)
        }
    }

    @Test("a stream whose upstream fails before any chunk gets a proper error status")
    func streamFailsBeforeFirstChunk() async throws {
        try await GatewayHarness.run(script: { _ in .openAIError(status: 500, message: "boom") }) { gateway in
            let reply = try await gateway.chat(chatBody(stream: true))
            #expect(reply.status == 502)
            _ = try envelope(reply)
        }
    }

    @Test("an unknown path is a 404 envelope")
    func unknownPath() async throws {
        try await GatewayHarness.run { gateway in
            let reply = try await gateway.request("GET", "/v1/nothing-here")
            #expect(reply.status == 404)
            _ = try envelope(reply)
        }
    }
}
