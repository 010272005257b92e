import AsyncHTTPClient
import FakeUpstream
import Foundation
import GatewayServer
import Hummingbird
import HummingbirdTesting
import NIOCore
import PhigateConfig
import Testing

/// The benchmark's floor really forwards: the upstream's answer, status included, comes back unchanged.
@Suite struct ReferenceProxyTests {
    @Test func forwardsBodyAndStatus() async throws {
        let upstream = try await withUpstreamAndClient { upstream, client in
            let (logger, _) = CapturingLogHandler.makeLogger()
            let app = try buildReferenceProxy(
                host: "127.0.0.1", port: 0, upstream: upstream.baseURL + "/v1/chat/completions", httpClient: client,
                logger: logger)
            try await app.test(.live) { testClient in
                let ok = try await testClient.execute(
                    uri: "/v1/chat/completions", method: .post, headers: [.contentType: "application/json"],
                    body: ByteBuffer(string: #"{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}"#))
                #expect(ok.status == .ok)
                let answer = try JSONSerialization.jsonObject(with: Data(buffer: ok.body)) as? [String: Any]
                #expect(answer?["object"] as? String == "chat.completion")
                #expect(ok.headers[.contentType]?.hasPrefix("application/json") == true)

                let failing = try await testClient.execute(
                    uri: "/v1/chat/completions", method: .post, headers: [.contentType: "application/json"],
                    body: ByteBuffer(string: #"{"model":"fail-500","messages":[{"role":"user","content":"hi"}]}"#))
                #expect(failing.status == .internalServerError)
            }
        }
        #expect(upstream.requests.count == 2)
    }

    /// The bare SwiftNIO variant (`reference-proxy --server nio`) forwards the same way and refuses bodies over
    /// its limit with 413, keeping the connection's later requests working.
    @Test(.timeLimit(.minutes(5))) func nioVariantForwardsBodyAndStatus() async throws {
        let upstream = try await withUpstreamAndClient { upstream, client in
            // No per-request deadline: the fake upstream answers from tasks on the cooperative pool, which CPU-bound
            // suites can hold for a minute in a full run on two cores (10 s and then 60 s deadlines ran out in CI).
            // The test's time limit still catches a proxy that never answers.
            func post(_ url: String, _ body: String) async throws -> (status: UInt, contentType: String?, body: ByteBuffer) {
                let request = try HTTPClient.Request(
                    url: url, method: .POST, headers: ["content-type": "application/json"], body: .string(body))
                let answer = try await client.execute(request: request).get()
                return (answer.status.code, answer.headers.first(name: "content-type"), answer.body ?? ByteBuffer())
            }
            let channel = try await startNIOReferenceProxy(
                host: "127.0.0.1", port: 0, upstream: upstream.baseURL + "/v1/chat/completions", maxBodySize: 4096,
                httpClient: client)
            let url = "http://127.0.0.1:\(channel.localAddress?.port ?? 0)/v1/chat/completions"
            let ok = try await post(url, #"{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}"#)
            #expect(ok.status == 200)
            let answer = try JSONSerialization.jsonObject(with: Data(buffer: ok.body)) as? [String: Any]
            #expect(answer?["object"] as? String == "chat.completion")
            #expect(ok.contentType?.hasPrefix("application/json") == true)

            let failing = try await post(url, #"{"model":"fail-500","messages":[{"role":"user","content":"hi"}]}"#)
            #expect(failing.status == 500)

            let large = try await post(url, #"{"model":"gpt-4o","messages":[{"role":"user","content":""# + String(repeating: "x", count: 5000) + #""}]}"#)
            #expect(large.status == 413)
            let after = try await post(url, #"{"model":"gpt-4o","messages":[{"role":"user","content":"again"}]}"#)
            #expect(after.status == 200)
            try await channel.close()
        }
        #expect(upstream.requests.count == 3)
    }

    /// Runs `body` with a fake upstream and the gateway's client configuration, shutting both down however it ends;
    /// returns the upstream for its recorded requests.
    private func withUpstreamAndClient(
        _ body: (FakeUpstream, HTTPClient) async throws -> Void
    ) async throws -> FakeUpstream {
        let upstream = try await FakeUpstream.start(script: FakeUpstream.standardScript)
        do {
            try await withHTTPClient(configuration: gatewayHTTPClientConfiguration(for: GatewayConfig())) { client in
                try await body(upstream, client)
            }
        } catch {
            await upstream.shutdown()
            throw error
        }
        await upstream.shutdown()
        return upstream
    }
}
