import Foundation
public import OpenAIWire

/// Pure translation between OpenAI chat completions and Anthropic's Messages API (no I/O, no clock).
public enum AnthropicTranslation {
    /// `max_tokens` sent when the client gave none (the Messages API requires it).
    public static let defaultMaxTokens = 4096

    // MARK: Request

    /// The Messages API body for `request`. Throws `UpstreamFault.unsupported` for what Anthropic cannot express.
    public static func messagesRequest(
        from request: ChatCompletionRequest, upstreamModel: String, streaming: Bool
    ) throws(UpstreamFault) -> MessagesRequest {
        if let n = request.n, n != 1 {
            throw .unsupported(param: "n", message: "anthropic backends produce one choice; expected n = 1")
        }
        var system: [String] = []
        var messages: [MessagesRequest.Message] = []
        func append(role: String, blocks: [MessagesRequest.Block]) {
            guard !blocks.isEmpty else { return }
            if let last = messages.indices.last, messages[last].role == role {
                messages[last].content.append(contentsOf: blocks)
            } else {
                messages.append(.init(role: role, content: blocks))
            }
        }
        for (index, message) in request.messages.enumerated() {
            let field = "messages[\(index)]"
            switch message.role {
            case .system, .developer:
                if let text = message.content?.text, !text.isEmpty { system.append(text) }
            case .user:
                append(role: "user", blocks: try blocks(of: message.content, field: field))
            case .assistant:
                var content = try blocks(of: message.content, field: field)
                for (callIndex, call) in (message.toolCalls ?? []).enumerated() {
                    let input: JSONValue
                    if call.function.arguments.isEmpty {
                        input = .object([:])
                    } else if let parsed = try? JSONDecoder().decode(JSONValue.self, from: Data(call.function.arguments.utf8)) {
                        input = parsed
                    } else {
                        throw .unsupported(
                            param: "\(field).tool_calls[\(callIndex)].function.arguments",
                            message: "expected a JSON object text")
                    }
                    content.append(.toolUse(id: call.id, name: call.function.name, input: input))
                }
                append(role: "assistant", blocks: content)
            case .tool:
                let text = message.content?.text ?? ""
                append(role: "user", blocks: [.toolResult(toolUseID: message.toolCallID ?? "", content: text)])
            case .function:
                throw .unsupported(param: "\(field).role", message: "role 'function' is deprecated; use tool messages")
            }
        }
        if messages.isEmpty {
            throw .unsupported(param: "messages", message: "anthropic backends need at least one user or assistant message")
        }
        var body = MessagesRequest(
            model: upstreamModel, maxTokens: request.effectiveMaxTokens ?? defaultMaxTokens, messages: messages)
        body.system = system.isEmpty ? nil : system.joined(separator: "\n\n")
        body.temperature = request.temperature.map { min($0, 1) }
        body.topP = request.topP
        body.stopSequences = request.stop?.values
        body.stream = streaming ? true : nil
        if let user = request.user { body.metadata = .init(userID: user) }
        if let tools = request.tools, !tools.isEmpty {
            body.tools = tools.map {
                .init(
                    name: $0.function.name, description: $0.function.description,
                    inputSchema: $0.function.parameters ?? .object(["type": .string("object"), "properties": .object([:])]))
            }
        }
        let disableParallel = request.parallelToolCalls == false ? true : nil
        switch request.toolChoice {
        case nil:
            if disableParallel != nil && body.tools != nil { body.toolChoice = .init(type: "auto", disableParallelToolUse: true) }
        case .auto?: body.toolChoice = .init(type: "auto", disableParallelToolUse: disableParallel)
        case .required?: body.toolChoice = .init(type: "any", disableParallelToolUse: disableParallel)
        case .none?: body.toolChoice = body.tools == nil ? nil : .init(type: "none")
        case .function(let name)?: body.toolChoice = .init(type: "tool", name: name, disableParallelToolUse: disableParallel)
        }
        return body
    }

