import Hummingbird
import Logging
import NIOCore
import Synchronization

/// One request as the test server saw it.
struct SeenRequest: Sendable {
    var method: String
    var path: String
    var range: String?
    var authorization: String?
    /// Body bytes the answer carried (or was cut after).
    var bytesSent = 0
}

/// How the test server answers one request.
enum Reply: Sendable {
    /// The payload: `Range: bytes=N-` gets a 206 when `honoursRange`; `cutAfter` drops the connection
    /// after that many body bytes (the headers still announce the whole length).
    case file([UInt8], headers: [String: String] = [:], honoursRange: Bool = true, cutAfter: Int? = nil)
    case redirect(String, status: Int = 302, headers: [String: String] = [:])
    case status(Int, headers: [String: String] = [:])
}

/// A scripted Hugging Face style file server on 127.0.0.1, port 0. The script gets each request and how
/// many requests with the same method and path came before it.
final class HubServer: Sendable {
    let port: Int
    private let log: RequestLog
    private let task: Task<Void, any Error>

    var baseURL: String { "http://127.0.0.1:\(port)" }
    var requests: [SeenRequest] { log.all }

    private init(port: Int, log: RequestLog, task: Task<Void, any Error>) {
        self.port = port
        self.log = log
        self.task = task
    }

    static func start(_ script: @escaping @Sendable (SeenRequest, Int) -> Reply) async throws -> HubServer {
        let log = RequestLog()
        let (ports, portSink) = AsyncStream<Int>.makeStream()
        let responder = CallbackResponder<BasicRequestContext> { request, _ in
            var seen = SeenRequest(
                method: request.method.rawValue, path: request.uri.path,
                range: request.headers[.range], authorization: request.headers[.authorization])
            let index = log.count(method: seen.method, path: seen.path)
            let (response, bytes) = Self.response(to: script(seen, index), request: seen)
            seen.bytesSent = bytes
            log.append(seen)
            return response
        }
        let app = Application(
            responder: responder,
            configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in
                portSink.yield(channel.localAddress?.port ?? 0)
                portSink.finish()
            },
            logger: Logger(label: "hub-server") { _ in SwiftLogNoOpLogHandler() }
        )
        let task = Task { try await app.runService(gracefulShutdownSignals: []) }
        var port = 0
        for await bound in ports { port = bound }
        return HubServer(port: port, log: log, task: task)
    }

    func stop() async {
        task.cancel()
        _ = await task.result
    }

    private static func response(to reply: Reply, request: SeenRequest) -> (Response, Int) {
        switch reply {
        case .status(let code, let headers):
            var fields = fields(headers)
            fields[.contentLength] = "0"
            return (Response(status: .init(code: code), headers: fields), 0)
        case .redirect(let location, let code, let headers):
            var fields = fields(headers)
            fields[.location] = location
            fields[.contentLength] = "0"
            return (Response(status: .init(code: code), headers: fields), 0)
        case .file(let payload, let headers, let honoursRange, let cutAfter):
            var fields = fields(headers)
            var start = 0
            var status = HTTPResponse.Status.ok
            if honoursRange, let range = request.range, range.hasPrefix("bytes="), range.hasSuffix("-"),
                let from = Int(range.dropFirst(6).dropLast()), from < payload.count
            {
                start = from
                status = .partialContent
                fields[.contentRange] = "bytes \(from)-\(payload.count - 1)/\(payload.count)"
            }
            let body = Array(payload[start...])
            fields[.contentLength] = "\(body.count)"
            if request.method == "HEAD" {
                return (Response(status: status, headers: fields), 0)
            }
            if let cutAfter {
                let sent = min(cutAfter, body.count)
                let cut = ResponseBody { writer in
                    try await writer.write(ByteBuffer(bytes: body[..<sent]))
                    throw ConnectionCut()
                }
                return (Response(status: status, headers: fields, body: cut), sent)
            }
            return (Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: body))), body.count)
        }
    }

    private static func fields(_ headers: [String: String]) -> HTTPFields {
        var fields = HTTPFields()
        for (name, value) in headers {
            fields[.init(name)!] = value
        }
        return fields
    }
}

/// Thrown inside a response body to drop the connection half-way.
struct ConnectionCut: Error {}

final class RequestLog: Sendable {
    private let entries = Mutex<[SeenRequest]>([])

    func append(_ request: SeenRequest) { entries.withLock { $0.append(request) } }
    var all: [SeenRequest] { entries.withLock { $0 } }

    func count(method: String, path: String) -> Int {
        entries.withLock { $0.filter { $0.method == method && $0.path == path }.count }
    }
}
