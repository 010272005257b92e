import AsyncHTTPClient
import FakeUpstream
import Foundation
import GatewayServer
import Hummingbird
import Synchronization
import Testing

@Suite("Graceful shutdown")
struct ShutdownTests {
    @Test("shutdown stops accepting but lets an in-flight stream finish with [DONE]")
    func inFlightStreamFinishes() async throws {
        let paced = FakeResponse.openAIStream(deltas: Array(repeating: "tok ", count: 30), interval: .milliseconds(20))
        let upstream = try await FakeUpstream.start(always: paced)
        let (logger, _) = CapturingLogHandler.makeLogger()
        let port = BoundPort()
        let app = try buildApplication(
            config: GatewayHarness.config(upstream: upstream),
            environment: GatewayHarness.environment,
            logger: logger,
            onServerRunning: { channel in port.set(channel.localAddress?.port) }
        )
        // A grace period far above the stream's 0.6 s: the test is about what shutdown lets finish, and a full test
        // run on two cores can starve the stream's tasks for seconds.
        let runner = GatewayRunner(app, gracePeriod: .seconds(60), logger: logger, handlesSignals: false)
        let server = Task { try await runner.run() }

        try await withHTTPClient { client in
            let boundPort = try await port.value()
            let url = "http://127.0.0.1:\(boundPort)/v1/chat/completions"

            var request = HTTPClientRequest(url: url)
            request.method = .POST
            request.headers.add(name: "authorization", value: "Bearer \(TestSecrets.gatewayKey)")
            request.body = .bytes(ByteBuffer(string: chatBody(stream: true)))
            let response = try await client.execute(request, timeout: .seconds(120))
            var body = ""
            var iterator = response.body.makeAsyncIterator()
            if let first = try await iterator.next() { body += String(buffer: first) }

            await runner.shutdown()
            while let piece = try await iterator.next() { body += String(buffer: piece) }
            #expect(response.status.code == 200)
            #expect(body.hasSuffix("data: [DONE]\n\n"))

            try await server.value
            // The listener is gone: a new request fails to connect.
            var late = HTTPClientRequest(url: url)
            late.method = .POST
            late.body = .bytes(ByteBuffer(string: chatBody()))
            await #expect(throws: (any Error).self) { _ = try await client.execute(late, timeout: .seconds(2)) }
        }
        await upstream.shutdown()
    }
}

@Suite("Readiness while draining")
struct DrainReadinessTests {
    @Test("after SIGTERM /readyz answers 503 draining for the drain delay while requests are still served")
    func readyzTurns503() async throws {
        let upstream = try await FakeUpstream.start(script: FakeUpstream.standardScript)
        let (logger, _) = CapturingLogHandler.makeLogger()
        let port = BoundPort()
        let lifecycle = GatewayLifecycle()
        let app = try buildApplication(
            config: GatewayHarness.config(upstream: upstream), environment: GatewayHarness.environment, logger: logger,
            lifecycle: lifecycle, onServerRunning: { channel in port.set(channel.localAddress?.port) })
        let runner = GatewayRunner(
            app, gracePeriod: .seconds(10), logger: logger, handlesSignals: false, lifecycle: lifecycle, drainDelay: .seconds(3))
        let server = Task { try await runner.run() }
        try await withHTTPClient { client in
            let boundPort = try await port.value()
            let base = "http://127.0.0.1:\(boundPort)"
            func get(_ path: String) async throws -> (Int, String) {
                let response = try await client.execute(HTTPClientRequest(url: base + path), timeout: .seconds(10))
                return (Int(response.status.code), String(buffer: try await response.body.collect(upTo: 1 << 16)))
            }
            #expect(try await get("/readyz").0 == 200)
            await runner.shutdown()
            for _ in 0..<200 where !lifecycle.isDraining { try await Task.sleep(for: .milliseconds(5)) }
            let (status, body) = try await get("/readyz")
            #expect(status == 503)
            #expect(body.contains(#""status":"draining""#))
            #expect(try await get("/healthz").0 == 200, "still serving during the drain delay")
            try await server.value
        }
        await upstream.shutdown()
    }
}

/// The port the server reports once it listens (`onServerRunning`).
private final class BoundPort: Sendable {
    private let port = Mutex<Int?>(nil)

    func set(_ value: Int?) { port.withLock { $0 = value } }

    /// Waits up to 30 s for the port.
    func value() async throws -> Int {
        for _ in 0..<3000 {
            if let value = port.withLock({ $0 }) { return value }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw NotListening()
    }

    struct NotListening: Error {}
}
