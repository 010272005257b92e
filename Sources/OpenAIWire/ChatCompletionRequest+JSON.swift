// Fast JSON for requests: mapping a parsed body with field-naming errors, and writing it back.

extension ChatCompletionRequest {
    /// Maps a parsed body onto the request; errors are 400s naming the field.
    public init(json: JSONValue) throws(OpenAIError) {
        guard case .object(let members) = json else {
            throw .invalidRequest("The request body must be a JSON object.")
        }
        guard let modelValue = members["model"], modelValue != .null else { throw JSONFields.fail("model", "missing required field") }
        guard let messagesValue = members["messages"], messagesValue != .null else {
            throw JSONFields.fail("messages", "missing required field")
        }
        let messageValues = try JSONFields.array(messagesValue, "messages")
        var messages: [ChatMessage] = []
        messages.reserveCapacity(messageValues.count)
        for (index, value) in messageValues.enumerated() {
            messages.append(try ChatMessage(json: value, path: "messages[\(index)]"))
        }
        self.init(model: try JSONFields.string(modelValue, "model"), messages: messages)
        for (key, value) in members {
            if value == .null {
                if !Self.knownKeys.contains(key) { extra[key] = value }
                continue
            }
            switch key {
            case "model", "messages": break
            case "stream": stream = try JSONFields.bool(value, key)
            case "stream_options":
                let options = try JSONFields.object(value, key)
                var parsed = StreamOptions()
                for (name, option) in options {
                    if name == "include_usage" {
                        if option != .null { parsed.includeUsage = try JSONFields.bool(option, "stream_options.include_usage") }
                    } else {
                        parsed.extra[name] = option
                    }
                }
                streamOptions = parsed
            case "max_tokens": maxTokens = try JSONFields.int(value, key)
            case "max_completion_tokens": maxCompletionTokens = try JSONFields.int(value, key)
            case "temperature": temperature = try JSONFields.double(value, key)
            case "top_p": topP = try JSONFields.double(value, key)
            case "n": n = try JSONFields.int(value, key)
            case "stop":
                switch value {
                case .string(let text): stop = .single(text)
                case .array(let elements):
                    var values: [String] = []
                    for element in elements {
                        guard case .string(let text) = element else {
                            throw JSONFields.fail("stop", "expected a string or an array of strings")
                        }
                        values.append(text)
                    }
                    stop = .multiple(values)
                default: throw JSONFields.fail("stop", "expected a string or an array of strings")
                }
            case "seed": seed = try JSONFields.int(value, key)
            case "logprobs": logprobs = try JSONFields.bool(value, key)
            case "top_logprobs": topLogprobs = try JSONFields.int(value, key)
            case "presence_penalty": presencePenalty = try JSONFields.double(value, key)
            case "frequency_penalty": frequencyPenalty = try JSONFields.double(value, key)
            case "logit_bias":
                var bias: [String: Double] = [:]
                for (token, weight) in try JSONFields.object(value, key) {
                    bias[token] = try JSONFields.double(weight, "logit_bias.\(token)")
                }
                logitBias = bias
            case "tools":
                var parsed: [Tool] = []
                for (index, element) in try JSONFields.array(value, key).enumerated() {
                    parsed.append(try Tool(json: element, path: "tools[\(index)]"))
                }
                tools = parsed
            case "tool_choice": toolChoice = try ToolChoice(json: value)
            case "parallel_tool_calls": parallelToolCalls = try JSONFields.bool(value, key)
            case "response_format":
                let format = try JSONFields.object(value, key)
                let type = try JSONFields.string(try JSONFields.required(format, "type", "response_format"), "response_format.type")
                responseFormat = ResponseFormat(type: type, jsonSchema: format["json_schema"])
            case "user": user = try JSONFields.string(value, key)
            default: extra[key] = value
            }
        }
    }

    /// Decodes and validates a request body with the fast parser; every failure is a 400 naming the field.
    public static func decode(bytes: UnsafeRawBufferPointer) throws(OpenAIError) -> ChatCompletionRequest {
        let json: JSONValue
        do {
            json = try JSONParser.parse(bytes)
        } catch {
            throw .invalidRequest("We could not parse the JSON body of your request (\(error)).")
        }
        let request = try ChatCompletionRequest(json: json)
        try request.validate()
        return request
    }

    /// Compact JSON of the request, unknown members included (what OpenAI-compatible upstreams receive).
    public func jsonBytes() -> [UInt8] {
        var writer = JSONWriter(capacity: 1024)
        write(to: &writer)
        return writer.bytes
    }