    private static func blocks(of content: MessageContent?, field: String) throws(UpstreamFault) -> [MessagesRequest.Block] {
        switch content {
        case nil: return []
        case .text(let text)?: return text.isEmpty ? [] : [.text(text)]
        case .parts(let parts)?:
            var blocks: [MessagesRequest.Block] = []
            for (index, part) in parts.enumerated() {
                switch part {
                case .text(let text):
                    blocks.append(.text(text))
                case .imageURL(let url, _):
                    blocks.append(imageBlock(url: url))
                case .other(let type, _):
                    throw .unsupported(
                        param: "\(field).content[\(index)].type",
                        message: "content part type '\(type)' is not supported by anthropic backends")
                }
            }
            return blocks
        }
    }

    /// `data:<media>;base64,<data>` becomes a base64 source; anything else a URL source.
    static func imageBlock(url: String) -> MessagesRequest.Block {
        if url.hasPrefix("data:"), let comma = url.firstIndex(of: ","),
           url[..<comma].hasSuffix(";base64") {
            let mediaType = String(url[url.index(url.startIndex, offsetBy: 5)..<comma].dropLast(7))
            return .image(.init(type: "base64", mediaType: mediaType, data: String(url[url.index(after: comma)...]), url: nil))
        }
        return .image(.init(type: "url", mediaType: nil, data: nil, url: url))
    }

    // MARK: Response

    /// `stop_reason` → `finish_reason`.
    public static func finishReason(_ stopReason: String?) -> String? {
        switch stopReason {
        case nil: nil
        case "end_turn", "stop_sequence", "pause_turn": "stop"
        case "max_tokens", "model_context_window_exceeded": "length"
        case "tool_use": "tool_calls"
        case "refusal": "content_filter"
        default: "stop"
        }
    }

    /// The OpenAI response for a Messages API response.
    public static func chatResponse(from message: MessagesResponse, created: Int) -> ChatCompletionResponse {
        var texts: [String] = []
        var toolCalls: [ToolCall] = []
        for block in message.content {
            switch block.type {
            case "text": texts.append(block.text ?? "")
            case "tool_use":
                toolCalls.append(ToolCall(
                    id: block.id ?? "",
                    function: FunctionCall(name: block.name ?? "", arguments: jsonText(block.input ?? .object([:])))))
            default: break
            }
        }
        let responseMessage = ResponseMessage(
            content: texts.isEmpty && !toolCalls.isEmpty ? nil : texts.joined(),
            toolCalls: toolCalls.isEmpty ? nil : toolCalls)
        return ChatCompletionResponse(
            id: chatID(message.id), created: created, model: message.model,
            choices: [.init(index: 0, message: responseMessage, finishReason: finishReason(message.stopReason) ?? "stop")],
            usage: message.usage.openAIUsage)
    }

    static func chatID(_ messageID: String) -> String { "chatcmpl-" + messageID }

    static func jsonText(_ value: JSONValue) -> String {
        var writer = JSONWriter(capacity: 128)
        writer.value(value)
        return String(decoding: writer.bytes, as: UTF8.self)
    }
}

/// Anthropic `POST /v1/messages` request body.
public struct MessagesRequest: Sendable, Hashable, Encodable {
    public var model: String
    public var maxTokens: Int
    public var messages: [Message]
    public var system: String?
    public var temperature: Double?
    public var topP: Double?
    public var stopSequences: [String]?
    public var stream: Bool?
    public var metadata: Metadata?
    public var tools: [ToolDefinition]?
    public var toolChoice: ToolChoice?

    init(model: String, maxTokens: Int, messages: [Message]) {
        self.model = model
        self.maxTokens = maxTokens
        self.messages = messages
    }

    enum CodingKeys: String, CodingKey {
        case model, messages, system, temperature, stream, metadata, tools
        case maxTokens = "max_tokens"
        case topP = "top_p"
        case stopSequences = "stop_sequences"
        case toolChoice = "tool_choice"
    }

    public struct Message: Sendable, Hashable, Encodable {
        public var role: String
        public var content: [Block]
    }

    public enum Block: Sendable, Hashable, Encodable {
        case text(String)
        case image(ImageSource)
        case toolUse(id: String, name: String, input: JSONValue)
        case toolResult(toolUseID: String, content: String)

