import FakeUpstream
import Foundation
import Testing

@Suite("Chat completions through the gateway")
struct ChatCompletionsTests {
    @Test("a plain completion comes back in OpenAI's shape with the upstream's usage")
    func plainOpenAI() async throws {
        try await GatewayHarness.run { gateway in
            let reply = try await gateway.chat(chatBody())
            #expect(reply.status == 200)
            #expect(reply.header("content-type")?.hasPrefix("application/json") == true)
            #expect(reply.header("x-phigate-backend") == "openai")
            let json = reply.json
            #expect(json["object"] as? String == "chat.completion")
            let choice = try #require((json["choices"] as? [[String: Any]])?.first)
            let message = try #require(choice["message"] as? [String: Any])
            #expect(message["content"] as? String == "Hello from gpt-4o-mini.")
            #expect(choice["finish_reason"] as? String == "stop")
            let usage = try #require(json["usage"] as? [String: Any])
            #expect(usage["prompt_tokens"] as? Int == 11)
            #expect(usage["completion_tokens"] as? Int == 7)

            let upstreamRequest = try #require(gateway.upstream.requests.first)
            #expect(upstreamRequest.method == "POST")
            #expect(upstreamRequest.path == "/v1/chat/completions")
            #expect(upstreamRequest.header("authorization") == "Bearer \(TestSecrets.openAIKey)")
        }
    }

    @Test("an alias and an upstream name are rewritten before the request leaves")
    func aliasesAndUpstreamNames() async throws {
        try await GatewayHarness.run { gateway in
            let aliased = try await gateway.chat(chatBody(model: "fast"))
            let renamed = try await gateway.chat(chatBody(model: "gpt-4o"))
            #expect(aliased.status == 200)
            #expect(renamed.status == 200)
            let models = gateway.upstream.requests.map { request in
                (try? JSONSerialization.jsonObject(with: Data(request.body))) as? [String: Any]
            }.map { $0?["model"] as? String }
            #expect(models == ["gpt-4o-mini", "gpt-4o-2024-08-06"])
        }
    }

    @Test("a streamed completion is forwarded chunk by chunk and ends with [DONE]")
    func streamedOpenAI() async throws {
        try await GatewayHarness.run { gateway in
            let reply = try await gateway.chat(chatBody(stream: true))
            #expect(reply.status == 200)
            #expect(reply.header("content-type")?.hasPrefix("text/event-stream") == true)
            #expect(reply.header("x-phigate-backend") == "openai")
            let data = reply.sseData
            #expect(data.last == "[DONE]")
            let chunks = data.dropLast().compactMap { payload in
                (try? JSONSerialization.jsonObject(with: Data(payload.utf8))) as? [String: Any]
            }
            #expect(chunks.count == data.count - 1)
            let text = chunks.compactMap { chunk -> String? in
                let choice = (chunk["choices"] as? [[String: Any]])?.first
                return (choice?["delta"] as? [String: Any])?["content"] as? String
            }.joined()
            #expect(text == "Hello from gpt-4o-mini.")
            // Without include_usage no usage-only chunk is forwarded.
            #expect(!chunks.contains { ($0["choices"] as? [Any])?.isEmpty == true })
        }
    }

    @Test("stream_options.include_usage adds the usage-only chunk before [DONE]")
    func streamedWithUsage() async throws {
        try await GatewayHarness.run { gateway in
            let reply = try await gateway.chat(
                chatBody(stream: true, extra: #","stream_options":{"include_usage":true}"#)
            )
            #expect(reply.status == 200)
            let data = reply.sseData
            #expect(data.last == "[DONE]")
            let usageChunk = try #require(
                (try? JSONSerialization.jsonObject(with: Data(data[data.count - 2].utf8))) as? [String: Any]
            )
            #expect((usageChunk["choices"] as? [Any])?.isEmpty == true)
            let usage = try #require(usageChunk["usage"] as? [String: Any])
            #expect(usage["total_tokens"] as? Int == 18)
        }
    }

