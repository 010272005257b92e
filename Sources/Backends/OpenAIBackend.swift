public import AsyncHTTPClient
import Foundation
public import Logging
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
public import OpenAIWire
public import PhigateConfig

/// An OpenAI-compatible upstream (`POST {base_url}/chat/completions`). The client's request is forwarded with
/// the upstream model name substituted and its unknown fields kept; streams are passed through chunk by chunk.
public struct OpenAIBackend: ChatBackend, CustomStringConvertible {
    public let name: String
    public var kind: BackendKind { .openai }
    private let config: BackendConfig
    private let apiKey: Secret?
    private let httpClient: HTTPClient
    private let url: String
    /// The non-streamed request without its body, built once: AsyncHTTPClient takes the URL apart in
    /// `HTTPClient.Request.init`, which is worth doing once per backend rather than per request.
    private let completionTemplate: HTTPClient.Request?

    /// `apiKey` is sent as `Authorization: Bearer`; nil with `config.apiKeyEnv` set means the key is missing and
    /// every call fails with `UpstreamFault.missingAPIKey`. `httpClient` is the gateway's one shared client.
    public init(config: BackendConfig, apiKey: Secret?, httpClient: HTTPClient) {
        self.name = config.name
        self.config = config
        self.apiKey = apiKey
        self.httpClient = httpClient
        self.url = config.baseURL + "/chat/completions"
        var headers = UpstreamExchange.baseHeaders(config: config, streaming: false)
        if let apiKey { headers.replaceOrAdd(name: "authorization", value: "Bearer \(apiKey.value)") }
        self.completionTemplate = URL(string: url).flatMap { try? HTTPClient.Request(url: $0, method: .POST, headers: headers) }
    }

    public var description: String { "OpenAIBackend(\(name), \(config.baseURL))" }

    public func complete(_ request: ChatCompletionRequest, upstreamModel: String, logger: Logger) async throws
        -> ChatCompletionResponse
    {
        let body = try await exchange(request, upstreamModel: upstreamModel, logger: logger)
        return try Self.parse(body)
    }

    /// The upstream's body passed through: parsed once (the hand-rolled parser) to check it and read usage.
    public func completeRaw(_ request: ChatCompletionRequest, upstreamModel: String, logger: Logger) async throws
        -> RawChatCompletion
    {
        let body = try await exchange(request, upstreamModel: upstreamModel, logger: logger)
        return RawChatCompletion(body: body, response: try Self.parse(body))
    }

    private static func parse(_ body: ByteBuffer) throws -> ChatCompletionResponse {
        do {
            return try body.withUnsafeReadableBytes { raw throws(OpenAIError) in try ChatCompletionResponse(jsonBytes: raw) }
        } catch {
            throw UpstreamFault.malformedResponse("chat completion body is not the expected JSON")
        }
    }

    /// One non-streamed exchange on the caller's event loop (see `UpstreamCall`); the 2xx body.
    private func exchange(_ request: ChatCompletionRequest, upstreamModel: String, logger: Logger) async throws
        -> ByteBuffer
    {
        if let variable = config.apiKeyEnv, apiKey == nil {
            throw UpstreamFault.missingAPIKey(backend: name, variable: variable)
        }
        var forwarded = request
        forwarded.model = upstreamModel
        forwarded.stream = nil
        forwarded.streamOptions = nil
        guard var upstreamRequest = completionTemplate else { throw UpstreamExchange.fault(from: HTTPClientError.invalidURL) }
        upstreamRequest.body = .byteBuffer(ByteBuffer(bytes: forwarded.jsonBytes()))
        let deadline = NIODeadline.now() + .nanoseconds(config.timeouts.total.nanoseconds)
        let answer = try await UpstreamCall.collect(
            client: httpClient, request: upstreamRequest, firstByte: config.timeouts.firstByte,
            deadline: deadline, logger: logger)
        guard (200..<300).contains(answer.status.code) else {
            throw UpstreamFault.status(
                code: Int(answer.status.code),
                message: UpstreamExchange.summary(ofErrorBody: answer.body, status: answer.status, apiKey: apiKey),
                retryAfter: answer.headers.flatMap { UpstreamExchange.retryAfter(in: $0) })
        }
        return answer.body
    }

