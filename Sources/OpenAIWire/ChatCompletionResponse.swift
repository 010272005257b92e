/// Token counts of one completion.
public struct Usage: Sendable, Hashable, Codable {
    public var promptTokens: Int
    public var completionTokens: Int
    public var totalTokens: Int
    public var promptTokensDetails: JSONValue?
    public var completionTokensDetails: JSONValue?

    public init(promptTokens: Int, completionTokens: Int, totalTokens: Int? = nil) {
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
        self.totalTokens = totalTokens ?? promptTokens + completionTokens
    }

    enum CodingKeys: String, CodingKey {
        case promptTokens = "prompt_tokens"
        case completionTokens = "completion_tokens"
        case totalTokens = "total_tokens"
        case promptTokensDetails = "prompt_tokens_details"
        case completionTokensDetails = "completion_tokens_details"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        promptTokens = try c.decodeIfPresent(Int.self, forKey: .promptTokens) ?? 0
        completionTokens = try c.decodeIfPresent(Int.self, forKey: .completionTokens) ?? 0
        totalTokens = try c.decodeIfPresent(Int.self, forKey: .totalTokens) ?? promptTokens + completionTokens
        promptTokensDetails = try c.decodeIfPresent(JSONValue.self, forKey: .promptTokensDetails)
        completionTokensDetails = try c.decodeIfPresent(JSONValue.self, forKey: .completionTokensDetails)
    }
}

/// A non-streamed chat completion (`object: "chat.completion"`).
public struct ChatCompletionResponse: Sendable, Hashable, Codable {
    public var id: String
    public var object: String
    public var created: Int
    public var model: String
    public var choices: [Choice]
    public var usage: Usage?
    public var systemFingerprint: String?
    /// Members the gateway does not model (`service_tier`, …), passed through verbatim.
    public var extra: [String: JSONValue]

    public init(
        id: String, created: Int, model: String, choices: [Choice], usage: Usage?,
        systemFingerprint: String? = nil, extra: [String: JSONValue] = [:]
    ) {
        self.id = id
        self.object = "chat.completion"
        self.created = created
        self.model = model
        self.choices = choices
        self.usage = usage
        self.systemFingerprint = systemFingerprint
        self.extra = extra
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case id, object, created, model, choices, usage
        case systemFingerprint = "system_fingerprint"
    }
    static let knownKeys = Set(CodingKeys.allCases.map(\.rawValue))

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(String.self, forKey: .id)
        object = try c.decodeIfPresent(String.self, forKey: .object) ?? "chat.completion"
        created = try c.decodeIfPresent(Int.self, forKey: .created) ?? 0
        model = try c.decode(String.self, forKey: .model)
        choices = try c.decode([Choice].self, forKey: .choices)
        usage = try c.decodeIfPresent(Usage.self, forKey: .usage)
        systemFingerprint = try c.decodeIfPresent(String.self, forKey: .systemFingerprint)
        extra = try decoder.container(keyedBy: AnyCodingKey.self).extras(excluding: Self.knownKeys)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(object, forKey: .object)
        try c.encode(created, forKey: .created)
        try c.encode(model, forKey: .model)
        try c.encode(choices, forKey: .choices)
        try c.encodeIfPresent(usage, forKey: .usage)
        try c.encodeIfPresent(systemFingerprint, forKey: .systemFingerprint)
        try encoder.encodeExtras(extra, excluding: Self.knownKeys)
    }

    /// One choice of a completion.
    public struct Choice: Sendable, Hashable, Codable {
        public var index: Int
        public var message: ResponseMessage
        public var finishReason: String?
        public var logprobs: JSONValue?

        public init(index: Int, message: ResponseMessage, finishReason: String?, logprobs: JSONValue? = nil) {
            self.index = index
            self.message = message
            self.finishReason = finishReason
            self.logprobs = logprobs
        }

        enum CodingKeys: String, CodingKey {
            case index, message, logprobs
            case finishReason = "finish_reason"
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            index = try c.decodeIfPresent(Int.self, forKey: .index) ?? 0
            message = try c.decode(ResponseMessage.self, forKey: .message)
            finishReason = try c.decodeIfPresent(String.self, forKey: .finishReason)
            logprobs = try c.decodeIfPresent(JSONValue.self, forKey: .logprobs)
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(index, forKey: .index)
            try c.encode(message, forKey: .message)
            try c.encode(logprobs ?? .null, forKey: .logprobs)
            try c.encode(finishReason, forKey: .finishReason)
        }
    }
}

