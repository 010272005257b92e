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
    mutating func handle(
        eventData: [UInt8], decoder: JSONDecoder = JSONDecoder(), _ emit: (ChatStreamEvent) -> Void
    ) throws(UpstreamFault) {
        let event: StreamEvent
        do {
            event = try decoder.decode(StreamEvent.self, from: Data(eventData))
        } catch {
            throw .malformedResponse("anthropic stream event is not the expected JSON")
        }
        switch event.type {
        case "message_start":
            if let message = event.message {
                id = AnthropicTranslation.chatID(message.id)
                model = message.model
                promptTokens = message.usage.promptTokens
                completionTokens = message.usage.outputTokens ?? 0
            }
            send(ChatCompletionChunk.Delta(role: "assistant", content: ""), emit)
        case "content_block_start":
            guard let block = event.contentBlock, let index = event.index else { return }
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
            guard let delta = event.delta else { return }
            switch delta.type {
            case "text_delta":
                if let text = delta.text, !text.isEmpty { send(ChatCompletionChunk.Delta(content: text), emit) }
            case "input_json_delta":
                guard let index = event.index, let toolIndex = toolIndexByBlock[index],
                      let json = delta.partialJSON, !json.isEmpty else { return }
                send(ChatCompletionChunk.Delta(toolCalls: [ToolCallDelta(index: toolIndex, function: .init(arguments: json))]), emit)
            default:
                break  // thinking_delta, signature_delta, citations: not part of the chat completions shape
            }
        case "message_delta":
            if let usage = event.usage {
                if let output = usage.outputTokens { completionTokens = max(completionTokens, output) }
                if usage.inputTokens != nil { promptTokens = max(promptTokens, usage.promptTokens) }
            }
            if let stopReason = event.delta?.stopReason {
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
            let type = event.error?.type ?? "error"
            let message = event.error?.message ?? "unknown error"
            throw .streamError(message: "\(type): \(message.prefix(300))", afterChunks: emittedChunks)
        default:
            break  // ping, content_block_stop, future event types
        }
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

    struct StreamEvent: Decodable {
        var type: String
        var message: MessagesResponse?
        var index: Int?
        var contentBlock: MessagesResponse.ContentBlock?
        var delta: Delta?
        var usage: MessagesUsage?
        var error: ErrorBody?

        enum CodingKeys: String, CodingKey {
            case type, message, index, delta, usage, error
            case contentBlock = "content_block"
        }

        struct Delta: Decodable {
            var type: String?
            var text: String?
            var partialJSON: String?
            var stopReason: String?

            enum CodingKeys: String, CodingKey {
                case type, text
                case partialJSON = "partial_json"
                case stopReason = "stop_reason"
            }
        }

        struct ErrorBody: Decodable {
            var type: String?
            var message: String?
        }
    }
}
