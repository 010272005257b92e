extension ChatCompletionRequest {
    /// Checks ranges and cross-field rules the JSON shape cannot express; the error names the field.
    public func validate() throws(OpenAIError) {
        func fail(_ field: String, _ expected: String) -> OpenAIError {
            .invalidRequest("\(field): \(expected)", param: field)
        }
        if model.isEmpty { throw fail("model", "expected a non-empty model name") }
        if messages.isEmpty { throw fail("messages", "expected at least one message") }
        for (index, message) in messages.enumerated() {
            switch message.role {
            case .tool:
                if message.toolCallID == nil {
                    throw fail("messages[\(index)].tool_call_id", "expected a string for a message with role tool")
                }
            case .user, .system, .developer:
                if message.content == nil {
                    throw fail("messages[\(index)].content", "expected a string or an array of content parts")
                }
            case .assistant:
                if message.content == nil && (message.toolCalls?.isEmpty ?? true) && message.extra["refusal"] == nil {
                    throw fail("messages[\(index)].content", "expected content or tool_calls for a message with role assistant")
                }
            case .function:
                break
            }
        }
        if let n, !(1...128).contains(n) { throw fail("n", "expected an integer from 1 to 128, found \(n)") }
        if let temperature, !(0...2).contains(temperature) {
            throw fail("temperature", "expected a number from 0 to 2, found \(temperature)")
        }
        if let topP, !(0...1).contains(topP) { throw fail("top_p", "expected a number from 0 to 1, found \(topP)") }
        if let presencePenalty, !(-2...2).contains(presencePenalty) {
            throw fail("presence_penalty", "expected a number from -2 to 2, found \(presencePenalty)")
        }
        if let frequencyPenalty, !(-2...2).contains(frequencyPenalty) {
            throw fail("frequency_penalty", "expected a number from -2 to 2, found \(frequencyPenalty)")
        }
        if let maxTokens, maxTokens < 1 { throw fail("max_tokens", "expected a positive integer, found \(maxTokens)") }
        if let maxCompletionTokens, maxCompletionTokens < 1 {
            throw fail("max_completion_tokens", "expected a positive integer, found \(maxCompletionTokens)")
        }
        if let topLogprobs {
            if !(0...20).contains(topLogprobs) {
                throw fail("top_logprobs", "expected an integer from 0 to 20, found \(topLogprobs)")
            }
            if logprobs != true { throw fail("top_logprobs", "requires logprobs to be true") }
        }
        if let stop, stop.values.count > 4 { throw fail("stop", "expected at most 4 stop sequences") }
        if streamOptions != nil && !isStreaming { throw fail("stream_options", "only allowed when stream is true") }
        if let tools {
            for (index, tool) in tools.enumerated() {
                if tool.type != "function" { throw fail("tools[\(index)].type", "expected \"function\"") }
                if tool.function.name.isEmpty { throw fail("tools[\(index)].function.name", "expected a non-empty name") }
            }
        }
        if case .function(let name) = toolChoice, !(tools ?? []).contains(where: { $0.function.name == name }) {
            throw fail("tool_choice", "names function '\(name)' which is not in tools")
        }
        if let responseFormat, !["text", "json_object", "json_schema"].contains(responseFormat.type) {
            throw fail("response_format.type", "expected one of text, json_object, json_schema")
        }
    }
}