        enum CodingKeys: String, CodingKey {
            case type, text, source, id, name, input, content
            case toolUseID = "tool_use_id"
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            switch self {
            case .text(let text):
                try c.encode("text", forKey: .type)
                try c.encode(text, forKey: .text)
            case .image(let source):
                try c.encode("image", forKey: .type)
                try c.encode(source, forKey: .source)
            case .toolUse(let id, let name, let input):
                try c.encode("tool_use", forKey: .type)
                try c.encode(id, forKey: .id)
                try c.encode(name, forKey: .name)
                try c.encode(input, forKey: .input)
            case .toolResult(let toolUseID, let content):
                try c.encode("tool_result", forKey: .type)
                try c.encode(toolUseID, forKey: .toolUseID)
                try c.encode(content, forKey: .content)
            }
        }
    }

    public struct ImageSource: Sendable, Hashable, Encodable {
        public var type: String
        public var mediaType: String?
        public var data: String?
        public var url: String?

        enum CodingKeys: String, CodingKey {
            case type, data, url
            case mediaType = "media_type"
        }
    }

    public struct Metadata: Sendable, Hashable, Encodable {
        public var userID: String
        enum CodingKeys: String, CodingKey { case userID = "user_id" }
    }

    public struct ToolDefinition: Sendable, Hashable, Encodable {
        public var name: String
        public var description: String?
        public var inputSchema: JSONValue
        enum CodingKeys: String, CodingKey {
            case name, description
            case inputSchema = "input_schema"
        }
    }

    public struct ToolChoice: Sendable, Hashable, Encodable {
        public var type: String
        public var name: String?
        public var disableParallelToolUse: Bool?

        init(type: String, name: String? = nil, disableParallelToolUse: Bool? = nil) {
            self.type = type
            self.name = name
            self.disableParallelToolUse = disableParallelToolUse
        }

        enum CodingKeys: String, CodingKey {
            case type, name
            case disableParallelToolUse = "disable_parallel_tool_use"
        }
    }
}

/// Anthropic Messages API response (and the `message` of a `message_start` event).
public struct MessagesResponse: Sendable, Hashable, Decodable {
    public var id: String
    public var model: String
    public var content: [ContentBlock]
    public var stopReason: String?
    public var usage: MessagesUsage

    enum CodingKeys: String, CodingKey {
        case id, model, content, usage
        case stopReason = "stop_reason"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(String.self, forKey: .id)
        model = try c.decodeIfPresent(String.self, forKey: .model) ?? ""
        content = try c.decodeIfPresent([ContentBlock].self, forKey: .content) ?? []
        stopReason = try c.decodeIfPresent(String.self, forKey: .stopReason)
        usage = try c.decodeIfPresent(MessagesUsage.self, forKey: .usage) ?? MessagesUsage()
    }

    public struct ContentBlock: Sendable, Hashable, Decodable {
        public var type: String
        public var text: String?
        public var id: String?
        public var name: String?
        public var input: JSONValue?
    }
}

/// Anthropic usage; cache tokens count as prompt tokens.
public struct MessagesUsage: Sendable, Hashable, Decodable {
    public var inputTokens: Int?
    public var outputTokens: Int?
    public var cacheCreationInputTokens: Int?
    public var cacheReadInputTokens: Int?

    init() {}

    enum CodingKeys: String, CodingKey {
        case inputTokens = "input_tokens"
        case outputTokens = "output_tokens"
        case cacheCreationInputTokens = "cache_creation_input_tokens"
        case cacheReadInputTokens = "cache_read_input_tokens"
    }

    var promptTokens: Int { (inputTokens ?? 0) + (cacheCreationInputTokens ?? 0) + (cacheReadInputTokens ?? 0) }

    var openAIUsage: Usage { Usage(promptTokens: promptTokens, completionTokens: outputTokens ?? 0) }
}

// MARK: - Fast JSON

