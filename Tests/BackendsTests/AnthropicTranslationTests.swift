@testable import Backends
import Foundation
import OpenAIWire
import Testing

@Suite struct AnthropicTranslationTests {
    private func request(_ json: String) throws -> ChatCompletionRequest {
        try ChatCompletionRequest.decode(from: Data(json.utf8))
    }

    private func encoded(_ body: MessagesRequest) throws -> JSONValue {
        try JSONParser.parse(body.jsonBytes())
    }

    @Test func translatesSystemRolesToolsAndParameters() throws {
        let input = try request("""
            {"model":"claude-sonnet-4","messages":[
              {"role":"system","content":"You are terse."},
              {"role":"developer","content":"Answer in French."},
              {"role":"user","content":"Weather in Paris?"},
              {"role":"assistant","content":"Let me look.","tool_calls":[{"id":"toolu_1","type":"function","function":{"name":"weather","arguments":"{\\"city\\":\\"Paris\\"}"}}]},
              {"role":"tool","tool_call_id":"toolu_1","content":"18C"},
              {"role":"user","content":[{"type":"text","text":"And this?"},{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBOR"}}]}],
             "temperature":1.6,"top_p":0.5,"stop":"END","max_completion_tokens":300,"user":"u1",
             "tools":[{"type":"function","function":{"name":"weather","description":"Weather now","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}],
             "tool_choice":"required","parallel_tool_calls":false}
            """)
        let body = try AnthropicTranslation.messagesRequest(from: input, upstreamModel: "claude-sonnet-4-20250514", streaming: true)
        let json = try encoded(body)
        #expect(json["model"] == .string("claude-sonnet-4-20250514"))
        #expect(json["system"] == .string("You are terse.\n\nAnswer in French."))
        #expect(json["max_tokens"] == .integer(300))
        #expect(json["temperature"] == .number(1))
        #expect(json["top_p"] == .number(0.5))
        #expect(json["stop_sequences"] == .array([.string("END")]))
        #expect(json["stream"] == .bool(true))
        #expect(json["metadata"]?["user_id"] == .string("u1"))
        #expect(json["tool_choice"] == .object(["type": .string("any"), "disable_parallel_tool_use": .bool(true)]))
        guard case .array(let tools)? = json["tools"], case .array(let messages)? = json["messages"] else {
            Issue.record("tools and messages expected")
            return
        }
        #expect(tools[0]["name"] == .string("weather"))
        #expect(tools[0]["description"] == .string("Weather now"))
        #expect(tools[0]["input_schema"]?["type"] == .string("object"))
        #expect(messages.map { $0["role"]?.stringValue } == ["user", "assistant", "user"])
        #expect(messages[0]["content"] == .array([.object(["type": .string("text"), "text": .string("Weather in Paris?")])]))
        #expect(messages[1]["content"] == .array([
            .object(["type": .string("text"), "text": .string("Let me look.")]),
            .object([
                "type": .string("tool_use"), "id": .string("toolu_1"), "name": .string("weather"),
                "input": .object(["city": .string("Paris")]),
            ]),
        ]))
        // The tool result and the next user turn merge into one user message.
        #expect(messages[2]["content"] == .array([
            .object(["type": .string("tool_result"), "tool_use_id": .string("toolu_1"), "content": .string("18C")]),
            .object(["type": .string("text"), "text": .string("And this?")]),
            .object(["type": .string("image"), "source": .object([
                "type": .string("base64"), "media_type": .string("image/png"), "data": .string("iVBOR"),
            ])]),
        ]))
    }

    @Test func defaultsAndToolChoiceForms() throws {
        let plain = try AnthropicTranslation.messagesRequest(
            from: request(#"{"model":"c","messages":[{"role":"user","content":"hi"}]}"#), upstreamModel: "c", streaming: false)
        #expect(plain.maxTokens == AnthropicTranslation.defaultMaxTokens)
        #expect(plain.system == nil && plain.stream == nil && plain.toolChoice == nil)
        let tools = #""tools":[{"type":"function","function":{"name":"f"}}]"#
        let cases: [(String, MessagesRequest.ToolChoice?)] = [
            (#""tool_choice":"auto""#, .init(type: "auto")),
            (#""tool_choice":"none""#, .init(type: "none")),
            (#""tool_choice":{"type":"function","function":{"name":"f"}}"#, .init(type: "tool", name: "f")),
        ]
        for (choice, expected) in cases {
            let body = try AnthropicTranslation.messagesRequest(
                from: request(#"{"model":"c","messages":[{"role":"user","content":"hi"}],\#(tools),\#(choice)}"#),
                upstreamModel: "c", streaming: false)
            #expect(body.toolChoice == expected, "\(choice)")
            #expect(body.tools?.first?.inputSchema == .object(["type": .string("object"), "properties": .object([:])]))
        }
    }

    @Test func unsupportedFeaturesNameTheField() throws {
        #expect(throws: UpstreamFault.unsupported(param: "n", message: "anthropic backends produce one choice; expected n = 1")) {
            try AnthropicTranslation.messagesRequest(
                from: request(#"{"model":"c","messages":[{"role":"user","content":"hi"}],"n":2}"#), upstreamModel: "c", streaming: false)
        }
        do {
            _ = try AnthropicTranslation.messagesRequest(
                from: request(#"{"model":"c","messages":[{"role":"user","content":[{"type":"input_audio","input_audio":{}}]}]}"#),
                upstreamModel: "c", streaming: false)
            Issue.record("expected a rejection")
        } catch let fault as UpstreamFault {
            #expect(fault.openAIError(backend: "anthropic").param == "messages[0].content[0].type")
            #expect(fault.openAIError(backend: "anthropic").status == 400)
        }
    }

    @Test(arguments: [
        ("end_turn", "stop"), ("stop_sequence", "stop"), ("max_tokens", "length"), ("tool_use", "tool_calls"),
        ("refusal", "content_filter"), ("pause_turn", "stop"),
    ])
    func stopReasonMapsToFinishReason(stopReason: String, finishReason: String) {
        #expect(AnthropicTranslation.finishReason(stopReason) == finishReason)
    }

    @Test func translatesResponseWithToolUse() throws {
        let json = """
            {"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-20250514",
             "content":[{"type":"text","text":"Checking."},{"type":"tool_use","id":"toolu_9","name":"weather","input":{"city":"Paris"}}],
             "stop_reason":"tool_use","stop_sequence":null,
             "usage":{"input_tokens":20,"output_tokens":15,"cache_read_input_tokens":5}}
            """
        let message = try JSONDecoder().decode(MessagesResponse.self, from: Data(json.utf8))
        let response = AnthropicTranslation.chatResponse(from: message, created: 99)
        #expect(response.id == "chatcmpl-msg_1")
        #expect(response.created == 99)
        #expect(response.model == "claude-sonnet-4-20250514")
        #expect(response.choices[0].finishReason == "tool_calls")
        #expect(response.choices[0].message.content == "Checking.")
        #expect(response.choices[0].message.toolCalls == [
            ToolCall(id: "toolu_9", function: FunctionCall(name: "weather", arguments: #"{"city":"Paris"}"#)),
        ])
        #expect(response.usage == Usage(promptTokens: 25, completionTokens: 15))
    }

    // MARK: Streaming

    private func translate(_ events: [String], forwardUsage: Bool) throws(UpstreamFault) -> ([ChatStreamEvent], AnthropicStreamTranslator) {
        var translator = AnthropicStreamTranslator(created: 7, forwardUsage: forwardUsage)
        var out: [ChatStreamEvent] = []
        for event in events {
            try translator.handle(eventData: Array(event.utf8)) { out.append($0) }
        }
        return (out, translator)
    }

    private let toolStream = [
        #"{"type":"message_start","message":{"id":"msg_2","type":"message","role":"assistant","model":"claude-x","content":[],"stop_reason":null,"usage":{"input_tokens":30,"output_tokens":1}}}"#,
        #"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
        #"{"type":"ping"}"#,
        #"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Let me check"}}"#,
        #"{"type":"content_block_stop","index":0}"#,
        #"{"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_1","name":"weather","input":{}}}"#,
        #"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"city\":"}}"#,
        #"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"\"Paris\"}"}}"#,
        #"{"type":"content_block_stop","index":1}"#,
        #"{"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":42}}"#,
        #"{"type":"message_stop"}"#,
    ]

    @Test func streamEventsBecomeChunks() throws {
        let (events, translator) = try translate(toolStream, forwardUsage: false)
        let chunks = events.compactMap { if case .chunk(let chunk) = $0 { chunk } else { nil } }
        #expect(chunks.allSatisfy { $0.id == "chatcmpl-msg_2" && $0.model == "claude-x" && $0.created == 7 })
        let deltas = chunks.map { $0.choices[0].delta }
        #expect(deltas[0] == .init(role: "assistant", content: ""))
        #expect(deltas[1] == .init(content: "Let me check"))
        #expect(deltas[2].toolCalls == [ToolCallDelta(index: 0, id: "toolu_1", type: "function", function: .init(name: "weather", arguments: ""))])
        #expect(deltas[3].toolCalls == [ToolCallDelta(index: 0, function: .init(arguments: #"{"city":"#))])
        #expect(deltas[4].toolCalls == [ToolCallDelta(index: 0, function: .init(arguments: #""Paris"}"#))])
        #expect(chunks.last?.choices[0].finishReason == "tool_calls")
        #expect(chunks.count == 6)
        #expect(events.last == .usage(Usage(promptTokens: 30, completionTokens: 42)))
        #expect(translator.isDone)
        try translator.finish()
    }

    @Test func usageChunkForwardedWhenAsked() throws {
        let (events, _) = try translate(toolStream, forwardUsage: true)
        guard case .chunk(let last) = events.last else {
            Issue.record("usage chunk last")
            return
        }
        #expect(last.isUsageOnly)
        #expect(last.usage == Usage(promptTokens: 30, completionTokens: 42))
        #expect(events.contains(.usage(Usage(promptTokens: 30, completionTokens: 42))))
    }

    @Test func streamWithoutMessageStopIsBroken() throws {
        let (_, translator) = try translate(Array(toolStream.prefix(5)), forwardUsage: false)
        #expect(throws: UpstreamFault.brokenStream(afterChunks: 2)) { try translator.finish() }
    }

    @Test func errorEventBecomesStreamError() {
        #expect(throws: UpstreamFault.streamError(message: "overloaded_error: Overloaded", afterChunks: 1)) {
            _ = try translate([
                toolStream[0],
                #"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
            ], forwardUsage: false)
        }
    }

    @Test func nonJSONEventIsMalformed() {
        #expect(throws: UpstreamFault.malformedResponse("anthropic stream event is not the expected JSON")) {
            _ = try translate(["{not json"], forwardUsage: false)
        }
    }
}