/// The assistant message of a completion choice.
public struct ResponseMessage: Sendable, Hashable, Codable {
    public var role: String
    public var content: String?
    public var refusal: String?
    public var toolCalls: [ToolCall]?
    /// Members the gateway does not model (`annotations`, `audio`, …), passed through verbatim.
    public var extra: [String: JSONValue]

    public init(
        role: String = "assistant", content: String?, refusal: String? = nil, toolCalls: [ToolCall]? = nil,
        extra: [String: JSONValue] = [:]
    ) {
        self.role = role
        self.content = content
        self.refusal = refusal
        self.toolCalls = toolCalls
        self.extra = extra
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case role, content, refusal
        case toolCalls = "tool_calls"
    }
    static let knownKeys = Set(CodingKeys.allCases.map(\.rawValue))

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        role = try c.decodeIfPresent(String.self, forKey: .role) ?? "assistant"
        content = try c.decodeIfPresent(String.self, forKey: .content)
        refusal = try c.decodeIfPresent(String.self, forKey: .refusal)
        toolCalls = try c.decodeIfPresent([ToolCall].self, forKey: .toolCalls)
        extra = try decoder.container(keyedBy: AnyCodingKey.self).extras(excluding: Self.knownKeys)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(role, forKey: .role)
        try c.encode(content, forKey: .content)
        try c.encode(refusal, forKey: .refusal)
        if let toolCalls, !toolCalls.isEmpty { try c.encode(toolCalls, forKey: .toolCalls) }
        try encoder.encodeExtras(extra, excluding: Self.knownKeys)
    }
}

/// One event of a streamed completion (`object: "chat.completion.chunk"`).
public struct ChatCompletionChunk: Sendable, Hashable, Codable {
    public var id: String
    public var object: String
    public var created: Int
    public var model: String
    public var choices: [Choice]
    /// Present only on the final usage chunk (whose `choices` is empty).
    public var usage: Usage?
    public var systemFingerprint: String?
    public var extra: [String: JSONValue]

    public init(
        id: String, created: Int, model: String, choices: [Choice], usage: Usage? = nil,
        systemFingerprint: String? = nil, extra: [String: JSONValue] = [:]
    ) {
        self.id = id
        self.object = "chat.completion.chunk"
        self.created = created
        self.model = model
        self.choices = choices
        self.usage = usage
        self.systemFingerprint = systemFingerprint
        self.extra = extra
    }

