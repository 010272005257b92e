/// Fast JSON for responses, chunks, usage and model lists: parsing upstream bodies and writing client bodies.
extension Usage {
    init(json: JSONValue) throws(OpenAIError) {
        let members = try JSONFields.object(json, "usage")
        let prompt = try members["prompt_tokens"].map { v throws(OpenAIError) in try JSONFields.int(v, "usage.prompt_tokens") } ?? 0
        let completion = try members["completion_tokens"].map { v throws(OpenAIError) in try JSONFields.int(v, "usage.completion_tokens") } ?? 0
        let total = try members["total_tokens"].map { v throws(OpenAIError) in try JSONFields.int(v, "usage.total_tokens") }
        self.init(promptTokens: prompt, completionTokens: completion, totalTokens: total)
        if let details = members["prompt_tokens_details"], details != .null { promptTokensDetails = details }
        if let details = members["completion_tokens_details"], details != .null { completionTokensDetails = details }
    }

    func write(to writer: inout JSONWriter) {
        writer.beginObject()
        writer.key("prompt_tokens")
        writer.int(promptTokens)
        writer.key("completion_tokens")
        writer.int(completionTokens)
        writer.key("total_tokens")
        writer.int(totalTokens)
        writer.member("prompt_tokens_details", promptTokensDetails)
        writer.member("completion_tokens_details", completionTokensDetails)
        writer.endObject()
    }
}

extension ChatCompletionResponse {
    /// Parses an upstream body (lenient about absent optional members).
    public init(jsonBytes bytes: UnsafeRawBufferPointer) throws(OpenAIError) {
        let json: JSONValue
        do {
            json = try JSONParser.parse(bytes)
        } catch {
            throw .invalidRequest("not JSON (\(error))")
        }
        try self.init(json: json)
    }

    public init(json: JSONValue) throws(OpenAIError) {
        let members = try JSONFields.object(json, "response")
        let id = try JSONFields.string(try JSONFields.required(members, "id", ""), "id")
        let model = try members["model"].map { v throws(OpenAIError) in v == .null ? "" : try JSONFields.string(v, "model") } ?? ""
        let created = try members["created"].map { v throws(OpenAIError) in v == .null ? 0 : try JSONFields.int(v, "created") } ?? 0
        var choices: [Choice] = []
        for (index, element) in try JSONFields.array(try JSONFields.required(members, "choices", ""), "choices").enumerated() {
            let choice = try JSONFields.object(element, "choices[\(index)]")
            let message = try ResponseMessage(json: try JSONFields.required(choice, "message", "choices[\(index)]"))
            let finish = try choice["finish_reason"].flatMap { v throws(OpenAIError) in
                v == .null ? nil : try JSONFields.string(v, "finish_reason")
            }
            let choiceIndex = try choice["index"].map { v throws(OpenAIError) in try JSONFields.int(v, "index") } ?? index
            let logprobs = choice["logprobs"].flatMap { $0 == .null ? nil : $0 }
            choices.append(Choice(index: choiceIndex, message: message, finishReason: finish, logprobs: logprobs))
        }
        let usage = try members["usage"].flatMap { v throws(OpenAIError) in v == .null ? nil : try Usage(json: v) }
        var extra: [String: JSONValue] = [:]
        for (key, value) in members where !Self.knownKeys.contains(key) { extra[key] = value }
        let fingerprint = members["system_fingerprint"]?.stringValue
        self.init(id: id, created: created, model: model, choices: choices, usage: usage, systemFingerprint: fingerprint, extra: extra)
        if case .string(let object)? = members["object"] { self.object = object }
    }

    /// Compact JSON for the client.
    public func jsonBytes() -> [UInt8] {
        var writer = JSONWriter(capacity: 512)
        writer.beginObject()
        writer.key("id")
        writer.string(id)
        writer.key("object")
        writer.string(object)
        writer.key("created")
        writer.int(created)
        writer.key("model")
        writer.string(model)
        writer.key("choices")
        writer.beginArray()
        for choice in choices {
            writer.beginObject()
            writer.key("index")
            writer.int(choice.index)
            writer.key("message")
            choice.message.write(to: &writer)
            writer.key("logprobs")
            writer.value(choice.logprobs ?? .null)
            writer.nullableMember("finish_reason", choice.finishReason)
            writer.endObject()
        }
        writer.endArray()
        if let usage {
            writer.key("usage")
            usage.write(to: &writer)
        }
        writer.member("system_fingerprint", systemFingerprint)
        writer.extras(extra)
        writer.endObject()
        return writer.bytes
    }
}

