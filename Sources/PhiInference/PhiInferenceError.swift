// Errors of the inference core: model files, configuration, context limits and generation.

/// Everything that can go wrong while loading or running a Phi model. Messages name the file, tensor or key
/// and what was expected.
public enum PhiInferenceError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A model file could not be read or is malformed (`file` is its path).
    case invalidFile(file: String, reason: String)
    /// A tensor is missing or has the wrong shape or type.
    case invalidTensor(file: String, tensor: String, reason: String)
    /// A configuration key is missing or has an unusable value.
    case invalidConfig(source: String, key: String, reason: String)
    /// The model file uses an architecture this core does not implement.
    case unsupportedArchitecture(source: String, architecture: String)
    /// The prompt (plus already cached tokens) does not fit the context window.
    case contextOverflow(tokens: Int, contextLength: Int)
    /// A token id outside the vocabulary.
    case invalidTokenID(Int, vocabularySize: Int)
    /// Generation parameters out of range.
    case invalidParameter(name: String, reason: String)
    /// The engine's request queue is full (the server answers 429).
    case queueFull(capacity: Int)
    /// A request's worst-case KV cache (prompt + max tokens, capped at the context) exceeds the engine's whole
    /// KV cache budget, so it could never run.
    case kvCacheBudgetExceeded(bytes: Int, budgetBytes: Int)
    /// The engine was shut down.
    case engineStopped
    /// The operation was cancelled.
    case cancelled

    public var description: String {
        switch self {
        case .invalidFile(let file, let reason):
            return "\(file): \(reason)"
        case .invalidTensor(let file, let tensor, let reason):
            return "\(file): tensor '\(tensor)': \(reason)"
        case .invalidConfig(let source, let key, let reason):
            return "\(source): \(key): \(reason)"
        case .unsupportedArchitecture(let source, let architecture):
            return "\(source): unsupported architecture '\(architecture)' (supported: phi2, phi3)"
        case .contextOverflow(let tokens, let contextLength):
            return "the sequence needs \(tokens) tokens but the model's context length is \(contextLength)"
        case .invalidTokenID(let id, let vocabularySize):
            return "token id \(id) is outside the vocabulary (0..<\(vocabularySize))"
        case .invalidParameter(let name, let reason):
            return "\(name): \(reason)"
        case .queueFull(let capacity):
            return "the model is busy: \(capacity) requests are already waiting"
        case .kvCacheBudgetExceeded(let bytes, let budgetBytes):
            return "the request needs up to \(bytes) bytes of KV cache but the engine's budget is \(budgetBytes) bytes"
                + " (lower max_tokens or shorten the prompt)"
        case .engineStopped:
            return "the inference engine has stopped"
        case .cancelled:
            return "cancelled"
        }
    }
}