    public func stream(_ request: ChatCompletionRequest, upstreamModel: String, logger: Logger)
        -> AsyncThrowingStream<ChatStreamEvent, any Error>
    {
        let (stream, continuation) = AsyncThrowingStream.makeStream(of: ChatStreamEvent.self)
        let upstreamRequest: HTTPClientRequest
        do {
            upstreamRequest = try makeRequest(request, upstreamModel: upstreamModel, streaming: true)
        } catch {
            continuation.finish(throwing: error)
            return stream
        }
        let client = httpClient
        let apiKey = apiKey
        let timeouts = config.timeouts
        let forwardUsage = request.wantsStreamUsage
        let deadline = NIODeadline.now() + .milliseconds(timeouts.total.milliseconds + 1000)
        let task = Task {
            do {
                try await UpstreamExchange.run(timeouts: timeouts) { signal in
                    let response = try await client.execute(upstreamRequest, deadline: deadline, logger: logger)
                    guard (200..<300).contains(response.status.code) else {
                        throw await UpstreamExchange.statusFault(response, apiKey: apiKey)
                    }
                    if let type = response.headers.first(name: "content-type"), type.hasPrefix("application/json") {
                        // The upstream ignored `stream`: replay its one body as chunks.
                        let body = try await response.body.collect(upTo: UpstreamExchange.maxResponseBytes)
                        signal.markArrived()
                        let completion: ChatCompletionResponse
                        do {
                            completion = try body.withUnsafeReadableBytes { raw throws(OpenAIError) in
                                try ChatCompletionResponse(jsonBytes: raw)
                            }
                        } catch {
                            throw UpstreamFault.malformedResponse("chat completion body is not the expected JSON")
                        }
                        for chunk in completion.streamChunks() { continuation.yield(.chunk(chunk)) }
                        if let usage = completion.usage {
                            continuation.yield(.usage(usage))
                            if forwardUsage {
                                continuation.yield(.chunk(ChatCompletionChunk(
                                    id: completion.id, created: completion.created, model: completion.model, choices: [],
                                    usage: usage)))
                            }
                        }
                        return
                    }
                    var relay = OpenAIStreamRelay(forwardUsage: forwardUsage)
                    for try await piece in response.body {
                        signal.markArrived()
                        try piece.withUnsafeReadableBytes { bytes in
                            try relay.feed(bytes) { continuation.yield($0) }
                        }
                        if relay.isDone { break }
                    }
                    try relay.finish()
                }
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }

    private func makeRequest(_ request: ChatCompletionRequest, upstreamModel: String, streaming: Bool) throws
        -> HTTPClientRequest
    {
        if let variable = config.apiKeyEnv, apiKey == nil {
            throw UpstreamFault.missingAPIKey(backend: name, variable: variable)
        }
        var forwarded = request
        forwarded.model = upstreamModel
        if streaming {
            forwarded.stream = true
            var options = forwarded.streamOptions ?? StreamOptions()
            options.includeUsage = true
            forwarded.streamOptions = options
        } else {
            forwarded.stream = nil
            forwarded.streamOptions = nil
        }
        var upstream = HTTPClientRequest(url: url)
        upstream.method = .POST
        upstream.headers = UpstreamExchange.baseHeaders(config: config, streaming: streaming)
        if let apiKey { upstream.headers.replaceOrAdd(name: "authorization", value: "Bearer \(apiKey.value)") }
        upstream.body = .bytes(ByteBuffer(bytes: forwarded.jsonBytes()))
        return upstream
    }
}

/// Turns an OpenAI `text/event-stream` body into `ChatStreamEvent`s: usage is always reported as `.usage`, the
/// usage-only chunk is forwarded only when the client asked for it, and the end is `data: [DONE]`.
struct OpenAIStreamRelay {
    private var parser = SSEParser()
    private let forwardUsage: Bool
    private(set) var forwardedChunks = 0
    private(set) var isDone = false
    private var sawFinishReason = false
    private var usageReported = false

    init(forwardUsage: Bool) {
        self.forwardUsage = forwardUsage
    }

    mutating func feed(_ bytes: UnsafeRawBufferPointer, _ emit: (ChatStreamEvent) -> Void) throws {
        var events: [SSEEvent] = []
        parser.feed(bytes) { events.append($0) }
        if parser.bufferedByteCount > UpstreamExchange.maxEventBytes {
            throw UpstreamFault.malformedResponse("stream event larger than \(UpstreamExchange.maxEventBytes) bytes")
        }
        for event in events where !isDone {
            try handle(event, emit)
        }
    }

    private mutating func handle(_ event: SSEEvent, _ emit: (ChatStreamEvent) -> Void) throws {
        if event.isDone {
            isDone = true
            return
        }
        let chunk: ChatCompletionChunk
        do {
            chunk = try event.data.withUnsafeBytes { raw throws(OpenAIError) in try ChatCompletionChunk(jsonBytes: raw) }
        } catch {
            throw UpstreamFault.malformedResponse("stream event \(forwardedChunks + 1) is not a chat completion chunk")
        }
        if let error = chunk.extra["error"] {
            // `data: {"error":{…}}` mid-stream: the upstream gave up.
            let message = error["message"]?.stringValue ?? error.stringValue ?? "unknown error"
            throw UpstreamFault.streamError(
                message: UpstreamExchange.redactingKeys(in: String(message.prefix(300)), apiKey: nil),
                afterChunks: forwardedChunks)
        }
        if chunk.choices.contains(where: { $0.finishReason != nil }) { sawFinishReason = true }
        var forwarded = chunk
        if let usage = chunk.usage {
            if !usageReported {
                usageReported = true
                emit(.usage(usage))
            }
            if !forwardUsage {
                if chunk.choices.isEmpty { return }
                forwarded.usage = nil
            }
        }
        forwardedChunks += 1
        emit(.chunk(forwarded))
    }

    /// The body ended: fine after `[DONE]`, or after a finish reason with no half-received event; else broken.
    mutating func finish() throws {
        let hadPartial = parser.finish()
        if isDone { return }
        if sawFinishReason && !hadPartial { return }
        throw UpstreamFault.brokenStream(afterChunks: forwardedChunks)
    }
}