extension MessagesRequest {
    /// Compact JSON of the request body (hand-rolled writer).
    public func jsonBytes() -> [UInt8] {
        var writer = JSONWriter(capacity: 1024)
        writer.beginObject()
        writer.key("model")
        writer.string(model)
        writer.key("max_tokens")
        writer.int(maxTokens)
        writer.member("system", system)
        writer.key("messages")
        writer.beginArray()
        for message in messages {
            writer.beginObject()
            writer.key("role")
            writer.string(message.role)
            writer.key("content")
            writer.beginArray()
            for block in message.content { block.write(to: &writer) }
            writer.endArray()
            writer.endObject()
        }
        writer.endArray()
        writer.member("temperature", temperature)
        writer.member("top_p", topP)
        if let stopSequences {
            writer.key("stop_sequences")
            writer.beginArray()
            for sequence in stopSequences { writer.string(sequence) }
            writer.endArray()
        }
        writer.member("stream", stream)
        if let metadata {
            writer.key("metadata")
            writer.beginObject()
            writer.key("user_id")
            writer.string(metadata.userID)
            writer.endObject()
        }
        if let tools {
            writer.key("tools")
            writer.beginArray()
            for tool in tools {
                writer.beginObject()
                writer.key("name")
                writer.string(tool.name)
                writer.member("description", tool.description)
                writer.key("input_schema")
                writer.value(tool.inputSchema)
                writer.endObject()
            }
            writer.endArray()
        }
        if let toolChoice {
            writer.key("tool_choice")
            writer.beginObject()
            writer.key("type")
            writer.string(toolChoice.type)
            writer.member("name", toolChoice.name)
            writer.member("disable_parallel_tool_use", toolChoice.disableParallelToolUse)
            writer.endObject()
        }
        writer.endObject()
        return writer.bytes
    }
}

extension MessagesRequest.Block {
    func write(to writer: inout JSONWriter) {
        writer.beginObject()
        switch self {
        case .text(let text):
            writer.key("type")
            writer.string("text")
            writer.key("text")
            writer.string(text)
        case .image(let source):
            writer.key("type")
            writer.string("image")
            writer.key("source")
            writer.beginObject()
            writer.key("type")
            writer.string(source.type)
            writer.member("media_type", source.mediaType)
            writer.member("data", source.data)
            writer.member("url", source.url)
            writer.endObject()
        case .toolUse(let id, let name, let input):
            writer.key("type")
            writer.string("tool_use")
            writer.key("id")
            writer.string(id)
            writer.key("name")
            writer.string(name)
            writer.key("input")
            writer.value(input)
        case .toolResult(let toolUseID, let content):
            writer.key("type")
            writer.string("tool_result")
            writer.key("tool_use_id")
            writer.string(toolUseID)
            writer.key("content")
            writer.string(content)
        }
        writer.endObject()
    }
}

extension MessagesResponse {
    /// Reads a parsed Messages API response (or the `message` of `message_start`).
    init(json: JSONValue) throws(UpstreamFault) {
        guard case .object(let members) = json, case .string(let id)? = members["id"] else {
            throw .malformedResponse("messages body is not the expected JSON")
        }
        self.id = id
        model = members["model"]?.stringValue ?? ""
        stopReason = members["stop_reason"]?.stringValue
        usage = MessagesUsage(json: members["usage"])
        content = []
        if case .array(let blocks)? = members["content"] {
            for block in blocks { content.append(ContentBlock(json: block)) }
        }
    }
}

extension MessagesResponse.ContentBlock {
    init(json: JSONValue) {
        type = json["type"]?.stringValue ?? ""
        text = json["text"]?.stringValue
        id = json["id"]?.stringValue
        name = json["name"]?.stringValue
        input = json["input"]
    }
}

extension MessagesUsage {
    init(json: JSONValue?) {
        self.init()
        func count(_ key: String) -> Int? {
            switch json?[key] {
            case .integer(let value)?: Int(value)
            case .number(let value)? where value.isFinite && abs(value) < 1e15: Int(value)
            default: nil
            }
        }
        inputTokens = count("input_tokens")
        outputTokens = count("output_tokens")
        cacheCreationInputTokens = count("cache_creation_input_tokens")
        cacheReadInputTokens = count("cache_read_input_tokens")
    }
}
