// An OpenAI chat completion request as the embedded model's prompt and generation parameters. Pure: no model,
// no threads; every field the core cannot honour is a 400 that names it.

public import OpenAIWire
public import PhiInference
public import PhiTokenizer
public import PhigateConfig

/// What the local model will run for one request: the prompt's token ids and one parameter set per choice.
public struct LocalGenerationPlan: Sendable, Equatable {
    public var promptTokens: [Int]
    /// One entry per choice (`n`); seeds differ per choice so samples do too.
    public var choices: [GenerationParameters]
    /// Report token log-probabilities (`logprobs: true`).
    public var wantsLogprobs: Bool
}

/// Builds `LocalGenerationPlan`s for one model: its chat template, tokenizer, context size and default sampling.
public struct LocalRequestTranslator: Sendable {
    public let modelName: String
    public let template: ChatTemplate
    public let tokenizer: any Tokenizer
    public let contextSize: Int
    public let defaults: LocalSamplingDefaults

    /// Most choices one request may ask for (each is a sequence in the batch).
    public static let maxChoices = 8

    public init(modelName: String, template: ChatTemplate, tokenizer: any Tokenizer, contextSize: Int, defaults: LocalSamplingDefaults) {
        self.modelName = modelName
        self.template = template
        self.tokenizer = tokenizer
        self.contextSize = contextSize
        self.defaults = defaults
    }

    public func plan(for request: ChatCompletionRequest) throws(OpenAIError) -> LocalGenerationPlan {
        try rejectUnsupported(request)
        let messages = try chatMessages(request.messages)
        let prompt = template.encode(messages, with: tokenizer).map(Int.init)
        let requested = request.effectiveMaxTokens
        let param = request.maxCompletionTokens != nil ? "max_completion_tokens" : "max_tokens"
        if prompt.count >= contextSize {
            throw OpenAIError(
                status: 400,
                message: "This model's maximum context length is \(contextSize) tokens. However, your messages resulted in "
                    + "\(prompt.count) tokens. Please reduce the length of the messages.",
                type: "invalid_request_error", param: "messages", code: "context_length_exceeded")
        }
        if let requested, requested < 1 {
            throw .invalidRequest("\(param) must be at least 1, found \(requested).", param: param, code: "invalid_value")
        }
        if let requested, prompt.count + requested > contextSize {
            throw OpenAIError(
                status: 400,
                message: "This model's maximum context length is \(contextSize) tokens. However, you requested "
                    + "\(prompt.count + requested) tokens (\(prompt.count) in the messages, \(requested) in the completion). "
                    + "Please reduce the length of the messages or completion.",
                type: "invalid_request_error", param: param, code: "context_length_exceeded")
        }
        // Without a limit the default applies, but never beyond the context.
        let maxTokens = requested ?? defaults.maxTokens.map { min($0, contextSize - prompt.count) } ?? (contextSize - prompt.count)

        var base = GenerationParameters(
            maxTokens: maxTokens,
            temperature: Float(request.temperature ?? defaults.temperature),
            topK: try extraInt(request, "top_k") ?? defaults.topK,
            topP: Float(request.topP ?? defaults.topP),
            minP: Float(try extraDouble(request, "min_p") ?? defaults.minP),
            repetitionPenalty: Float(try extraDouble(request, "repetition_penalty") ?? defaults.repetitionPenalty),
            presencePenalty: Float(request.presencePenalty ?? 0),
            frequencyPenalty: Float(request.frequencyPenalty ?? 0),
            logitBias: try logitBias(request),
            seed: request.seed.map { UInt64(bitPattern: Int64($0)) },
            topLogprobs: try topLogprobs(request),
            stopStrings: request.stop?.values ?? [])
        if case .bool(true)? = request.extra["ignore_eos"] { base.ignoreEOS = true }
        do {
            try base.validate()
        } catch {
            throw Self.openAIError(error)
        }
        let n = request.n ?? 1
        guard (1...Self.maxChoices).contains(n) else {
            throw .invalidRequest("n must be between 1 and \(Self.maxChoices) for model '\(modelName)', found \(n).", param: "n", code: "invalid_value")
        }
        var choices: [GenerationParameters] = []
        for index in 0..<n {
            var parameters = base
            // Each choice gets its own stream of random numbers; with a seed the whole answer is reproducible.
            if let seed = base.seed { parameters.seed = seed &+ UInt64(index) }
            choices.append(parameters)
        }
        return LocalGenerationPlan(promptTokens: prompt, choices: choices, wantsLogprobs: request.logprobs ?? false)
    }

    // MARK: - Fields the embedded model cannot honour

