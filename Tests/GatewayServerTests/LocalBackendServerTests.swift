import AsyncHTTPClient
import FakeUpstream
import Foundation
import GatewayServer
import LocalBackend
import Logging
import PhigateConfig
import Synchronization
import Testing

/// The local backend end to end through `buildApplication` (what `phigate serve` runs) with the tiny phi-3 fixture.
@Suite("Local backend through the server")
struct LocalBackendServerTests {
    static let model = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/phi/phi3-tiny-gqa/phi3-tiny-gqa-Q4_0.gguf").path

    static func withLocal(
        path: String = model, maxSequences: Int = 4, queueLimit: Int = 16, onFailure: LocalLoadFailurePolicy = .fail,
        _ body: @escaping @Sendable (GatewayHarness) async throws -> Void
    ) async throws {
        try await GatewayHarness.run(configure: { config in
            config.backends.append(BackendConfig(
                name: "local", kind: .local, baseURL: "", models: [ModelConfig(name: "local")],
                local: LocalModelConfig(
                    modelPath: path, threads: 1, maxSequences: maxSequences, queueLimit: queueLimit, onLoadFailure: onFailure)))
            config.aliases["phi"] = "local"
        }) { harness in
            try await harness.waitUntilSettled()
            try await body(harness)
        }
    }

    static func body(_ prompt: String, maxTokens: Int = 16, stream: Bool = false, extra: String = "") -> String {
        #"{"model":"local","messages":[{"role":"user","content":"\#(prompt)"}],"temperature":0,"max_tokens":\#(maxTokens)\#(stream ? #","stream":true"# : "")\#(extra)}"#
    }

    static func content(_ reply: Reply) -> String? {
        ((reply.json["choices"] as? [[String: Any]])?.first?["message"] as? [String: Any])?["content"] as? String
    }

    @Test("readyz reports the loaded model; plain and streamed answers agree")
    func plainAndStreamed() async throws {
        try await Self.withLocal { gateway in
            let ready = try await gateway.request("GET", "/readyz", headers: [])
            #expect(ready.status == 200 && ready.body.contains(#""local":"ok""#))
            let plain = try await gateway.chat(Self.body("Hello there"))
            #expect(plain.status == 200 && plain.header("x-phigate-backend") == "local")
            let streamed = try await gateway.chat(Self.body("Hello there", stream: true))
            let text = streamed.streamedContent
            #expect(streamed.sseData.last == "[DONE]")
            #expect(text == Self.content(plain))
            let usage = plain.json["usage"] as? [String: Any]
            #expect((usage?["completion_tokens"] as? Int ?? 0) > 0)
        }
    }

