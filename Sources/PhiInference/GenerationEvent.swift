// What a generation reports: tokens, released text, the finish reason and usage; and the cancellation flag.

import Synchronization

/// Why generation ended (OpenAI `finish_reason`, plus `cancelled` for a client that went away).
public enum FinishReason: String, Sendable, Equatable {
    /// An end-of-sequence / stop token id or a stop string.
    case stop
    /// `maxTokens` reached, or the context is full.
    case length
    /// `cancel()` was called.
    case cancelled
}

/// Token counts of one request.
public struct GenerationUsage: Sendable, Equatable {
    public var promptTokens: Int
    public var completionTokens: Int
    public var totalTokens: Int { promptTokens + completionTokens }
    /// Wall-clock seconds of the prompt pass and of the generation steps (with continuous batching, the steps
    /// the sequence took part in, whole).
    public var promptSeconds: Double
    public var generationSeconds: Double
    /// Seconds the request waited for an engine slot before its prompt started.
    public var queueSeconds: Double

    public init(
        promptTokens: Int, completionTokens: Int, promptSeconds: Double = 0, generationSeconds: Double = 0,
        queueSeconds: Double = 0
    ) {
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
        self.promptSeconds = promptSeconds
        self.generationSeconds = generationSeconds
        self.queueSeconds = queueSeconds
    }
}

/// One generated token.
public struct GeneratedToken: Sendable, Equatable {
    public var id: Int
    /// Text this token completes (may be empty: half a UTF-8 character, or text held back because it could
    /// begin a stop string; it comes out with a later token).
    public var text: String
    public var logprob: Float?
    public var topLogprobs: [TokenLogprob]
}

/// What a generator reports.
public enum GenerationEvent: Sendable, Equatable {
    case token(GeneratedToken)
    /// Text released at the end without a new token: text held back because it could have begun a stop string,
    /// or a trailing incomplete UTF-8 sequence (as U+FFFD). Comes right before `finished`.
    case text(String)
    /// Always the last event.
    case finished(FinishReason, GenerationUsage)
}

/// A thread-safe cancellation flag shared between a generator and whoever may cancel it.
public final class CancellationFlag: Sendable {
    private let state = Mutex(false)
    public init() {}
    public func cancel() { state.withLock { $0 = true } }
    public var isCancelled: Bool { state.withLock { $0 } }
}
