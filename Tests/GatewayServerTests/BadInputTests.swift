import AsyncHTTPClient
import Foundation
import Hummingbird
import PhigateConfig
import Testing

@Suite("Bad input gets a clean 4xx and the server keeps serving")
struct BadInputTests {
    /// Sends `body` as raw bytes with `contentType`.
    private func post(_ gateway: GatewayHarness, bytes: [UInt8], contentType: String? = "application/json") async throws -> Reply {
        var request = HTTPClientRequest(url: gateway.baseURL + "/v1/chat/completions")
        request.method = .POST
        for (name, value) in GatewayHarness.authorized { request.headers.add(name: name, value: value) }
        if let contentType { request.headers.add(name: "content-type", value: contentType) }
        request.body = .bytes(ByteBuffer(bytes: bytes))
        let response = try await gateway.client.execute(request, timeout: .seconds(30))
        let body = try await response.body.collect(upTo: 1 << 20)
        return Reply(status: Int(response.status.code), headers: response.headers.map { ($0.name, $0.value) }, body: String(buffer: body))
    }

    private func expectCleanError(_ reply: Reply, status: Int, _ comment: String) {
        #expect(reply.status == status, "\(comment): \(reply.status) \(reply.body.prefix(300))")
        #expect(reply.errorObject["message"] is String, "\(comment)")
        #expect(reply.header("content-type")?.hasPrefix("application/json") == true, "\(comment)")
    }

    static let cases: [(String, [UInt8])] = [
        ("invalid UTF-8 in a string", Array(#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":""#.utf8) + [0xC3, 0x28, 0xFF] + Array(#""}]}"#.utf8)),
        ("invalid UTF-8 outside strings", [0xFF, 0xFE] + Array(chatBody().utf8)),
        ("a huge integer", Array(#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"x"}],"max_tokens":123456789012345678901234567890}"#.utf8)),
        ("a number beyond double", Array(#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"x"}],"temperature":1e999}"#.utf8)),
        ("nesting 10,000 deep", Array((#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"x"}],"x":"# + String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000) + "}").utf8)),
        ("duplicate keys", Array(#"{"model":"gpt-4o-mini","model":"claude-3-5-sonnet","messages":[{"role":"user","content":"x"}]}"#.utf8)),
        ("an empty body", []),
        ("a JSON array", Array("[1,2,3]".utf8)),
    ]

    @Test("malformed bodies are 400s", arguments: Self.cases.indices)
    func malformedBodies(index: Int) async throws {
        let (name, bytes) = Self.cases[index]
        try await GatewayHarness.run { gateway in
            let reply = try await post(gateway, bytes: bytes)
            expectCleanError(reply, status: 400, name)
            #expect(gateway.upstream.requests.isEmpty)
            #expect(try await gateway.chat(chatBody()).status == 200, "served after \(name)")
        }
    }

    @Test("a wrong content type is a 415; JSON types with parameters and a missing type are accepted")
    func contentTypes() async throws {
        try await GatewayHarness.run { gateway in
            for type in ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/xml"] {
                let reply = try await post(gateway, bytes: Array(chatBody().utf8), contentType: type)
                expectCleanError(reply, status: 415, type)
                #expect((reply.errorObject["message"] as? String)?.contains("application/json") == true)
            }
            for type in ["application/json; charset=utf-8", "Application/JSON", "application/vnd.api+json", nil] {
                let reply = try await post(gateway, bytes: Array(chatBody().utf8), contentType: type)
                #expect(reply.status == 200, "\(type ?? "no content-type")")
            }
        }
    }

    @Test("a slow body (slowloris) gets 408 or a closed connection after body_timeout, and others are served meanwhile")
    func slowBody() async throws {
        try await GatewayHarness.run(configure: { $0.limits = LimitsConfig(bodyTimeout: .milliseconds(700)) }) { gateway in
            try await slowBodyScenario(gateway)
        }
    }

    private func slowBodyScenario(_ gateway: GatewayHarness) async throws {
        do {
            var request = HTTPClientRequest(url: gateway.baseURL + "/v1/chat/completions")
            request.method = .POST
            for (name, value) in GatewayHarness.authorized { request.headers.add(name: name, value: value) }
            request.headers.add(name: "content-type", value: "application/json")
            let (stream, continuation) = AsyncStream.makeStream(of: ByteBuffer.self)
            request.body = .stream(stream, length: .known(Int64(4096)))
            continuation.yield(ByteBuffer(string: #"{"model":"gpt-4o-mini","#))  // then nothing: the client stalls
            let client = gateway.client
            let slow = Task { () async -> Result<Int, any Error> in
                do {
                    let response = try await client.execute(request, timeout: .seconds(20))
                    return .success(Int(response.status.code))
                } catch {
                    return .failure(error)
                }
            }
            // Meanwhile the gateway answers others.
            for _ in 0..<3 { #expect(try await gateway.chat(chatBody()).status == 200) }
            let result = await slow.value
            continuation.finish()
            switch result {
            case .success(let status): #expect(status == 408)
            case .failure(let error):
                // The server closed the connection; the client's own deadline is not an acceptable way out.
                let isDeadline = (error as? HTTPClientError) == .deadlineExceeded
                #expect(!isDeadline, "the gateway never gave up on the slow body: \(error)")
            }
            #expect(try await gateway.chat(chatBody(stream: true)).status == 200)
            #expect(gateway.upstream.requests.count == 4)
        }
    }
}