    @Test("concurrent greedy requests each get the tokens they get alone")
    func batchingChangesNothingInGreedyMode() async throws {
        try await Self.withLocal(maxSequences: 4) { gateway in
            let prompts = ["One", "Two words", "Three little words", "Four words in a row", "Five"]
            var alone: [String: String] = [:]
            for prompt in prompts { alone[prompt] = Self.content(try await gateway.chat(Self.body(prompt, maxTokens: 24))) }
            let together = try await withThrowingTaskGroup(of: (String, String?).self) { group in
                for prompt in prompts + prompts {
                    group.addTask { (prompt, Self.content(try await gateway.chat(Self.body(prompt, maxTokens: 24)))) }
                }
                return try await group.reduce(into: [(String, String?)]()) { $0.append($1) }
            }
            #expect(together.count == 10)
            for (prompt, text) in together { #expect(text == alone[prompt], "\(prompt)") }
        }
    }

    @Test("a full queue answers 429; a client that disconnects frees its slot for the next request")
    func queueFullAndCancellation() async throws {
        try await Self.withLocal(maxSequences: 1, queueLimit: 1) { gateway in
            // The scenario needs A still generating when C arrives. A full test run on two cores can hold this test's
            // tasks back for seconds while A's 480 tokens run: then A is seen finished and the scenario is replayed.
            for attempt in 1...3 {
                let aFinished = Flag()
                // A: long and streamed, holds the only slot.
                let long = Self.body("Go on", maxTokens: 480, stream: true, extra: #","ignore_eos":true"#)
                let first = Task {
                    defer { aFinished.set() }
                    return try await gateway.chat(long)
                }
                let finished = { aFinished.isSet }
                guard try await gateway.waitForLocal(unless: finished, { $0.active == 1 }) else { continue }
                // B: waits in the queue (its response starts once admitted).
                let second = Task { try await gateway.chat(Self.body("Then", maxTokens: 4)) }
                guard try await gateway.waitForLocal(unless: finished, { $0.waiting == 1 }) else {
                    _ = try await second.value
                    continue
                }
                // C: the queue is full.
                let third = try await gateway.chat(Self.body("Now"))
                if third.status == 200, finished(), attempt < 3 {
                    _ = try await second.value
                    continue
                }
                #expect(third.status == 429)
                #expect(third.errorObject["code"] as? String == "local_queue_full")
                #expect(third.errorObject["type"] as? String == "rate_limit_error")
                // A's client goes away: its sequence stops, B gets the slot and finishes.
                first.cancel()
                let answered = try await second.value
                #expect(answered.status == 200)
                try await gateway.waitForLocal { $0.active == 0 && $0.waiting == 0 && $0.kvBytes == 0 }
                return
            }
            Issue.record("the 480-token request finished before the test could see it hold the slot, three times")
        }
    }

    @Test("healthz and remote requests answer while the local model is busy")
    func computeStaysOffTheEventLoops() async throws {
        try await Self.withLocal(maxSequences: 1) { gateway in
            // Eight long choices through one slot: tens of seconds of compute, even on a fast machine.
            let long = Self.body("Busy", maxTokens: 480, stream: true, extra: #","ignore_eos":true,"n":8"#)
            let busy = Task { try await gateway.chat(long) }
            try await gateway.waitForLocal { $0.active == 1 }
            for _ in 0..<10 {
                #expect(try await gateway.request("GET", "/healthz", headers: []).status == 200)
                #expect(try await gateway.chat(chatBody(model: "gpt-4o-mini")).status == 200)
            }
            // Still generating: the answers above did not wait for the local model.
            let snapshot = try await gateway.localGauges()
            #expect(snapshot.active == 1, "the local request finished before the other requests were answered")
            busy.cancel()
            try await gateway.waitForLocal { $0.active == 0 && $0.waiting == 0 }
        }
    }

    @Test("a prompt longer than the context is a 400 with the numbers")
    func contextOverflow() async throws {
        try await Self.withLocal { gateway in
            let reply = try await gateway.chat(Self.body(String(repeating: "hello ", count: 700)))
            #expect(reply.status == 400)
            #expect(reply.errorObject["code"] as? String == "context_length_exceeded")
            #expect((reply.errorObject["message"] as? String)?.contains("512") == true)
        }
    }

    @Test("a broken model file marked down: the gateway serves the rest, readyz and the model say why")
    func markDown() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("broken-\(UUID().uuidString).gguf").path
        try Data("not a model".utf8).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        try await Self.withLocal(path: path, onFailure: .markDown) { gateway in
            let ready = try await gateway.request("GET", "/readyz", headers: [])
            #expect(ready.status == 200 && ready.body.contains(#""status":"degraded""#) && ready.body.contains(#""local":"down""#))
            let reply = try await gateway.chat(Self.body("Hi"))
            #expect(reply.status == 503)
            #expect((reply.errorObject["message"] as? String)?.contains("failed to load") == true)
            #expect(try await gateway.chat(chatBody(model: "gpt-4o-mini")).status == 200)
        }
    }

    @Test("a missing model file is a start-up error naming the path")
    func missingModelFails() throws {
        var config = GatewayConfig(backends: [BackendConfig(
            name: "local", kind: .local, baseURL: "", models: [ModelConfig(name: "local")],
            local: LocalModelConfig(modelPath: "/nonexistent/phi.gguf"))])
        config.database = DatabaseConfig(path: ":memory:")
        let error = #expect(throws: LocalModelLoadError.self) {
            _ = try buildApplication(config: config, environment: [:], logger: Logger(label: "t") { _ in SwiftLogNoOpLogHandler() })
        }
        #expect(error?.description.contains("/nonexistent/phi.gguf") == true)
    }
}

/// A flag one task sets and another reads.
private final class Flag: Sendable {
    private let state = Mutex(false)
    var isSet: Bool { state.withLock { $0 } }
    func set() { state.withLock { $0 = true } }
}

/// The local engine's gauges as `/metrics` shows them.
struct LocalGauges {
    var waiting = 0
    var active = 0
    var kvBytes = 0
}

extension GatewayHarness {
    /// Waits until `/readyz` no longer says "loading".
    func waitUntilSettled() async throws {
        for _ in 0..<600 {
            let ready = try await request("GET", "/readyz", headers: [])
            if !ready.body.contains(#""status":"loading""#) { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        Issue.record("the local model did not finish loading")
    }

    func localGauges() async throws -> LocalGauges {
        let text = try await metricsText()
        func value(_ name: String) -> Int {
            let line = text.split(separator: "\n").first { $0.hasPrefix("phigate_local_\(name){") }
            return line.flatMap { Double($0.split(separator: " ").last ?? "") }.map { Int($0) } ?? -1
        }
        return LocalGauges(waiting: value("queue_depth"), active: value("active_sequences"), kvBytes: value("kv_cache_bytes"))
    }

    /// Polls the gauges until `condition` holds (fails the test after 20 s).
    func waitForLocal(_ condition: (LocalGauges) -> Bool) async throws {
        _ = try await waitForLocal(unless: { false }, condition)
    }

    /// Polls the gauges until `condition` holds (true), or until `gaveUp` says the state can no longer come (false);
    /// fails the test after 20 s.
    func waitForLocal(unless gaveUp: () -> Bool, _ condition: (LocalGauges) -> Bool) async throws -> Bool {
        var last = LocalGauges()
        for _ in 0..<1000 {
            last = try await localGauges()
            if condition(last) { return true }
            if gaveUp() { return false }
            try await Task.sleep(for: .milliseconds(20))
        }
        Issue.record("local engine never reached the expected state; last \(last)")
        return false
    }
}
