public import AsyncHTTPClient
public import Hummingbird
public import Logging
import NIOCore
import NIOHTTP1

/// The floor the gateway's benchmark measures phigate against (`scripts/bench-gateway.sh`): the same server and
/// client libraries, configured as the gateway configures them, doing nothing but forwarding. One route,
/// `POST /v1/chat/completions`, sends the request body to `upstream` through `httpClient` and answers with the
/// upstream's status, content type and body. No authentication, parsing, routing, metrics or outcome log, so the
/// difference between the two is what phigate itself costs per request.
///
/// - Parameters:
///   - upstream: the full URL every request is forwarded to.
///   - maxBodySize: request bodies above it answer 413.
/// - Throws: when `upstream` is not a URL the client accepts.
public func buildReferenceProxy(
    host: String,
    port: Int,
    upstream: String,
    maxBodySize: Int = 1 << 20,
    httpClient: HTTPClient,
    logger: Logger,
    onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }
) throws -> some ApplicationProtocol {
    let router = Router()
    // The URL parsed once, as phigate's backends keep a request template (parsing it per request cost tens of µs).
    let template = try HTTPClient.Request(url: upstream, method: .POST)
    router.post("/v1/chat/completions") { request, _ -> Response in
        let body = try await request.body.collect(upTo: maxBodySize)
        var forwarded = template
        forwarded.headers.replaceOrAdd(name: "content-type", value: request.headers[.contentType] ?? "application/json")
        forwarded.body = .byteBuffer(body)
        // The callback API, the whole answer collected on an event loop (phigate's backends use a delegate too).
        let answer = try await httpClient.execute(request: forwarded, deadline: .now() + .seconds(30), logger: logger).get()
        var headers = HTTPFields()
        headers[.contentType] = answer.headers.first(name: "content-type") ?? "application/json"
        return Response(
            status: .init(code: Int(answer.status.code)), headers: headers,
            body: .init(byteBuffer: answer.body ?? ByteBuffer()))
    }
    return Application(
        router: router,
        configuration: ApplicationConfiguration(address: .hostname(host, port: port), serverName: "phigate-reference"),
        onServerRunning: onServerRunning,
        logger: logger
    )
}