    private func rejectUnsupported(_ request: ChatCompletionRequest) throws(OpenAIError) {
        if let tools = request.tools, !tools.isEmpty {
            throw unsupported("tools", "model '\(modelName)' has no tool-calling template; tools are not supported")
        }
        if let choice = request.toolChoice, choice != .none {
            throw unsupported("tool_choice", "model '\(modelName)' has no tool-calling template")
        }
        if let format = request.responseFormat, format.type != "text" {
            throw unsupported("response_format", "model '\(modelName)' cannot constrain its output to '\(format.type)'")
        }
        if request.topLogprobs != nil, request.logprobs != true {
            throw .invalidRequest("top_logprobs requires logprobs to be true.", param: "top_logprobs", code: "invalid_value")
        }
        for key in ["audio", "modalities", "prediction", "web_search_options"] where request.extra[key] != nil && request.extra[key] != .null {
            throw unsupported(key, "not supported by the local model '\(modelName)'")
        }
    }

    private func unsupported(_ param: String, _ message: String) -> OpenAIError {
        .invalidRequest("\(param): \(message).", param: param, code: "unsupported_parameter")
    }

    private func chatMessages(_ messages: [OpenAIWire.ChatMessage]) throws(OpenAIError) -> [PhiTokenizer.ChatMessage] {
        var out: [PhiTokenizer.ChatMessage] = []
        for (index, message) in messages.enumerated() {
            let param = "messages[\(index)]"
            let role: PhiTokenizer.ChatMessage.Role
            switch message.role {
            case .system, .developer: role = .system
            case .user: role = .user
            case .assistant: role = .assistant
            case .tool, .function:
                throw unsupported("\(param).role", "tool results need a tool-calling template, which model '\(modelName)' does not have")
            }
            if let calls = message.toolCalls, !calls.isEmpty {
                throw unsupported("\(param).tool_calls", "model '\(modelName)' has no tool-calling template")
            }
            var text = ""
            switch message.content {
            case .text(let value)?: text = value
            case .parts(let parts)?:
                for (partIndex, part) in parts.enumerated() {
                    switch part {
                    case .text(let value): text += value
                    case .imageURL:
                        throw unsupported("\(param).content[\(partIndex)]", "images are not supported by model '\(modelName)' (text only)")
                    case .other(let type, _):
                        throw unsupported("\(param).content[\(partIndex)]", "content type '\(type)' is not supported by model '\(modelName)' (text only)")
                    }
                }
            case nil: text = ""
            }
            out.append(.init(role: role, content: text))
        }
        return out
    }

    // MARK: - Numeric fields

    private func logitBias(_ request: ChatCompletionRequest) throws(OpenAIError) -> [Int: Float] {
        guard let bias = request.logitBias else { return [:] }
        var result: [Int: Float] = [:]
        for (key, value) in bias {
            guard let id = Int(key), id >= 0, id < tokenizer.vocabularySize else {
                throw .invalidRequest(
                    "logit_bias: '\(key.prefix(40))' is not a token id of model '\(modelName)' (0..<\(tokenizer.vocabularySize)).",
                    param: "logit_bias", code: "invalid_value")
            }
            guard value.isFinite, (-100...100).contains(value) else {
                throw .invalidRequest("logit_bias: values must be between -100 and 100, found \(value).", param: "logit_bias", code: "invalid_value")
            }
            result[id] = Float(value)
        }
        return result
    }

    private func topLogprobs(_ request: ChatCompletionRequest) throws(OpenAIError) -> Int? {
        guard request.logprobs == true else { return nil }
        let count = request.topLogprobs ?? 0
        guard (0...20).contains(count) else {
            throw .invalidRequest("top_logprobs must be between 0 and 20, found \(count).", param: "top_logprobs", code: "invalid_value")
        }
        return count
    }

    /// Sampling extensions other servers accept (`top_k`, `min_p`, `repetition_penalty`), read from unmodelled fields.
    private func extraDouble(_ request: ChatCompletionRequest, _ key: String) throws(OpenAIError) -> Double? {
        switch request.extra[key] {
        case nil, .null?: return nil
        case .integer(let value)?: return Double(value)
        case .number(let value)?: return value
        default: throw .invalidRequest("\(key) must be a number.", param: key, code: "invalid_type")
        }
    }

    private func extraInt(_ request: ChatCompletionRequest, _ key: String) throws(OpenAIError) -> Int? {
        switch request.extra[key] {
        case nil, .null?: return nil
        case .integer(let value)?: return Int(clamping: value)
        default: throw .invalidRequest("\(key) must be an integer.", param: key, code: "invalid_type")
        }
    }

    /// A core parameter error as the OpenAI 400 naming the field.
    static func openAIError(_ error: PhiInferenceError) -> OpenAIError {
        if case .invalidParameter(let name, let reason) = error {
            return .invalidRequest("\(name) \(reason).", param: name, code: "invalid_value")
        }
        return .invalidRequest("\(error)")
    }
}
