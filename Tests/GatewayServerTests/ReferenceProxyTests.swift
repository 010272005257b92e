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
        let upstream = try await FakeUpstream.start(script: FakeUpstream.standardScript)
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: gatewayHTTPClientConfiguration(for: GatewayConfig()))
        let (logger, _) = CapturingLogHandler.makeLogger()
        do {
            let app = buildReferenceProxy(
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
        } catch {
            try? await client.shutdown()
            await upstream.shutdown()
            throw error
        }
        try await client.shutdown()
        await upstream.shutdown()
        #expect(upstream.requests.count == 2)
    }
}