extension ResponseMessage {
    init(json: JSONValue) throws(OpenAIError) {
        let members = try JSONFields.object(json, "message")
        self.init(content: nil)
        for (key, value) in members {
            switch key {
            case "role": if case .string(let text) = value { role = text }
            case "content": if value != .null { content = try JSONFields.string(value, "message.content") }
            case "refusal": if value != .null { refusal = try JSONFields.string(value, "message.refusal") }
            case "tool_calls":
                if value != .null {
                    var calls: [ToolCall] = []
                    for (index, element) in try JSONFields.array(value, "message.tool_calls").enumerated() {
                        calls.append(try ToolCall(json: element, path: "message.tool_calls[\(index)]"))
                    }
                    toolCalls = calls
                }
            default: extra[key] = value
            }
        }
    }

    func write(to writer: inout JSONWriter) {
        writer.beginObject()
        writer.key("role")
        writer.string(role)
        writer.nullableMember("content", content)
        writer.nullableMember("refusal", refusal)
        if let toolCalls, !toolCalls.isEmpty {
            writer.key("tool_calls")
            writer.beginArray()
            for call in toolCalls { call.write(to: &writer) }
            writer.endArray()
        }
        writer.extras(extra)
        writer.endObject()
    }
}

extension ChatCompletionChunk {
    /// Parses one upstream `data:` payload.
    public init(jsonBytes bytes: UnsafeRawBufferPointer) throws(OpenAIError) {
        let json: JSONValue
        do {
            json = try JSONParser.parse(bytes)
        } catch {
            throw .invalidRequest("not JSON (\(error))")
        }
        try self.init(json: json)
    }

    public init(json: JSONValue) throws(OpenAIError) {
        let members = try JSONFields.object(json, "chunk")
        self.init(id: "", created: 0, model: "", choices: [])
        for (key, value) in members {
            switch key {
            case "id": if case .string(let text) = value { id = text }
            case "object": if case .string(let text) = value { object = text }
            case "created": if value != .null { created = try JSONFields.int(value, "created") }
            case "model": if case .string(let text) = value { model = text }
            case "system_fingerprint": if case .string(let text) = value { systemFingerprint = text }
            case "usage": if value != .null { usage = try Usage(json: value) }
            case "choices":
                if value != .null {
                    for (index, element) in try JSONFields.array(value, "choices").enumerated() {
                        choices.append(try Choice(json: element, index: index))
                    }
                }
            default: extra[key] = value
            }
        }
    }

    /// Compact JSON for the client (`data: <this>`).
    public func jsonBytes() -> [UInt8] {
        var writer = JSONWriter(capacity: 256)
        write(to: &writer)
        return writer.bytes
    }

    /// The SSE frame `data: <json>\n\n` for the client.
    public func sseFrame() -> [UInt8] {
        var writer = JSONWriter(capacity: 256)
        writer.raw("data: ".utf8)
        write(to: &writer)
        var bytes = writer.bytes
        bytes.append(0x0A)
        bytes.append(0x0A)
        return bytes
    }

    func write(to writer: inout JSONWriter) {
        writer.beginObject()
        writer.key("id")
        writer.string(id)
        writer.key("object")
        writer.string(object)
        writer.key("created")
        writer.int(created)
        writer.key("model")
        writer.string(model)
        writer.member("system_fingerprint", systemFingerprint)
        writer.key("choices")
        writer.beginArray()
        for choice in choices {
            writer.beginObject()
            writer.key("index")
            writer.int(choice.index)
            writer.key("delta")
            writer.beginObject()
            writer.member("role", choice.delta.role)
            writer.member("content", choice.delta.content)
            writer.member("refusal", choice.delta.refusal)
            if let calls = choice.delta.toolCalls {
                writer.key("tool_calls")
                writer.beginArray()
                for call in calls {
                    writer.beginObject()
                    writer.key("index")
                    writer.int(call.index)
                    writer.member("id", call.id)
                    writer.member("type", call.type)
                    if let function = call.function {
                        writer.key("function")
                        writer.beginObject()
                        writer.member("name", function.name)
                        writer.member("arguments", function.arguments)
                        writer.endObject()
                    }
                    writer.endObject()
                }
                writer.endArray()
            }
            writer.extras(choice.delta.extra)
            writer.endObject()
            writer.member("logprobs", choice.logprobs)
            writer.nullableMember("finish_reason", choice.finishReason)
            writer.endObject()
        }
        writer.endArray()
        if let usage {
            writer.key("usage")
            usage.write(to: &writer)
        }
        writer.extras(extra)
        writer.endObject()
    }
}