    /// Whether this is the usage-only chunk sent last when `stream_options.include_usage` is set.
    public var isUsageOnly: Bool { choices.isEmpty && usage != nil }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case id, object, created, model, choices, usage
        case systemFingerprint = "system_fingerprint"
    }
    static let knownKeys = Set(CodingKeys.allCases.map(\.rawValue))

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decodeIfPresent(String.self, forKey: .id) ?? ""
        object = try c.decodeIfPresent(String.self, forKey: .object) ?? "chat.completion.chunk"
        created = try c.decodeIfPresent(Int.self, forKey: .created) ?? 0
        model = try c.decodeIfPresent(String.self, forKey: .model) ?? ""
        choices = try c.decodeIfPresent([Choice].self, forKey: .choices) ?? []
        usage = try c.decodeIfPresent(Usage.self, forKey: .usage)
        systemFingerprint = try c.decodeIfPresent(String.self, forKey: .systemFingerprint)
        extra = try decoder.container(keyedBy: AnyCodingKey.self).extras(excluding: Self.knownKeys)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(object, forKey: .object)
        try c.encode(created, forKey: .created)
        try c.encode(model, forKey: .model)
        try c.encode(choices, forKey: .choices)
        try c.encodeIfPresent(usage, forKey: .usage)
        try c.encodeIfPresent(systemFingerprint, forKey: .systemFingerprint)
        try encoder.encodeExtras(extra, excluding: Self.knownKeys)
    }

    /// One choice of a chunk.
    public struct Choice: Sendable, Hashable, Codable {
        public var index: Int
        public var delta: Delta
        public var finishReason: String?
        public var logprobs: JSONValue?

        public init(index: Int = 0, delta: Delta, finishReason: String? = nil, logprobs: JSONValue? = nil) {
            self.index = index
            self.delta = delta
            self.finishReason = finishReason
            self.logprobs = logprobs
        }

        enum CodingKeys: String, CodingKey {
            case index, delta, logprobs
            case finishReason = "finish_reason"
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            index = try c.decodeIfPresent(Int.self, forKey: .index) ?? 0
            delta = try c.decodeIfPresent(Delta.self, forKey: .delta) ?? Delta()
            finishReason = try c.decodeIfPresent(String.self, forKey: .finishReason)
            logprobs = try c.decodeIfPresent(JSONValue.self, forKey: .logprobs)
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(index, forKey: .index)
            try c.encode(delta, forKey: .delta)
            try c.encodeIfPresent(logprobs, forKey: .logprobs)
            try c.encode(finishReason, forKey: .finishReason)
        }
    }

    /// The incremental message content of a chunk choice.
    public struct Delta: Sendable, Hashable, Codable {
        public var role: String?
        public var content: String?
        public var refusal: String?
        public var toolCalls: [ToolCallDelta]?
        public var extra: [String: JSONValue]

        public init(
            role: String? = nil, content: String? = nil, refusal: String? = nil,
            toolCalls: [ToolCallDelta]? = nil, extra: [String: JSONValue] = [:]
        ) {
            self.role = role
            self.content = content
            self.refusal = refusal
            self.toolCalls = toolCalls
            self.extra = extra
        }

        enum CodingKeys: String, CodingKey, CaseIterable {
            case role, content, refusal
            case toolCalls = "tool_calls"
        }
        static let knownKeys = Set(CodingKeys.allCases.map(\.rawValue))

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            role = try c.decodeIfPresent(String.self, forKey: .role)
            content = try c.decodeIfPresent(String.self, forKey: .content)
            refusal = try c.decodeIfPresent(String.self, forKey: .refusal)
            toolCalls = try c.decodeIfPresent([ToolCallDelta].self, forKey: .toolCalls)
            extra = try decoder.container(keyedBy: AnyCodingKey.self).extras(excluding: Self.knownKeys)
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encodeIfPresent(role, forKey: .role)
            try c.encodeIfPresent(content, forKey: .content)
            try c.encodeIfPresent(refusal, forKey: .refusal)
            try c.encodeIfPresent(toolCalls, forKey: .toolCalls)
            try encoder.encodeExtras(extra, excluding: Self.knownKeys)
        }
    }
}

/// A fragment of a tool call in a stream: the first fragment carries id, type and name; later ones append
/// to `function.arguments`.
public struct ToolCallDelta: Sendable, Hashable, Codable {
    public var index: Int
    public var id: String?
    public var type: String?
    public var function: Function?

    public init(index: Int, id: String? = nil, type: String? = nil, function: Function? = nil) {
        self.index = index
        self.id = id
        self.type = type
        self.function = function
    }

    /// The function fragment.
    public struct Function: Sendable, Hashable, Codable {
        public var name: String?
        public var arguments: String?

        public init(name: String? = nil, arguments: String? = nil) {
            self.name = name
            self.arguments = arguments
        }
    }
}

/// `GET /v1/models`.
public struct ModelList: Sendable, Hashable, Codable {
    public var object: String
    public var data: [Model]

    public init(data: [Model]) {
        self.object = "list"
        self.data = data
    }

    /// One listed model.
    public struct Model: Sendable, Hashable, Codable {
        public var id: String
        public var object: String
        public var created: Int
        public var ownedBy: String

        public init(id: String, created: Int, ownedBy: String) {
            self.id = id
            self.object = "model"
            self.created = created
            self.ownedBy = ownedBy
        }

        enum CodingKeys: String, CodingKey {
            case id, object, created
            case ownedBy = "owned_by"
        }
    }
}
