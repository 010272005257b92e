/// Anthropic Messages API shapes (plain and streamed).
extension FakeResponse {
    /// A non-streamed Messages API answer.
    public static func anthropicMessage(
        text: String? = "Hello from the fake upstream.",
        model: String = "claude-3-5-sonnet-20241022",
        toolUses: [FakeToolCall] = [],
        stopReason: String? = nil,
        inputTokens: Int = 13,
        outputTokens: Int = 9,
        id: String = "msg_fake1"
    ) -> FakeResponse {
        var blocks: [String] = []
        if let text { blocks.append(#"{"type":"text","text":\#(JSONText.quoted(text))}"#) }
        for use in toolUses {
            blocks.append(
                #"{"type":"tool_use","id":\#(JSONText.quoted(use.id)),"name":\#(JSONText.quoted(use.name)),"input":\#(use.argumentsJSON)}"#
            )
        }
        let stop = stopReason ?? (toolUses.isEmpty ? "end_turn" : "tool_use")
        return .json(
            #"{"id":\#(JSONText.quoted(id)),"type":"message","role":"assistant","model":\#(JSONText.quoted(model)),"content":[\#(blocks.joined(separator: ","))],"stop_reason":\#(JSONText.quoted(stop)),"stop_sequence":null,"usage":{"input_tokens":\#(inputTokens),"output_tokens":\#(outputTokens)}}"#
        )
    }

    /// The SSE events of a streamed Messages API answer (`event: …\ndata: …\n\n` each).
    public static func anthropicStreamEvents(
        deltas: [String] = ["Hello", " from", " the", " fake", " upstream."],
        model: String = "claude-3-5-sonnet-20241022",
        toolUses: [FakeToolCall] = [],
        stopReason: String? = nil,
        inputTokens: Int = 13,
        outputTokens: Int = 9,
        id: String = "msg_fake1"
    ) -> [String] {
        func event(_ name: String, _ data: String) -> String { "event: \(name)\ndata: \(data)\n\n" }
        var events: [String] = []
        events.append(
            event(
                "message_start",
                #"{"type":"message_start","message":{"id":\#(JSONText.quoted(id)),"type":"message","role":"assistant","model":\#(JSONText.quoted(model)),"content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":\#(inputTokens),"output_tokens":1}}}"#
            )
        )
        var index = 0
        if !deltas.isEmpty {
            events.append(
                event("content_block_start", #"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#)
            )
            events.append(event("ping", #"{"type":"ping"}"#))
            for delta in deltas {
                events.append(
                    event(
                        "content_block_delta",
                        #"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":\#(JSONText.quoted(delta))}}"#
                    )
                )
            }
            events.append(event("content_block_stop", #"{"type":"content_block_stop","index":0}"#))
            index += 1
        }
        for use in toolUses {
            events.append(
                event(
                    "content_block_start",
                    #"{"type":"content_block_start","index":\#(index),"content_block":{"type":"tool_use","id":\#(JSONText.quoted(use.id)),"name":\#(JSONText.quoted(use.name)),"input":{}}}"#
                )
            )
            events.append(
                event(
                    "content_block_delta",
                    #"{"type":"content_block_delta","index":\#(index),"delta":{"type":"input_json_delta","partial_json":\#(JSONText.quoted(use.argumentsJSON))}}"#
                )
            )
            events.append(event("content_block_stop", #"{"type":"content_block_stop","index":\#(index)}"#))
            index += 1
        }
        let stop = stopReason ?? (toolUses.isEmpty ? "end_turn" : "tool_use")
        events.append(
            event(
                "message_delta",
                #"{"type":"message_delta","delta":{"stop_reason":\#(JSONText.quoted(stop)),"stop_sequence":null},"usage":{"output_tokens":\#(outputTokens)}}"#
            )
        )
        events.append(event("message_stop", #"{"type":"message_stop"}"#))
        return events
    }

    /// A streamed Messages API answer (see `anthropicStreamEvents`).
    public static func anthropicStream(
        deltas: [String] = ["Hello", " from", " the", " fake", " upstream."],
        model: String = "claude-3-5-sonnet-20241022",
        toolUses: [FakeToolCall] = [],
        inputTokens: Int = 13,
        outputTokens: Int = 9,
        interval: Duration = .zero,
        ending: StreamEnding = .complete
    ) -> FakeResponse {
        .sse(
            anthropicStreamEvents(
                deltas: deltas,
                model: model,
                toolUses: toolUses,
                inputTokens: inputTokens,
                outputTokens: outputTokens
            ),
            interval: interval,
            ending: ending
        )
    }
}
