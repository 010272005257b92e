public import NIOCore
import NIOConcurrencyHelpers
import NIOHTTP1
public import NIOPosix

/// One request as the fake upstream received it.
public struct RecordedRequest: Sendable {
    public var method: String
    /// The request target (path and query).
    public var path: String
    public var headers: [(String, String)]
    public var body: [UInt8]

    public var bodyText: String { String(decoding: body, as: UTF8.self) }

    /// The first value of a header (case-insensitive name).
    public func header(_ name: String) -> String? {
        headers.first { $0.0.lowercased() == name.lowercased() }?.1
    }
}

/// How the fake upstream's answer to one request ended.
public enum RequestOutcome: Sendable, Equatable {
    /// The whole scripted response was written (or the scripted close / reset happened).
    case completed
    /// The peer closed the connection before the scripted response was done, after `afterChunks` body chunks.
    case peerClosed(afterChunks: Int)
}

/// A scriptable HTTP/1.1 server on loopback standing in for OpenAI-compatible and Anthropic upstreams.
///
/// Each request is recorded, then answered by the script: a `FakeResponse` that can delay, stream
/// with pacing, cut, reset or stall. Start with `start(script:)`, stop with `shutdown()`.
public final class FakeUpstream: Sendable {
    public typealias Script = @Sendable (RecordedRequest) -> FakeResponse
    typealias Connection = NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>

    private struct State {
        var script: Script
        /// Off for long runs (soak, benchmarks): a spy that keeps every request grows without bound.
        var recordsRequests = true
        var requestCount = 0
        var requests: [RecordedRequest] = []
        var outcomes: [Int: RequestOutcome] = [:]
        var openConnections: [ObjectIdentifier: any Channel] = [:]
        var acceptedConnections = 0
    }

    private let state: NIOLockedValueBox<State>
    private let serverChannel: any Channel
    private let acceptTask: NIOLockedValueBox<Task<Void, Never>?>
    /// The bound port (the OS picks one when started with port 0).
    public let port: Int
    public let host: String

    /// `http://host:port`, no trailing slash.
    public var baseURL: String { "http://\(host):\(port)" }

    private init(state: NIOLockedValueBox<State>, serverChannel: any Channel, host: String, port: Int) {
        self.state = state
        self.serverChannel = serverChannel
        self.host = host
        self.port = port
        self.acceptTask = NIOLockedValueBox(nil)
    }

