import Foundation
import OpenAIWire
import Testing

@Suite struct WireFormatTests {
    private func decode(_ json: String) throws(OpenAIError) -> ChatCompletionRequest {
        try ChatCompletionRequest.decode(from: Data(json.utf8))
    }

    private func rejection(_ json: String) -> OpenAIError? {
        do {
            _ = try decode(json)
            return nil
        } catch {
            return error
        }
    }

    private let full = """
        {"model":"gpt-4o","messages":[
          {"role":"developer","content":"Be brief."},
          {"role":"user","name":"ann","content":[{"type":"text","text":"What is in"},{"type":"image_url","image_url":{"url":"https://x/y.png","detail":"low"}},{"type":"input_audio","input_audio":{"data":"AAA","format":"wav"}}]},
          {"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"look","arguments":"{\\"q\\":1}"}}]},
          {"role":"tool","tool_call_id":"call_1","content":"a cat"}],
         "stream":true,"stream_options":{"include_usage":true},"max_tokens":100,"max_completion_tokens":90,
         "temperature":0.7,"top_p":0.9,"n":1,"stop":["\\n\\n","END"],"seed":42,"logprobs":true,"top_logprobs":3,
         "presence_penalty":0.5,"frequency_penalty":-0.5,"logit_bias":{"50256":-100},
         "tools":[{"type":"function","function":{"name":"look","description":"Look","parameters":{"type":"object","properties":{"q":{"type":"integer"}}},"strict":true}}],
         "tool_choice":{"type":"function","function":{"name":"look"}},"parallel_tool_calls":false,
         "response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{"type":"object"}}},
         "user":"u-1","metadata":{"k":"v"},"store":false,"reasoning_effort":"low","service_tier":"auto"}
        """

