import Foundation
import OpenAIWire

/// Translates Anthropic Messages stream events into OpenAI chunks, one event at a time (a value-type state
/// machine: feed an event, get the chunks to forward).
struct AnthropicStreamTranslator: Sendable {
    private let created: Int
    private let forwardUsage: Bool
    private var id = "chatcmpl-anthropic"
    private var model = ""
    private var promptTokens = 0
    private var completionTokens = 0
    private var toolIndexByBlock: [Int: Int] = [:]
    private var nextToolIndex = 0
    /// Chunks emitted so far (for `brokenStream(afterChunks:)`).
    private(set) var emittedChunks = 0
    /// Whether `message_stop` arrived.
    private(set) var isDone = false

    /// `forwardUsage`: emit the usage-only chunk too (the client set `stream_options.include_usage`).
    init(created: Int, forwardUsage: Bool) {
        self.created = created
        self.forwardUsage = forwardUsage
    }

    /// Handles one SSE event (`event:` name optional: the JSON `type` decides).
    mutating func handle(eventData: [UInt8], _ emit: (ChatStreamEvent) -> Void) throws(UpstreamFault) {
        let event: JSONValue
        do {
            event = try eventData.withUnsafeBytes { raw throws(JSONParseError) in try JSONParser.parse(raw) }
        } catch {
            throw .malformedResponse("anthropic stream event is not the expected JSON")
        }
        switch event["type"]?.stringValue {
        case "message_start":
            if let messageJSON = event["message"] {
                let message = try MessagesResponse(json: messageJSON)
                id = AnthropicTranslation.chatID(message.id)
                model = message.model
                promptTokens = message.usage.promptTokens
                completionTokens = message.usage.outputTokens ?? 0
            }
            send(ChatCompletionChunk.Delta(role: "assistant", content: ""), emit)
        case "content_block_start":
            guard let blockJSON = event["content_block"], let index = Self.int(event["index"]) else { return }
            let block = MessagesResponse.ContentBlock(json: blockJSON)
            switch block.type {
            case "tool_use":
                let toolIndex = nextToolIndex
                nextToolIndex += 1
                toolIndexByBlock[index] = toolIndex
                let call = ToolCallDelta(
                    index: toolIndex, id: block.id, type: "function",
                    function: .init(name: block.name, arguments: ""))
                send(ChatCompletionChunk.Delta(toolCalls: [call]), emit)
            case "text":
                if let text = block.text, !text.isEmpty { send(ChatCompletionChunk.Delta(content: text), emit) }
            default:
                break
            }
        case "content_block_delta":
            guard let delta = event["delta"] else { return }
            switch delta["type"]?.stringValue {
            case "text_delta":
                if let text = delta["text"]?.stringValue, !text.isEmpty { send(ChatCompletionChunk.Delta(content: text), emit) }
            case "input_json_delta":
                guard let index = Self.int(event["index"]), let toolIndex = toolIndexByBlock[index],
                      let json = delta["partial_json"]?.stringValue, !json.isEmpty else { return }
                send(ChatCompletionChunk.Delta(toolCalls: [ToolCallDelta(index: toolIndex, function: .init(arguments: json))]), emit)
            default:
                break  // thinking_delta, signature_delta, citations: not part of the chat completions shape
            }
        case "message_delta":
            if let usageJSON = event["usage"] {
                let usage = MessagesUsage(json: usageJSON)
                if let output = usage.outputTokens { completionTokens = max(completionTokens, output) }
                if usage.inputTokens != nil { promptTokens = max(promptTokens, usage.promptTokens) }
            }
            if let stopReason = event["delta"]?["stop_reason"]?.stringValue {
                send(ChatCompletionChunk.Delta(), finishReason: AnthropicTranslation.finishReason(stopReason), emit)
            }
        case "message_stop":
            isDone = true
            let usage = Usage(promptTokens: promptTokens, completionTokens: completionTokens)
            emit(.usage(usage))
            if forwardUsage {
                emittedChunks += 1
                emit(.chunk(ChatCompletionChunk(id: id, created: created, model: model, choices: [], usage: usage)))
            }
        case "error":
            let type = event["error"]?["type"]?.stringValue ?? "error"
            let message = event["error"]?["message"]?.stringValue ?? "unknown error"
            throw .streamError(message: "\(type): \(message.prefix(300))", afterChunks: emittedChunks)
        default:
            break  // ping, content_block_stop, future event types
        }
    }

    private static func int(_ value: JSONValue?) -> Int? {
        if case .integer(let number)? = value { return Int(number) }
        return nil
    }

    /// The body ended: an error unless `message_stop` arrived.
    func finish() throws(UpstreamFault) {
        if !isDone { throw .brokenStream(afterChunks: emittedChunks) }
    }

    private mutating func send(
        _ delta: ChatCompletionChunk.Delta, finishReason: String? = nil, _ emit: (ChatStreamEvent) -> Void
    ) {
        emittedChunks += 1
        emit(.chunk(ChatCompletionChunk(
            id: id, created: created, model: model,
            choices: [.init(index: 0, delta: delta, finishReason: finishReason)])))
    }
}