    @Test("tools and tool calls pass through an OpenAI upstream")
    func toolsOpenAI() async throws {
        try await GatewayHarness.run { gateway in
            let tools = #","tools":[{"type":"function","function":{"name":"get_weather","description":"Weather","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}}],"tool_choice":"auto""#
            let reply = try await gateway.chat(chatBody(extra: tools))
            #expect(reply.status == 200)
            let choice = try #require((reply.json["choices"] as? [[String: Any]])?.first)
            #expect(choice["finish_reason"] as? String == "tool_calls")
            let message = try #require(choice["message"] as? [String: Any])
            let call = try #require((message["tool_calls"] as? [[String: Any]])?.first)
            #expect(call["id"] as? String == "call_1")
            let function = try #require(call["function"] as? [String: Any])
            #expect(function["name"] as? String == "get_weather")
            #expect(function["arguments"] as? String == #"{"city":"Paris"}"#)

            let sent = try #require(
                (try? JSONSerialization.jsonObject(with: Data(gateway.upstream.requests[0].body))) as? [String: Any]
            )
            let sentTool = try #require((sent["tools"] as? [[String: Any]])?.first)
            #expect((sentTool["function"] as? [String: Any])?["name"] as? String == "get_weather")
            #expect(sent["tool_choice"] as? String == "auto")
        }
    }

    @Test("unknown extra fields and OpenAI options reach an OpenAI upstream unchanged")
    func extraFieldsPassThrough() async throws {
        try await GatewayHarness.run { gateway in
            let extra = #","n":1,"seed":42,"stop":["END"],"user":"u-1","logprobs":true,"top_logprobs":2,"response_format":{"type":"json_object"},"metadata":{"team":"a"},"reasoning_effort":"low","x_custom":{"deep":[1,2,3]}"#
            let reply = try await gateway.chat(chatBody(extra: extra))
            #expect(reply.status == 200)
            let sent = try #require(
                (try? JSONSerialization.jsonObject(with: Data(gateway.upstream.requests[0].body))) as? [String: Any]
            )
            #expect(sent["seed"] as? Int == 42)
            #expect(sent["stop"] as? [String] == ["END"])
            #expect(sent["user"] as? String == "u-1")
            #expect(sent["top_logprobs"] as? Int == 2)
            #expect((sent["response_format"] as? [String: Any])?["type"] as? String == "json_object")
            #expect((sent["metadata"] as? [String: Any])?["team"] as? String == "a")
            #expect(sent["reasoning_effort"] as? String == "low")
            #expect((sent["x_custom"] as? [String: Any])?["deep"] as? [Int] == [1, 2, 3])
        }
    }

    @Test("an anthropic backend is called with the Messages API and answered in OpenAI's shape")
    func plainAnthropic() async throws {
        try await GatewayHarness.run { gateway in
            let body = #"{"model":"claude-3-5-sonnet","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Say hello"}],"max_tokens":100}"#
            let reply = try await gateway.chat(body)
            #expect(reply.status == 200)
            #expect(reply.header("x-phigate-backend") == "anthropic")
            let choice = try #require((reply.json["choices"] as? [[String: Any]])?.first)
            #expect((choice["message"] as? [String: Any])?["content"] as? String == "Hello from claude-3-5-sonnet-20241022.")
            #expect(choice["finish_reason"] as? String == "stop")
            let usage = try #require(reply.json["usage"] as? [String: Any])
            #expect(usage["prompt_tokens"] as? Int == 13)
            #expect(usage["completion_tokens"] as? Int == 9)

            let upstreamRequest = try #require(gateway.upstream.requests.first)
            #expect(upstreamRequest.path == "/v1/messages")
            #expect(upstreamRequest.header("x-api-key") == TestSecrets.anthropicKey)
            #expect(upstreamRequest.header("anthropic-version") != nil)
            let sent = try #require((try? JSONSerialization.jsonObject(with: Data(upstreamRequest.body))) as? [String: Any])
            #expect(sent["model"] as? String == "claude-3-5-sonnet-20241022")
            #expect(sent["system"] != nil)
            #expect((sent["messages"] as? [Any])?.count == 1)
        }
    }

    @Test("an anthropic stream is translated to OpenAI chunks with usage and [DONE]")
    func streamedAnthropic() async throws {
        try await GatewayHarness.run { gateway in
            let body = #"{"model":"claude-3-5-sonnet","messages":[{"role":"user","content":"Say hello"}],"stream":true,"stream_options":{"include_usage":true}}"#
            let reply = try await gateway.chat(body)
            #expect(reply.status == 200)
            #expect(reply.header("content-type")?.hasPrefix("text/event-stream") == true)
            let data = reply.sseData
            #expect(data.last == "[DONE]")
            let chunks = data.dropLast().compactMap { payload in
                (try? JSONSerialization.jsonObject(with: Data(payload.utf8))) as? [String: Any]
            }
            let text = chunks.compactMap { chunk -> String? in
                let choice = (chunk["choices"] as? [[String: Any]])?.first
                return (choice?["delta"] as? [String: Any])?["content"] as? String
            }.joined()
            #expect(text == "Hello from claude-3-5-sonnet-20241022.")
            let finish = chunks.compactMap { chunk -> String? in
                ((chunk["choices"] as? [[String: Any]])?.first)?["finish_reason"] as? String
            }
            #expect(finish == ["stop"])
            let usage = try #require(chunks.last?["usage"] as? [String: Any])
            #expect(usage["prompt_tokens"] as? Int == 13)
            #expect(usage["completion_tokens"] as? Int == 9)
        }
    }

    @Test("OpenAI tools are translated to Anthropic tools and tool_use back to tool_calls")
    func toolsAnthropic() async throws {
        try await GatewayHarness.run { gateway in
            let body = #"{"model":"claude-3-5-sonnet","messages":[{"role":"user","content":"Weather in Paris?"}],"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}]}"#
            let reply = try await gateway.chat(body)
            #expect(reply.status == 200)
            let choice = try #require((reply.json["choices"] as? [[String: Any]])?.first)
            #expect(choice["finish_reason"] as? String == "tool_calls")
            let call = try #require(((choice["message"] as? [String: Any])?["tool_calls"] as? [[String: Any]])?.first)
            #expect(call["id"] as? String == "toolu_1")
            let function = try #require(call["function"] as? [String: Any])
            #expect(function["name"] as? String == "get_weather")
            let arguments = try #require(function["arguments"] as? String)
            let decoded = (try? JSONSerialization.jsonObject(with: Data(arguments.utf8))) as? [String: String]
            #expect(decoded == ["city": "Paris"])

            let sent = try #require(
                (try? JSONSerialization.jsonObject(with: Data(gateway.upstream.requests[0].body))) as? [String: Any]
            )
            let tool = try #require((sent["tools"] as? [[String: Any]])?.first)
            #expect(tool["name"] as? String == "get_weather")
            #expect(tool["input_schema"] != nil)
        }
    }
}