    public func write(to writer: inout JSONWriter) {
        writer.beginObject()
        writer.key("model")
        writer.string(model)
        writer.key("messages")
        writer.beginArray()
        for message in messages { message.write(to: &writer) }
        writer.endArray()
        writer.member("stream", stream)
        if let streamOptions {
            writer.key("stream_options")
            writer.beginObject()
            writer.member("include_usage", streamOptions.includeUsage)
            writer.extras(streamOptions.extra)
            writer.endObject()
        }
        writer.member("max_tokens", maxTokens)
        writer.member("max_completion_tokens", maxCompletionTokens)
        writer.member("temperature", temperature)
        writer.member("top_p", topP)
        writer.member("n", n)
        switch stop {
        case .single(let text)?:
            writer.key("stop")
            writer.string(text)
        case .multiple(let values)?:
            writer.key("stop")
            writer.beginArray()
            for value in values { writer.string(value) }
            writer.endArray()
        case nil: break
        }
        writer.member("seed", seed)
        writer.member("logprobs", logprobs)
        writer.member("top_logprobs", topLogprobs)
        writer.member("presence_penalty", presencePenalty)
        writer.member("frequency_penalty", frequencyPenalty)
        if let logitBias {
            writer.key("logit_bias")
            writer.beginObject()
            for (token, weight) in logitBias {
                writer.key(token)
                if weight == weight.rounded() && abs(weight) < 1e15 { writer.int(Int64(weight)) } else { writer.double(weight) }
            }
            writer.endObject()
        }
        if let tools {
            writer.key("tools")
            writer.beginArray()
            for tool in tools {
                writer.beginObject()
                writer.key("type")
                writer.string(tool.type)
                writer.key("function")
                writer.beginObject()
                writer.key("name")
                writer.string(tool.function.name)
                writer.member("description", tool.function.description)
                writer.member("parameters", tool.function.parameters)
                writer.member("strict", tool.function.strict)
                writer.endObject()
                writer.endObject()
            }
            writer.endArray()
        }
        if let toolChoice {
            writer.key("tool_choice")
            switch toolChoice {
            case .none: writer.string("none")
            case .auto: writer.string("auto")
            case .required: writer.string("required")
            case .function(let name):
                writer.beginObject()
                writer.key("type")
                writer.string("function")
                writer.key("function")
                writer.beginObject()
                writer.key("name")
                writer.string(name)
                writer.endObject()
                writer.endObject()
            }
        }
        writer.member("parallel_tool_calls", parallelToolCalls)
        if let responseFormat {
            writer.key("response_format")
            writer.beginObject()
            writer.key("type")
            writer.string(responseFormat.type)
            writer.member("json_schema", responseFormat.jsonSchema)
            writer.endObject()
        }
        writer.member("user", user)
        writer.extras(extra)
        writer.endObject()
    }
}

extension ChatMessage {
    init(json: JSONValue, path: @autoclosure () -> String) throws(OpenAIError) {
        let members = try JSONFields.object(json, path())
        guard let roleValue = members["role"], roleValue != .null else {
            throw JSONFields.fail("\(path()).role", "missing required field")
        }
        let roleText = try JSONFields.string(roleValue, "\(path()).role")
        guard let role = ChatRole(rawValue: roleText) else {
            throw JSONFields.fail(
                "\(path()).role", "expected one of system, developer, user, assistant, tool, found \"\(roleText.prefix(40))\"")
        }
        self.init(role: role)
        for (key, value) in members {
            switch key {
            case "role": break
            case "content":
                if value != .null { content = try MessageContent(json: value, path: "\(path()).content") }
            case "name":
                if value != .null { name = try JSONFields.string(value, "\(path()).name") }
            case "tool_calls":
                if value != .null {
                    var calls: [ToolCall] = []
                    for (index, element) in try JSONFields.array(value, "\(path()).tool_calls").enumerated() {
                        calls.append(try ToolCall(json: element, path: "\(path()).tool_calls[\(index)]"))
                    }
                    toolCalls = calls
                }
            case "tool_call_id":
                if value != .null { toolCallID = try JSONFields.string(value, "\(path()).tool_call_id") }
            default:
                extra[key] = value
            }
        }
    }

    func write(to writer: inout JSONWriter) {
        writer.beginObject()
        writer.key("role")
        writer.string(role.rawValue)
        writer.key("content")
        switch content {
        case nil: writer.null()
        case .text(let text)?: writer.string(text)
        case .parts(let parts)?:
            writer.beginArray()
            for part in parts {
                switch part {
                case .text(let text):
                    writer.beginObject()
                    writer.key("type")
                    writer.string("text")
                    writer.key("text")
                    writer.string(text)
                    writer.endObject()
                case .imageURL(let url, let detail):
                    writer.beginObject()
                    writer.key("type")
                    writer.string("image_url")
                    writer.key("image_url")
                    writer.beginObject()
                    writer.key("url")
                    writer.string(url)
                    writer.member("detail", detail)
                    writer.endObject()
                    writer.endObject()
                case .other(_, let value):
                    writer.value(value)
                }
            }
            writer.endArray()
        }
        writer.member("name", name)
        if let toolCalls {
            writer.key("tool_calls")
            writer.beginArray()
            for call in toolCalls { call.write(to: &writer) }
            writer.endArray()
        }
        writer.member("tool_call_id", toolCallID)
        writer.extras(extra)
        writer.endObject()
    }
}

