public import AsyncHTTPClient
public import NIOCore
import NIOHTTP1
import NIOPosix

/// A second floor for the gateway's benchmark (`scripts/bench-gateway.sh`): the same AsyncHTTPClient configuration
/// behind a bare SwiftNIO HTTP/1 server instead of Hummingbird. A channel handler collects the request body and
/// forwards it through `httpClient`'s callback API, its delegate on the connection's event loop (no task, no
/// thread hop), and writes the upstream's status, content type and body back. No authentication, parsing, routing,
/// metrics or outcome log. Measured beside `buildReferenceProxy`, it separates what the HTTP server layer costs
/// from what the HTTP client costs on the machine.
///
/// - Returns: the bound server channel (its `localAddress` has the chosen port); close it to stop.
/// - Throws: when `upstream` is not a URL the client accepts, or binding fails.
public func startNIOReferenceProxy(
    host: String,
    port: Int,
    upstream: String,
    maxBodySize: Int = 1 << 20,
    httpClient: HTTPClient
) async throws -> any Channel {
    // The URL parsed once, as phigate's backends keep a request template.
    let template = try HTTPClient.Request(url: upstream, method: .POST)
    // The client's event loops (NIO's singleton group under `phigate dev reference-proxy`, as under serve).
    return try await ServerBootstrap(group: httpClient.eventLoopGroup)
        .serverChannelOption(.backlog, value: 256)
        .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
        .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
        .childChannelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                try channel.pipeline.syncOperations.addHandler(
                    ForwardingHandler(client: httpClient, template: template, maxBodySize: maxBodySize))
            }
        }
        .bind(host: host, port: port)
        .get()
}

/// One connection's requests, one at a time (HTTPServerPipelineHandler holds pipelined ones back).
private final class ForwardingHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let client: HTTPClient
    private let template: HTTPClient.Request
    private let maxBodySize: Int
    private var body: ByteBuffer?
    private var contentType = "application/json"
    private var keepAlive = true
    private var tooLarge = false

    init(client: HTTPClient, template: HTTPClient.Request, maxBodySize: Int) {
        self.client = client
        self.template = template
        self.maxBodySize = maxBodySize
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            keepAlive = head.isKeepAlive
            contentType = head.headers.first(name: "content-type") ?? "application/json"
            tooLarge = false
            body = context.channel.allocator.buffer(capacity: 0)
        case .body(var part):
            if tooLarge { return }
            if (body?.readableBytes ?? 0) + part.readableBytes > maxBodySize {
                tooLarge = true
                body = nil
                return
            }
            body?.writeBuffer(&part)
        case .end:
            if tooLarge {
                respond(context: context, status: .payloadTooLarge, contentType: "text/plain", body: nil)
                return
            }
            forward(context: context, body: body ?? ByteBuffer())
            body = nil
        }
    }

    private func forward(context: ChannelHandlerContext, body: ByteBuffer) {
        var request = template
        request.headers.replaceOrAdd(name: "content-type", value: contentType)
        request.body = .byteBuffer(body)
        let loop = context.eventLoop
        let bound = NIOLoopBound((self, context), eventLoop: loop)
        client.execute(request: request, eventLoop: .delegate(on: loop)).whenComplete { result in
            let (handler, context) = bound.value
            switch result {
            case .success(let answer):
                handler.respond(
                    context: context, status: answer.status,
                    contentType: answer.headers.first(name: "content-type") ?? "application/json", body: answer.body)
            case .failure:
                handler.respond(context: context, status: .badGateway, contentType: "text/plain", body: nil)
            }
        }
    }

    private func respond(context: ChannelHandlerContext, status: HTTPResponseStatus, contentType: String, body: ByteBuffer?) {
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: contentType)
        headers.add(name: "content-length", value: String(body?.readableBytes ?? 0))
        if !keepAlive { headers.add(name: "connection", value: "close") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
        if let body, body.readableBytes > 0 { context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil) }
        guard !keepAlive else {
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            return
        }
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in bound.value.close(promise: nil) }
    }
}
