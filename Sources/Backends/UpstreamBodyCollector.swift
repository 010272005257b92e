import AsyncHTTPClient
import Foundation
public import Logging
public import NIOCore
import NIOHTTP1
public import OpenAIWire
import Synchronization

/// A non-streamed completion as the upstream sent it: the JSON body to pass through as is, and the same body
/// decoded (once, with the hand-rolled parser) for usage, accounting and outcome logging.
public struct RawChatCompletion: Sendable {
    public var body: ByteBuffer
    public var response: ChatCompletionResponse
    public var usage: Usage? { response.usage }

    public init(body: ByteBuffer, response: ChatCompletionResponse) {
        self.body = body
        self.response = response
    }

    /// Encodes a decoded completion (backends that translate, e.g. Anthropic, or local models).
    public init(_ response: ChatCompletionResponse) {
        self.body = ByteBuffer(bytes: response.jsonBytes())
        self.response = response
    }
}

extension ChatBackend {
    /// Default: `complete`, encoded with the hand-rolled writer.
    public func completeRaw(_ request: ChatCompletionRequest, upstreamModel: String, logger: Logger) async throws
        -> RawChatCompletion
    {
        RawChatCompletion(try await complete(request, upstreamModel: upstreamModel, logger: logger))
    }
}

/// The hot path of a non-streamed exchange: AsyncHTTPClient's delegate API, no task group, timeouts as event-loop
/// timers. The delegate runs on a chosen event loop but the connection may be any pooled one: requiring the
/// connection on that loop too (`.delegateAndChannel`) made the pool open and close a new upstream connection for
/// most requests under concurrency (measured: 10,779 new connections for 14k requests at 64 concurrent; none now).
enum UpstreamCall {
    struct Answer: Sendable {
        var status: HTTPResponseStatus
        var body: ByteBuffer
        /// The head's fields of a non-2xx answer (for `Retry-After`); nil for 2xx.
        var headers: HTTPHeaders? = nil
    }

    /// Sends `request` and collects the answer (2xx bodies up to `UpstreamExchange.maxResponseBytes`, others up to
    /// `maxErrorBytes`). The first-byte timeout covers connect and the wait for the response head; `deadline`
    /// the whole exchange. Errors are mapped to `UpstreamFault` (or `CancellationError`).
    static func collect(
        client: HTTPClient,
        request: HTTPClient.Request,
        firstByte: Duration,
        deadline: NIODeadline,
        logger: Logger
    ) async throws -> Answer {
        let eventLoop = client.eventLoopGroup.any()
        let collector = UpstreamBodyCollector()
        let task = client.execute(
            request: request,
            delegate: collector,
            eventLoop: .delegate(on: eventLoop),
            deadline: deadline,
            logger: logger
        )
        let timer = eventLoop.scheduleTask(in: .nanoseconds(firstByte.nanoseconds)) {
            if !collector.sawHead { task.fail(reason: UpstreamFault.timeout(.firstByte)) }
        }
        defer { timer.cancel() }
        do {
            return try await withTaskCancellationHandler {
                try await task.futureResult.get()
            } onCancel: {
                task.cancel()
            }
        } catch {
            throw UpstreamExchange.fault(from: error)
        }
    }
}

extension Duration {
    /// Whole nanoseconds, saturating (for NIO's `TimeAmount`).
    public var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        let (product, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return seconds < 0 ? .min : .max }
        return product + attoseconds / 1_000_000_000
    }
}

/// Collects one response on its event loop. State is guarded by a mutex (uncontended: AHC calls the delegate on
/// its event loop, the first-byte timer runs on the same loop).
final class UpstreamBodyCollector: HTTPClientResponseDelegate {
    typealias Response = UpstreamCall.Answer

    private struct State {
        var status: HTTPResponseStatus?
        var headers: HTTPHeaders?
        var body = ByteBuffer()
        var limit = UpstreamExchange.maxResponseBytes
    }

    private let state = Mutex(State())

    var sawHead: Bool { state.withLock { $0.status != nil } }

    func didReceiveHead(task: HTTPClient.Task<Response>, _ head: HTTPResponseHead) -> EventLoopFuture<Void> {
        state.withLock { state in
            state.status = head.status
            if !(200..<300).contains(head.status.code) {
                state.limit = UpstreamExchange.maxErrorBytes
                state.headers = head.headers
            }
        }
        return task.eventLoop.makeSucceededVoidFuture()
    }

    func didReceiveBodyPart(task: HTTPClient.Task<Response>, _ buffer: ByteBuffer) -> EventLoopFuture<Void> {
        let tooLarge: Bool = state.withLock { state in
            if state.body.readableBytes + buffer.readableBytes > state.limit {
                // Error bodies are only summarized: keep the start, drop the rest.
                return (200..<300).contains(state.status?.code ?? 200)
            }
            var piece = buffer
            if state.body.readableBytes == 0 {
                state.body = piece
            } else {
                state.body.writeBuffer(&piece)
            }
            return false
        }
        if tooLarge {
            return task.eventLoop.makeFailedFuture(
                UpstreamFault.malformedResponse("chat completion body larger than \(UpstreamExchange.maxResponseBytes) bytes"))
        }
        return task.eventLoop.makeSucceededVoidFuture()
    }

    func didFinishRequest(task: HTTPClient.Task<Response>) throws -> Response {
        state.withLock { state in
            Response(status: state.status ?? .ok, body: state.body, headers: state.headers)
        }
    }
}