    /// Binds and starts serving. `port: 0` lets the OS pick a free port. With `recordsRequests: false` nothing is
    /// kept per request (`requests` stays empty), for soak runs and benchmarks.
    public static func start(
        host: String = "127.0.0.1",
        port: Int = 0,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        recordsRequests: Bool = true,
        script: @escaping Script
    ) async throws -> FakeUpstream {
        let server = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(.backlog, value: 256)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .bind(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    return try Connection(wrappingChannelSynchronously: channel)
                }
            }
        let boundPort = server.channel.localAddress?.port ?? port
        let upstream = FakeUpstream(
            state: NIOLockedValueBox(State(script: script, recordsRequests: recordsRequests)),
            serverChannel: server.channel,
            host: host,
            port: boundPort
        )
        let task = Task<Void, Never> {
            _ = try? await server.executeThenClose { inbound in
                await withDiscardingTaskGroup { group in
                    do {
                        for try await connection in inbound {
                            group.addTask { await upstream.serve(connection) }
                        }
                    } catch {
                        // The listening socket closed: stop accepting.
                    }
                }
            }
        }
        upstream.acceptTask.withLockedValue { $0 = task }
        return upstream
    }

    /// A fake that answers every request with the same response.
    public static func start(
        host: String = "127.0.0.1",
        port: Int = 0,
        always response: FakeResponse
    ) async throws -> FakeUpstream {
        try await start(host: host, port: port) { _ in response }
    }

    /// Stops accepting, closes every open connection and waits for the server task to end.
    public func shutdown() async {
        try? await serverChannel.close()
        let open = state.withLockedValue { Array($0.openConnections.values) }
        for channel in open { channel.close(promise: nil) }
        let task = acceptTask.withLockedValue { $0 }
        await task?.value
    }

    /// Serves until the task is cancelled, then shuts down (for the standalone command).
    public func runUntilCancelled() async {
        await withTaskCancellationHandler {
            let task = acceptTask.withLockedValue { $0 }
            await task?.value
        } onCancel: {
            serverChannel.close(promise: nil)
            let open = state.withLockedValue { Array($0.openConnections.values) }
            for channel in open { channel.close(promise: nil) }
        }
    }

    // MARK: - Script and observations

    /// Replaces the script for the following requests.
    public func setScript(_ script: @escaping Script) {
        state.withLockedValue { $0.script = script }
    }

    /// Every request received so far, in arrival order.
    public var requests: [RecordedRequest] { state.withLockedValue { $0.requests } }

    /// How many TCP connections the fake accepted so far.
    public var acceptedConnections: Int { state.withLockedValue { $0.acceptedConnections } }

    /// The outcome of the request at `index` (arrival order), once its answer is over.
    public func outcome(ofRequest index: Int) -> RequestOutcome? {
        state.withLockedValue { $0.outcomes[index] }
    }

    /// Waits until the request at `index` has an outcome, polling every 10 ms up to `timeout`.
    public func waitForOutcome(ofRequest index: Int, timeout: Duration = .seconds(60)) async -> RequestOutcome? {
        await Self.poll(for: timeout) { outcome(ofRequest: index) }
    }

    /// Waits until at least `count` requests arrived, polling every 10 ms up to `timeout`.
    public func waitForRequests(_ count: Int, timeout: Duration = .seconds(60)) async -> [RecordedRequest] {
        await Self.poll(for: timeout) {
            let seen = requests
            return seen.count >= count ? seen : nil
        } ?? requests
    }

    /// Polls `probe` every 10 ms, `timeout` / 10 ms times. Counting polls instead of reading the clock matters: in a
    /// parallel test run on two cores, CPU-bound tests can hold the cooperative pool for a minute, and a clock-based
    /// wait then wakes past its deadline and gives up before the task that records the result ever ran (seen in CI).
    private static func poll<T>(for timeout: Duration, _ probe: () -> T?) async -> T? {
        let polls = max(1, Int(timeout / .milliseconds(10)))
        for _ in 0..<polls {
            if let value = probe() { return value }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return probe()
    }

    // MARK: - Serving

    private func serve(_ connection: Connection) async {
        let channel = connection.channel
        let key = ObjectIdentifier(channel)
        state.withLockedValue {
            $0.openConnections[key] = channel
            $0.acceptedConnections += 1
        }
        defer { _ = state.withLockedValue { $0.openConnections.removeValue(forKey: key) } }
        do {
            try await connection.executeThenClose { inbound, outbound in
                var head: HTTPRequestHead?
                var body = ByteBuffer()
                for try await part in inbound {
                    switch part {
                    case .head(let requestHead):
                        head = requestHead
                        body.clear()
                    case .body(var chunk):
                        body.writeBuffer(&chunk)
                    case .end:
                        guard let requestHead = head else { continue }
                        head = nil
                        let request = RecordedRequest(
                            method: requestHead.method.rawValue,
                            path: requestHead.uri,
                            headers: requestHead.headers.map { ($0.name, $0.value) },
                            body: Array(body.readableBytesView)
                        )
                        let (index, response) = state.withLockedValue { state in
                            state.requestCount += 1
                            if state.recordsRequests { state.requests.append(request) }
                            return (state.requestCount - 1, state.script(request))
                        }
                        let outcome = try await answer(
                            response,
                            to: requestHead,
                            on: channel,
                            outbound: outbound
                        )
                        state.withLockedValue { if $0.recordsRequests { $0.outcomes[index] = outcome.outcome } }
                        if !outcome.keepAlive { return }
                    }
                }
            }
        } catch {
            // Peer went away or the server is shutting down.
        }
    }

    private struct AnswerResult {
        var outcome: RequestOutcome
        var keepAlive: Bool
    }

    private func answer(
        _ response: FakeResponse,
        to requestHead: HTTPRequestHead,
        on channel: any Channel,
        outbound: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>
    ) async throws -> AnswerResult {
        if response.delayBeforeHeaders > .zero {
            try await Task.sleep(for: response.delayBeforeHeaders)
        }
        guard channel.isActive else { return AnswerResult(outcome: .peerClosed(afterChunks: 0), keepAlive: false) }
        switch response.action {
        case .reset:
            await Self.reset(channel)
            return AnswerResult(outcome: .completed, keepAlive: false)
        case .stall:
            await Self.waitForClose(channel)
            return AnswerResult(outcome: .peerClosed(afterChunks: 0), keepAlive: false)
        case .respond(let status, let extraHeaders, let body):
            var headers = HTTPHeaders()
            for (name, value) in extraHeaders { headers.add(name: name, value: value) }
            let keepAlive = requestHead.isKeepAlive
            if !keepAlive { headers.replaceOrAdd(name: "connection", value: "close") }
            let responseHead = HTTPResponseHead(
                version: requestHead.version,
                status: HTTPResponseStatus(statusCode: status),
                headers: headers
            )
            switch body {
            case .full(let bytes):
                var head = responseHead
                head.headers.replaceOrAdd(name: "content-length", value: String(bytes.count))
                try await outbound.write(.head(head))
                try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: bytes))))
                try await outbound.write(.end(nil))
                return AnswerResult(outcome: .completed, keepAlive: keepAlive)
            case .stream(let chunks, let interval, let ending):
                try await outbound.write(.head(responseHead))
                if response.delayBeforeFirstByte > .zero {
                    try await Task.sleep(for: response.delayBeforeFirstByte)
                }
                for (index, chunk) in chunks.enumerated() {
                    if index > 0, interval > .zero { try await Task.sleep(for: interval) }
                    guard channel.isActive else {
                        return AnswerResult(outcome: .peerClosed(afterChunks: index), keepAlive: false)
                    }
                    do {
                        try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: chunk))))
                    } catch {
                        return AnswerResult(outcome: .peerClosed(afterChunks: index), keepAlive: false)
                    }
                }
                switch ending {
                case .complete:
                    try await outbound.write(.end(nil))
                    return AnswerResult(outcome: .completed, keepAlive: keepAlive)
                case .close:
                    try? await channel.close()
                    return AnswerResult(outcome: .completed, keepAlive: false)
                case .reset:
                    await Self.reset(channel)
                    return AnswerResult(outcome: .completed, keepAlive: false)
                case .stall:
                    await Self.waitForClose(channel)
                    return AnswerResult(outcome: .peerClosed(afterChunks: chunks.count), keepAlive: false)
                }
            }
        }
    }

    /// SO_LINGER {on, 0} then close: the kernel sends RST instead of FIN.
    private static func reset(_ channel: any Channel) async {
        if let provider = channel as? any SocketOptionProvider {
            try? await provider.setSoLinger(linger(l_onoff: 1, l_linger: 0)).get()
        }
        try? await channel.close()
    }

    private static func waitForClose(_ channel: any Channel) async {
        await withTaskCancellationHandler {
            try? await channel.closeFuture.get()
        } onCancel: {
            channel.close(promise: nil)
        }
    }
}