    @Test func decodesEveryModelledField() throws {
        let request = try decode(full)
        #expect(request.model == "gpt-4o")
        #expect(request.messages.map(\.role) == [.developer, .user, .assistant, .tool])
        #expect(request.messages[1].name == "ann")
        guard case .parts(let parts) = request.messages[1].content else {
            Issue.record("expected content parts")
            return
        }
        #expect(parts[0] == .text("What is in"))
        #expect(parts[1] == .imageURL(url: "https://x/y.png", detail: "low"))
        if case .other(let type, _) = parts[2] { #expect(type == "input_audio") } else { Issue.record("input_audio kept") }
        #expect(request.messages[2].toolCalls?.first?.function.arguments == #"{"q":1}"#)
        #expect(request.messages[3].toolCallID == "call_1")
        #expect(request.isStreaming && request.wantsStreamUsage)
        #expect(request.effectiveMaxTokens == 90)
        #expect(request.stop == .multiple(["\n\n", "END"]))
        #expect(request.seed == 42 && request.logprobs == true && request.topLogprobs == 3)
        #expect(request.logitBias == ["50256": -100])
        #expect(request.toolChoice == .function(name: "look"))
        #expect(request.parallelToolCalls == false)
        #expect(request.responseFormat?.type == "json_schema")
        #expect(request.user == "u-1")
        #expect(Set(request.extra.keys) == ["metadata", "store", "reasoning_effort", "service_tier"])
        #expect(request.extra["metadata"] == .object(["k": .string("v")]))
    }

    @Test func reEncodingKeepsUnknownFields() throws {
        var request = try decode(full)
        request.model = "gpt-4o-2024-08-06"
        let reencoded = try JSONDecoder().decode(JSONValue.self, from: JSONEncoder().encode(request))
        let original = try JSONDecoder().decode(JSONValue.self, from: Data(full.utf8))
        guard case .object(var expected) = original, case .object(let actual) = reencoded else {
            Issue.record("objects expected")
            return
        }
        expected["model"] = .string("gpt-4o-2024-08-06")
        #expect(actual["metadata"] == expected["metadata"])
        #expect(actual["reasoning_effort"] == .string("low"))
        #expect(actual["messages"] == expected["messages"])
        #expect(actual["tools"] == expected["tools"])
        #expect(actual["stop"] == expected["stop"])
        #expect(Set(actual.keys) == Set(expected.keys))
    }

    @Test func stringStopAndStringContentKeepTheirForm() throws {
        let request = try decode(#"{"model":"m","messages":[{"role":"user","content":"hi"}],"stop":"END","tool_choice":"auto"}"#)
        #expect(request.stop == .single("END"))
        #expect(request.messages[0].content == .text("hi"))
        let json = String(decoding: try JSONEncoder().encode(request), as: UTF8.self)
        #expect(json.contains(#""stop":"END""#))
        #expect(json.contains(#""content":"hi""#))
        #expect(json.contains(#""tool_choice":"auto""#))
    }

    @Test(arguments: [
        (#"{"model":"m","messages":[{"role":"user","content":"a"},{"role":"user","content":"b"},{"role":"robot","content":"c"}]}"#,
         "messages[2].role", "expected one of system, developer, user, assistant, tool"),
        (#"{"messages":[{"role":"user","content":"a"}]}"#, "model", "missing required field"),
        (#"{"model":"m","messages":[{"role":"user","content":"a"}],"temperature":"hot"}"#, "temperature", "expected a number"),
        (#"{"model":"m","messages":[{"role":"user","content":"a"}],"temperature":3}"#, "temperature", "expected a number from 0 to 2"),
        (#"{"model":"m","messages":[{"role":"user","content":"a"}],"n":0}"#, "n", "expected an integer from 1 to 128"),
        (#"{"model":"m","messages":[]}"#, "messages", "expected at least one message"),
        (#"{"model":"m","messages":[{"role":"tool","content":"a"}]}"#, "messages[0].tool_call_id", "expected a string"),
        (#"{"model":"m","messages":[{"role":"user","content":42}]}"#, "messages[0].content", "expected a string or an array of content parts"),
        (#"{"model":"m","messages":[{"role":"user","content":[{"type":"text"}]}]}"#, "messages[0].content[0].text", "missing required field"),
        (#"{"model":"m","messages":[{"role":"user","content":"a"}],"stop":7}"#, "stop", "expected a string or an array of strings"),
        (#"{"model":"m","messages":[{"role":"user","content":"a"}],"tool_choice":"sometimes"}"#, "tool_choice", "expected one of none, auto, required"),
        (#"{"model":"m","messages":[{"role":"user","content":"a"}],"tool_choice":{"type":"function","function":{"name":"f"}}}"#, "tool_choice", "names function 'f' which is not in tools"),
        (#"{"model":"m","messages":[{"role":"user","content":"a"}],"top_logprobs":2}"#, "top_logprobs", "requires logprobs"),
        (#"{"model":"m","messages":[{"role":"user","content":"a"}],"stream_options":{"include_usage":true}}"#, "stream_options", "only allowed when stream is true"),
    ])
    func invalidRequestsNameTheField(json: String, param: String, message: String) throws {
        let error = try #require(rejection(json))
        #expect(error.status == 400)
        #expect(error.type == "invalid_request_error")
        #expect(error.param == param)
        #expect(error.message.hasPrefix("\(param): "), "\(error.message)")
        #expect(error.message.contains(message), "\(error.message)")
    }

    @Test func malformedJSONIs400WithoutParam() throws {
        let error = try #require(rejection(#"{"model": "#))
        #expect(error.status == 400)
        #expect(error.param == nil)
    }

    @Test func errorEnvelopeHasAllFourMembers() throws {
        let data = OpenAIError.modelNotFound("gpt-9").jsonData()
        let json = try JSONDecoder().decode(JSONValue.self, from: data)
        #expect(json["error"]?["message"]?.stringValue?.contains("gpt-9") == true)
        #expect(json["error"]?["type"] == .string("invalid_request_error"))
        #expect(json["error"]?["param"] == .string("model"))
        #expect(json["error"]?["code"] == .string("model_not_found"))
        let bare = try JSONDecoder().decode(JSONValue.self, from: OpenAIError.unauthorized().jsonData())
        #expect(bare["error"]?["param"] == .null)
    }

    @Test func responseAndChunkEncodeLikeOpenAI() throws {
        let response = ChatCompletionResponse(
            id: "chatcmpl-1", created: 1, model: "m",
            choices: [.init(index: 0, message: ResponseMessage(content: nil, toolCalls: [
                ToolCall(id: "c", function: FunctionCall(name: "f", arguments: "{}")),
            ]), finishReason: "tool_calls")],
            usage: Usage(promptTokens: 3, completionTokens: 4))
        let json = try JSONDecoder().decode(JSONValue.self, from: JSONEncoder().encode(response))
        #expect(json["object"] == .string("chat.completion"))
        #expect(json["usage"]?["total_tokens"] == .integer(7))
        guard case .array(let choices)? = json["choices"] else {
            Issue.record("choices")
            return
        }
        #expect(choices[0]["message"]?["content"] == .null)
        #expect(choices[0]["finish_reason"] == .string("tool_calls"))
        let chunk = ChatCompletionChunk(id: "c", created: 1, model: "m", choices: [.init(delta: .init(content: "hi"))])
        let chunkJSON = String(decoding: try JSONEncoder().encode(chunk), as: UTF8.self)
        #expect(chunkJSON.contains(#""finish_reason":null"#))
        #expect(chunkJSON.contains(#""object":"chat.completion.chunk""#))
        #expect(!chunkJSON.contains("usage"))
    }
}