extension ChatCompletionChunk.Choice {
    init(json: JSONValue, index position: Int) throws(OpenAIError) {
        let members = try JSONFields.object(json, "choices[\(position)]")
        self.init(index: position, delta: ChatCompletionChunk.Delta())
        for (key, value) in members {
            switch key {
            case "index": index = try JSONFields.int(value, "index")
            case "finish_reason": if case .string(let text) = value { finishReason = text }
            case "logprobs": if value != .null { logprobs = value }
            case "delta": if value != .null { delta = try ChatCompletionChunk.Delta(json: value) }
            default: break
            }
        }
    }
}

extension ChatCompletionChunk.Delta {
    init(json: JSONValue) throws(OpenAIError) {
        let members = try JSONFields.object(json, "delta")
        self.init()
        for (key, value) in members {
            switch key {
            case "role": if case .string(let text) = value { role = text }
            case "content": if case .string(let text) = value { content = text }
            case "refusal": if case .string(let text) = value { refusal = text }
            case "tool_calls":
                guard case .array(let elements) = value else { continue }
                var calls: [ToolCallDelta] = []
                for element in elements {
                    let call = try JSONFields.object(element, "tool_calls")
                    var parsed = ToolCallDelta(index: try call["index"].map { v throws(OpenAIError) in try JSONFields.int(v, "index") } ?? 0)
                    if case .string(let id)? = call["id"] { parsed.id = id }
                    if case .string(let type)? = call["type"] { parsed.type = type }
                    if case .object(let function)? = call["function"] {
                        parsed.function = .init(name: function["name"]?.stringValue, arguments: function["arguments"]?.stringValue)
                    }
                    calls.append(parsed)
                }
                toolCalls = calls
            default:
                if value != .null { extra[key] = value }
            }
        }
    }
}

extension ModelList {
    /// Compact JSON for `GET /v1/models`.
    public func jsonBytes() -> [UInt8] {
        var writer = JSONWriter(capacity: 64 + data.count * 80)
        writer.beginObject()
        writer.key("object")
        writer.string(object)
        writer.key("data")
        writer.beginArray()
        for model in data {
            writer.beginObject()
            writer.key("id")
            writer.string(model.id)
            writer.key("object")
            writer.string(model.object)
            writer.key("created")
            writer.int(model.created)
            writer.key("owned_by")
            writer.string(model.ownedBy)
            writer.endObject()
        }
        writer.endArray()
        writer.endObject()
        return writer.bytes
    }
}

extension ChatCompletionResponse {
    /// The same completion as stream chunks (role, content, tool calls, finish per choice); for upstreams that
    /// answer a streamed request with one JSON body. Usage is not included.
    public func streamChunks() -> [ChatCompletionChunk] {
        var chunks: [ChatCompletionChunk] = []
        func chunk(_ choice: ChatCompletionChunk.Choice) -> ChatCompletionChunk {
            ChatCompletionChunk(id: id, created: created, model: model, choices: [choice], systemFingerprint: systemFingerprint)
        }
        for choice in choices {
            chunks.append(chunk(.init(index: choice.index, delta: .init(role: choice.message.role, content: ""))))
            if let content = choice.message.content, !content.isEmpty {
                chunks.append(chunk(.init(index: choice.index, delta: .init(content: content), logprobs: choice.logprobs)))
            }
            if let refusal = choice.message.refusal {
                chunks.append(chunk(.init(index: choice.index, delta: .init(refusal: refusal))))
            }
            for (position, call) in (choice.message.toolCalls ?? []).enumerated() {
                let delta = ToolCallDelta(
                    index: position, id: call.id, type: call.type,
                    function: .init(name: call.function.name, arguments: call.function.arguments))
                chunks.append(chunk(.init(index: choice.index, delta: .init(toolCalls: [delta]))))
            }
            chunks.append(chunk(.init(index: choice.index, delta: .init(), finishReason: choice.finishReason ?? "stop")))
        }
        return chunks
    }
}
