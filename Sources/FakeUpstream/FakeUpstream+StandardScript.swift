import Foundation

extension FakeUpstream {
    /// A script that answers like a well-behaved upstream, reading the request to choose the shape:
    /// - path ending in `/messages` → Anthropic Messages shapes, otherwise OpenAI chat completions;
    /// - `"stream": true` → SSE (with the usage chunk when `stream_options.include_usage` is true);
    /// - non-empty `tools` → a call of the first tool with arguments `{"city":"Paris"}`;
    /// - model `fail-500` / `fail-429` → that upstream error; model `slow` → 2 s before headers;
    /// - the answer's text echoes the model: `Hello from <model>.`
    /// Used by `phigate dev fake-upstream` (the Python client test) and by hand.
    public static let standardScript: Script = { request in
        let json = (try? JSONSerialization.jsonObject(with: Data(request.body))) as? [String: Any] ?? [:]
        let model = json["model"] as? String ?? "unknown"
        let isStreaming = json["stream"] as? Bool ?? false
        let includeUsage = (json["stream_options"] as? [String: Any])?["include_usage"] as? Bool ?? false
        let toolName = ((json["tools"] as? [[String: Any]])?.first).flatMap { tool -> String? in
            (tool["function"] as? [String: Any])?["name"] as? String ?? tool["name"] as? String
        }
        let isAnthropic = request.path.hasSuffix("/messages")
        switch model {
        case "fail-500":
            return isAnthropic
                ? .anthropicError(status: 500, message: "upstream exploded")
                : .openAIError(status: 500, message: "upstream exploded")
        case "fail-429":
            return (isAnthropic
                ? FakeResponse.anthropicError(status: 429, message: "slow down", type: "rate_limit_error")
                : FakeResponse.openAIError(status: 429, message: "slow down", type: "rate_limit_error"))
                .adding(header: "retry-after", value: "7")
        default:
            break
        }
        let text = "Hello from \(model)."
        let deltas = ["Hello", " from", " \(model)", "."]
        let calls = toolName.map { [FakeToolCall(id: isAnthropic ? "toolu_1" : "call_1", name: $0, argumentsJSON: #"{"city":"Paris"}"#)] } ?? []
        let response: FakeResponse
        switch (isAnthropic, isStreaming) {
        case (false, false):
            response = .openAIChat(content: calls.isEmpty ? text : nil, model: model, toolCalls: calls)
        case (false, true):
            response = .openAIStream(deltas: calls.isEmpty ? deltas : [], model: model, toolCalls: calls, includeUsage: includeUsage)
        case (true, false):
            response = .anthropicMessage(text: calls.isEmpty ? text : nil, model: model, toolUses: calls)
        case (true, true):
            response = .anthropicStream(deltas: calls.isEmpty ? deltas : [], model: model, toolUses: calls)
        }
        return model == "slow" ? response.delayed(by: .seconds(2)) : response
    }
}