extension MessageContent {
    init(json: JSONValue, path: @autoclosure () -> String) throws(OpenAIError) {
        switch json {
        case .string(let text): self = .text(text)
        case .array(let elements):
            var parts: [ContentPart] = []
            parts.reserveCapacity(elements.count)
            for (index, element) in elements.enumerated() {
                parts.append(try ContentPart(json: element, path: "\(path())[\(index)]"))
            }
            self = .parts(parts)
        default:
            throw JSONFields.fail(path(), "expected a string or an array of content parts")
        }
    }
}

extension ContentPart {
    init(json: JSONValue, path: @autoclosure () -> String) throws(OpenAIError) {
        let members = try JSONFields.object(json, path())
        let type = try JSONFields.string(try JSONFields.required(members, "type", path()), "\(path()).type")
        switch type {
        case "text":
            self = .text(try JSONFields.string(try JSONFields.required(members, "text", path()), "\(path()).text"))
        case "image_url":
            let image = try JSONFields.object(try JSONFields.required(members, "image_url", path()), "\(path()).image_url")
            let url = try JSONFields.string(try JSONFields.required(image, "url", "\(path()).image_url"), "\(path()).image_url.url")
            let detail = try image["detail"].flatMap { value throws(OpenAIError) in
                value == .null ? nil : try JSONFields.string(value, "\(path()).image_url.detail")
            }
            self = .imageURL(url: url, detail: detail)
        default:
            self = .other(type: type, json)
        }
    }
}

extension ToolCall {
    init(json: JSONValue, path: @autoclosure () -> String) throws(OpenAIError) {
        let members = try JSONFields.object(json, path())
        let id = try JSONFields.string(try JSONFields.required(members, "id", path()), "\(path()).id")
        let type = try members["type"].flatMap { value throws(OpenAIError) in
            value == .null ? nil : try JSONFields.string(value, "\(path()).type")
        } ?? "function"
        let function = try JSONFields.object(try JSONFields.required(members, "function", path()), "\(path()).function")
        let name = try JSONFields.string(try JSONFields.required(function, "name", "\(path()).function"), "\(path()).function.name")
        let arguments = try function["arguments"].flatMap { value throws(OpenAIError) in
            value == .null ? nil : try JSONFields.string(value, "\(path()).function.arguments")
        } ?? ""
        self.init(id: id, type: type, function: FunctionCall(name: name, arguments: arguments))
    }

    func write(to writer: inout JSONWriter) {
        writer.beginObject()
        writer.key("id")
        writer.string(id)
        writer.key("type")
        writer.string(type)
        writer.key("function")
        writer.beginObject()
        writer.key("name")
        writer.string(function.name)
        writer.key("arguments")
        writer.string(function.arguments)
        writer.endObject()
        writer.endObject()
    }
}

extension Tool {
    init(json: JSONValue, path: @autoclosure () -> String) throws(OpenAIError) {
        let members = try JSONFields.object(json, path())
        let type = try JSONFields.string(try JSONFields.required(members, "type", path()), "\(path()).type")
        let function = try JSONFields.object(try JSONFields.required(members, "function", path()), "\(path()).function")
        let name = try JSONFields.string(try JSONFields.required(function, "name", "\(path()).function"), "\(path()).function.name")
        var definition = FunctionDefinition(name: name)
        if let value = function["description"], value != .null {
            definition.description = try JSONFields.string(value, "\(path()).function.description")
        }
        if let value = function["parameters"], value != .null { definition.parameters = value }
        if let value = function["strict"], value != .null { definition.strict = try JSONFields.bool(value, "\(path()).function.strict") }
        self.init(type: type, function: definition)
    }
}

extension ToolChoice {
    init(json: JSONValue) throws(OpenAIError) {
        switch json {
        case .string("none"): self = .none
        case .string("auto"): self = .auto
        case .string("required"): self = .required
        case .object(let members):
            guard let function = members["function"], case .object(let named) = function,
                  case .string(let name)? = named["name"] else {
                throw JSONFields.fail("tool_choice.function.name", "missing required field")
            }
            self = .function(name: name)
        default:
            throw JSONFields.fail(
                "tool_choice", "expected one of none, auto, required or {\"type\":\"function\",\"function\":{\"name\":…}}")
        }
    }
}
