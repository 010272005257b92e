/// OpenAI chat completions shapes (plain and streamed).
extension FakeResponse {
    /// A non-streamed chat completion with one choice.
    public static func openAIChat(
        content: String? = "Hello from the fake upstream.",
        model: String = "gpt-4o-mini",
        toolCalls: [FakeToolCall] = [],
        finishReason: String? = nil,
        promptTokens: Int = 11,
        completionTokens: Int = 7,
        id: String = "chatcmpl-fake1"
    ) -> FakeResponse {
        .json(
            openAIChatJSON(
                content: content,
                model: model,
                toolCalls: toolCalls,
                finishReason: finishReason,
                promptTokens: promptTokens,
                completionTokens: completionTokens,
                id: id
            )
        )
    }

    /// The JSON text of a non-streamed chat completion.
    public static func openAIChatJSON(
        content: String? = "Hello from the fake upstream.",
        model: String = "gpt-4o-mini",
        toolCalls: [FakeToolCall] = [],
        finishReason: String? = nil,
        promptTokens: Int = 11,
        completionTokens: Int = 7,
        id: String = "chatcmpl-fake1"
    ) -> String {
        let finish = finishReason ?? (toolCalls.isEmpty ? "stop" : "tool_calls")
        var message = #"{"role":"assistant","content":\#(content.map(JSONText.quoted) ?? "null")"#
        if !toolCalls.isEmpty {
            let calls = toolCalls.map { call in
                #"{"id":\#(JSONText.quoted(call.id)),"type":"function","function":{"name":\#(JSONText.quoted(call.name)),"arguments":\#(JSONText.quoted(call.argumentsJSON))}}"#
            }
            message += #","tool_calls":[\#(calls.joined(separator: ","))]"#
        }
        message += "}"
        return #"{"id":\#(JSONText.quoted(id)),"object":"chat.completion","created":1700000000,"model":\#(JSONText.quoted(model)),"choices":[{"index":0,"message":\#(message),"logprobs":null,"finish_reason":\#(JSONText.quoted(finish))}],"usage":{"prompt_tokens":\#(promptTokens),"completion_tokens":\#(completionTokens),"total_tokens":\#(promptTokens + completionTokens)},"system_fingerprint":"fp_fake"}"#
    }

    /// The SSE events of a streamed chat completion: a role chunk, one chunk per delta, a finish chunk,
    /// an optional usage chunk, and `data: [DONE]` (each element is one `data: …\n\n` event).
    public static func openAIStreamEvents(
        deltas: [String] = ["Hello", " from", " the", " fake", " upstream."],
        model: String = "gpt-4o-mini",
        toolCalls: [FakeToolCall] = [],
        includeUsage: Bool = false,
        promptTokens: Int = 11,
        completionTokens: Int = 7,
        done: Bool = true,
        id: String = "chatcmpl-fake1"
    ) -> [String] {
        let head = #"{"id":\#(JSONText.quoted(id)),"object":"chat.completion.chunk","created":1700000000,"model":\#(JSONText.quoted(model)),"system_fingerprint":"fp_fake","choices":"#
        let usageNull = includeUsage ? #","usage":null"# : ""
        func event(_ choices: String, usage: String? = nil) -> String {
            "data: " + head + choices + (usage.map { #","usage":\#($0)"# } ?? usageNull) + "}\n\n"
        }
        var events: [String] = []
        events.append(event(#"[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]"#))
        for delta in deltas {
            events.append(event(#"[{"index":0,"delta":{"content":\#(JSONText.quoted(delta))},"logprobs":null,"finish_reason":null}]"#))
        }
        for (index, call) in toolCalls.enumerated() {
            events.append(
                event(
                    #"[{"index":0,"delta":{"tool_calls":[{"index":\#(index),"id":\#(JSONText.quoted(call.id)),"type":"function","function":{"name":\#(JSONText.quoted(call.name)),"arguments":""}}]},"logprobs":null,"finish_reason":null}]"#
                )
            )
            events.append(
                event(
                    #"[{"index":0,"delta":{"tool_calls":[{"index":\#(index),"function":{"arguments":\#(JSONText.quoted(call.argumentsJSON))}}]},"logprobs":null,"finish_reason":null}]"#
                )
            )
        }
        let finish = toolCalls.isEmpty ? "stop" : "tool_calls"
        events.append(event(#"[{"index":0,"delta":{},"logprobs":null,"finish_reason":\#(JSONText.quoted(finish))}]"#))
        if includeUsage {
            events.append(
                event(
                    "[]",
                    usage: #"{"prompt_tokens":\#(promptTokens),"completion_tokens":\#(completionTokens),"total_tokens":\#(promptTokens + completionTokens)}"#
                )
            )
        }
        if done { events.append("data: [DONE]\n\n") }
        return events
    }

    /// A streamed chat completion (see `openAIStreamEvents`).
    public static func openAIStream(
        deltas: [String] = ["Hello", " from", " the", " fake", " upstream."],
        model: String = "gpt-4o-mini",
        toolCalls: [FakeToolCall] = [],
        includeUsage: Bool = false,
        promptTokens: Int = 11,
        completionTokens: Int = 7,
        done: Bool = true,
        interval: Duration = .zero,
        ending: StreamEnding = .complete
    ) -> FakeResponse {
        .sse(
            openAIStreamEvents(
                deltas: deltas,
                model: model,
                toolCalls: toolCalls,
                includeUsage: includeUsage,
                promptTokens: promptTokens,
                completionTokens: completionTokens,
                done: done
            ),
            interval: interval,
            ending: ending
        )
    }

    /// A stream cut after `chunks` events of an otherwise normal completion.
    public static func openAIStreamCut(
        afterChunks chunks: Int,
        deltas: [String] = ["Hello", " from", " the", " fake", " upstream."],
        ending: StreamEnding = .reset,
        interval: Duration = .zero
    ) -> FakeResponse {
        .sse(Array(openAIStreamEvents(deltas: deltas).prefix(chunks)), interval: interval, ending: ending)
    }

    /// A stream whose second event is not JSON.
    public static func openAIStreamMalformed() -> FakeResponse {
        var events = openAIStreamEvents()
        events.insert("data: {\"id\":\"chatcmpl-fake1\",\"choices\":[{\"delta\":\n\n", at: 1)
        return .sse(events)
    }
}
