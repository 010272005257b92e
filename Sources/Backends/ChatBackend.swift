public import Logging
public import OpenAIWire
public import PhigateConfig

/// An upstream that answers chat completions: a remote API (OpenAI-compatible, Anthropic) or a local model.
///
/// Errors thrown by `complete` and by the `stream` sequence are `UpstreamFault` values (or `CancellationError`
/// when the caller's task was cancelled). Cancelling the calling task, or dropping the stream's iterator,
/// cancels the upstream request.
public protocol ChatBackend: Sendable {
    /// The backend's configured name (`backends[i].name`).
    var name: String { get }
    var kind: BackendKind { get }

    /// A non-streamed completion. `upstreamModel` replaces `request.model`.
    func complete(_ request: ChatCompletionRequest, upstreamModel: String, logger: Logger) async throws
        -> ChatCompletionResponse

    /// The same completion as the JSON body to send the client, with its usage. OpenAI-compatible upstreams pass
    /// their body through (checked, not re-encoded); the default encodes `complete`'s answer.
    func completeRaw(_ request: ChatCompletionRequest, upstreamModel: String, logger: Logger) async throws
        -> RawChatCompletion

    /// A streamed completion: chunks to forward in order, and the final usage once known. The stream finishes
    /// normally only when the upstream signalled the end; a cut stream throws `UpstreamFault.brokenStream`.
    func stream(_ request: ChatCompletionRequest, upstreamModel: String, logger: Logger)
        -> AsyncThrowingStream<ChatStreamEvent, any Error>
}

/// One element of a backend stream.
public enum ChatStreamEvent: Sendable, Hashable {
    /// A chunk to forward to the client as `data: <json>` (includes the usage-only chunk when the client asked
    /// for `stream_options.include_usage`).
    case chunk(ChatCompletionChunk)
    /// The token usage of the whole completion, for accounting; not forwarded. Sent at most once, near the end.
    case usage(Usage)
}

/// A backend that adds behaviour around another one (limits, guards); lets the registry find what is inside.
public protocol ChatBackendWrapper: ChatBackend {
    var base: any ChatBackend { get }
}

extension ChatBackend {
    /// This backend with every wrapper taken off.
    public var innermost: any ChatBackend {
        var current: any ChatBackend = self
        while let wrapper = current as? any ChatBackendWrapper { current = wrapper.base }
        return current
    }
}
