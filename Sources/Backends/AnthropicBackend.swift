public import AsyncHTTPClient
import Foundation
public import Logging
import NIOCore
import NIOFoundationCompat
public import OpenAIWire
public import PhigateConfig

/// Anthropic's Messages API (`POST {base_url}/messages`), translated to and from OpenAI chat completions,
/// streaming events included.
public struct AnthropicBackend: ChatBackend, CustomStringConvertible {
    /// Sent as `anthropic-version` unless the backend's `headers` set it.
    public static let defaultVersion = "2023-06-01"

    public let name: String
    public var kind: BackendKind { .anthropic }
    private let config: BackendConfig
    private let apiKey: Secret?
    private let httpClient: HTTPClient
    private let url: String

    /// `apiKey` is sent as `x-api-key`; `httpClient` is the gateway's one shared client.
    public init(config: BackendConfig, apiKey: Secret?, httpClient: HTTPClient) {
        self.name = config.name
        self.config = config
        self.apiKey = apiKey
        self.httpClient = httpClient
        self.url = config.baseURL + "/messages"
    }

    public var description: String { "AnthropicBackend(\(name), \(config.baseURL))" }

    public func complete(_ request: ChatCompletionRequest, upstreamModel: String, logger: Logger) async throws
        -> ChatCompletionResponse
    {
        let upstreamRequest = try makeRequest(request, upstreamModel: upstreamModel, streaming: false)
        let client = httpClient
        let apiKey = apiKey
        let deadline = NIODeadline.now() + .milliseconds(config.timeouts.total.milliseconds + 1000)
        return try await UpstreamExchange.run(timeouts: config.timeouts) { signal in
            let response = try await client.execute(upstreamRequest, deadline: deadline, logger: logger)
            signal.markArrived()
            guard (200..<300).contains(response.status.code) else {
                throw await UpstreamExchange.statusFault(response, apiKey: apiKey)
            }
            let body = try await response.body.collect(upTo: UpstreamExchange.maxResponseBytes)
            let json: JSONValue
            do {
                json = try body.withUnsafeReadableBytes { raw throws(JSONParseError) in try JSONParser.parse(raw) }
            } catch {
                throw UpstreamFault.malformedResponse("messages body is not the expected JSON")
            }
            let message = try MessagesResponse(json: json)
            return AnthropicTranslation.chatResponse(from: message, created: Self.now())
        }
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
                    var parser = SSEParser()
                    var translator = AnthropicStreamTranslator(created: Self.now(), forwardUsage: forwardUsage)
                    var events: [SSEEvent] = []
                    for try await piece in response.body {
                        signal.markArrived()
                        events.removeAll(keepingCapacity: true)
                        piece.withUnsafeReadableBytes { bytes in parser.feed(bytes) { events.append($0) } }
                        if parser.bufferedByteCount > UpstreamExchange.maxEventBytes {
                            throw UpstreamFault.malformedResponse("stream event larger than \(UpstreamExchange.maxEventBytes) bytes")
                        }
                        for event in events where !translator.isDone {
                            try translator.handle(eventData: event.data) { continuation.yield($0) }
                        }
                        if translator.isDone { break }
                    }
                    _ = parser.finish()
                    try translator.finish()
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
        let messages = try AnthropicTranslation.messagesRequest(
            from: request, upstreamModel: upstreamModel, streaming: streaming)
        var upstream = HTTPClientRequest(url: url)
        upstream.method = .POST
        var headers = UpstreamExchange.baseHeaders(config: config, streaming: streaming)
        if !headers.contains(name: "anthropic-version") { headers.add(name: "anthropic-version", value: Self.defaultVersion) }
        if let apiKey { headers.replaceOrAdd(name: "x-api-key", value: apiKey.value) }
        upstream.headers = headers
        upstream.body = .bytes(ByteBuffer(bytes: messages.jsonBytes()))
        return upstream
    }

    static func now() -> Int { Int(Date().timeIntervalSince1970) }
}
