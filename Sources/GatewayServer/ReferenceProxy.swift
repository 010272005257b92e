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
public func buildReferenceProxy(
    host: String,
    port: Int,
    upstream: String,
    maxBodySize: Int = 1 << 20,
    httpClient: HTTPClient,
    logger: Logger,
    onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }
) -> some ApplicationProtocol {
    let router = Router()
    router.post("/v1/chat/completions") { request, _ -> Response in
        let body = try await request.body.collect(upTo: maxBodySize)
        var forwarded = HTTPClientRequest(url: upstream)
        forwarded.method = .POST
        forwarded.headers.add(name: "content-type", value: request.headers[.contentType] ?? "application/json")
        forwarded.body = .bytes(body)
        let answer = try await httpClient.execute(forwarded, timeout: .seconds(30), logger: logger)
        let answerBody = try await answer.body.collect(upTo: 16 << 20)
        var headers = HTTPFields()
        headers[.contentType] = answer.headers.first(name: "content-type") ?? "application/json"
        return Response(
            status: .init(code: Int(answer.status.code)), headers: headers, body: .init(byteBuffer: answerBody))
    }
    return Application(
        router: router,
        configuration: ApplicationConfiguration(address: .hostname(host, port: port), serverName: "phigate-reference"),
        onServerRunning: onServerRunning,
        logger: logger
    )
}
