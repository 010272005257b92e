import Foundation
@testable import PhiInference
import Synchronization
import Testing

@Suite("InferenceEngine continuous batching")
struct ContinuousBatchingTests {
    static let q4 = Fixtures.path("phi3-tiny-gqa/phi3-tiny-gqa-Q4_0.gguf")
    static let phi2 = Fixtures.path("phi2-tiny/phi2-tiny-Q4_0.gguf")

    static func prompts(_ folder: String) throws -> [[Int]] {
        let reference = try ReferenceFile(path: Fixtures.path("\(folder)/\(folder).reference.json"))
        let s8 = try #require(reference.inputs["s8"])
        let s40 = try #require(reference.inputs["s40"])
        let s100 = try #require(reference.inputs["s100"])
        return [s8, s40, s100, Array(s40.prefix(5)), Array(s100.suffix(30)), [s8[1]], Array(s8.reversed())]
    }

    struct Case: CustomTestStringConvertible, Sendable {
        let file: String
        let folder: String
        let prefillChunkTokens: Int
        var testDescription: String { "\(folder), prefill chunks of \(prefillChunkTokens)" }
    }

    @Test("concurrent greedy requests each get exactly the tokens Generator produces alone", arguments: [
        Case(file: q4, folder: "phi3-tiny-gqa", prefillChunkTokens: SequenceDecoder.defaultPrefillChunkTokens),
        Case(file: q4, folder: "phi3-tiny-gqa", prefillChunkTokens: 16),
        Case(file: phi2, folder: "phi2-tiny", prefillChunkTokens: 16),
    ])
    func concurrentMatchesGenerator(_ fixture: Case) async throws {
        let model = try LoadedModel.load(path: fixture.file)
        let prompts = try Self.prompts(fixture.folder)
        let lengths = [24, 16, 20, 12, 18, 9, 14]
        var expected: [[Int]] = []
        for (prompt, length) in zip(prompts, lengths) {
            expected.append(try generatorIDs(model, prompt: prompt, parameters: greedy(maxTokens: length),
                                             prefillChunkTokens: fixture.prefillChunkTokens))
        }
        let engine = InferenceEngine(
            model: model, tokenizer: nil,
            batching: EngineBatchingOptions(maxSequences: 4, prefillChunkTokens: fixture.prefillChunkTokens))
        defer { engine.shutdown() }
        let streams = try zip(prompts, lengths).map { prompt, length in
            try engine.generate(promptTokens: prompt, parameters: greedy(maxTokens: length))
        }
        let results = try await withThrowingTaskGroup(of: (Int, StreamResult).self) { group in
            for (i, stream) in streams.enumerated() { group.addTask { (i, try await collect(stream)) } }
            var results = [StreamResult](repeating: StreamResult(), count: streams.count)
            for try await (i, result) in group { results[i] = result }
            return results
        }
        for (i, (result, ids)) in zip(results, expected).enumerated() {
            #expect(result.ids == ids, "request \(i)")
            #expect(result.reason == .length)
            #expect(result.usage?.promptTokens == prompts[i].count)
        }
        let statistics = engine.statistics
        #expect(statistics.tokensGenerated == lengths.reduce(0, +))
        #expect(statistics.requestsCompleted == prompts.count)
        #expect(statistics.active == 0 && statistics.waiting == 0 && statistics.kvBytesInUse == 0)
        #expect(statistics.recentTimeToFirstTokenMilliseconds != nil)
        #expect(statistics.recentPerTokenLatencyMilliseconds != nil)
    }

    @Test("a full queue throws queueFull; limits are checked when the request is made")
    func limits() async throws {
        let model = try LoadedModel.load(path: Self.q4)
        let engine = InferenceEngine(
            model: model, tokenizer: nil,
            batching: EngineBatchingOptions(maxSequences: 1, queueCapacity: 1, kvCacheBudgetBytes: 4 << 20, contextLength: 64))
        defer { engine.shutdown() }
        let long = try engine.generate(promptTokens: [1, 2, 3], parameters: greedy(maxTokens: nil))
        let waiting = try engine.generate(promptTokens: [1, 2, 3], parameters: greedy(maxTokens: 4))
        #expect(throws: PhiInferenceError.queueFull(capacity: 1)) {
            _ = try engine.generate(promptTokens: [1, 2, 3], parameters: greedy(maxTokens: 4))
        }
        #expect(throws: PhiInferenceError.contextOverflow(tokens: 65, contextLength: 64)) {
            _ = try engine.generate(promptTokens: Array(repeating: 5, count: 65), parameters: greedy(maxTokens: 4))
        }
        #expect(throws: PhiInferenceError.invalidTokenID(40000, vocabularySize: 32064)) {
            _ = try engine.generate(promptTokens: [1, 40000], parameters: greedy(maxTokens: 4))
        }
        // 64 positions × 2 layers × (K, V) × 2 kv heads × 16 floats × 4 bytes = 32 KiB; a smaller budget can never
        // run it.
        let small = InferenceEngine(
            model: model, tokenizer: nil, batching: EngineBatchingOptions(kvCacheBudgetBytes: 30_000, contextLength: 64))
        defer { small.shutdown() }
        #expect(throws: PhiInferenceError.kvCacheBudgetExceeded(bytes: 32_768, budgetBytes: 30_000)) {
            _ = try small.generate(promptTokens: [1, 2, 3], parameters: greedy(maxTokens: nil))
        }
        let result = try await collect(long)
        #expect(result.reason == .length)
        // The last token needs no cache position: 3 + 62 − 1 = 64.
        #expect(result.ids.count == 62)
        #expect(try await collect(waiting).ids.count == 4)
    }

    @Test("cancelling an active request frees its slot and KV bytes; the waiting request then runs")
    func cancellationFreesSlot() async throws {
        let model = try LoadedModel.load(path: Self.q4)
        let prompt = try #require(try Self.prompts("phi3-tiny-gqa").first)
        let expected = try generatorIDs(model, prompt: prompt, parameters: greedy(maxTokens: 10))
        // The compute thread waits at the gate until the first request has been cancelled.
        let gate = Gate()
        let engine = InferenceEngine(
            model: model, tokenizer: nil, batching: EngineBatchingOptions(maxSequences: 1, queueCapacity: 4),
            threadName: "test.inference", compute: EngineComputeOptions(), beforeRound: { gate.pass() })
        defer {
            gate.open()
            engine.shutdown()
        }
        let endless = try engine.generate(promptTokens: prompt, parameters: greedy(maxTokens: nil))
        let next = try engine.generate(promptTokens: prompt, parameters: greedy(maxTokens: 10))
        let reserved = KVCache.byteCount(config: model.config, positions: model.config.contextLength, precision: .f32)
        var statistics = engine.statistics
        #expect(statistics.active == 1 && statistics.waiting == 1 && statistics.kvBytesInUse == reserved)
        let consumer = Task { try await collect(endless) }
        consumer.cancel()
        let cancelled = try await consumer.value
        #expect(cancelled.ids.isEmpty && cancelled.reason == nil)
        gate.open()
        let result = try await collect(next)
        #expect(result.ids == expected)
        #expect(result.reason == .length)
        statistics = engine.statistics
        #expect(statistics.requestsCompleted == 2 && statistics.tokensGenerated == 10)
        #expect(statistics.active == 0 && statistics.waiting == 0 && statistics.kvBytesInUse == 0)
    }

    @Test("a waiting request whose consumer goes away leaves the queue")
    func cancelledWhileWaiting() async throws {
        let model = try LoadedModel.load(path: Self.q4)
        let engine = InferenceEngine(model: model, tokenizer: nil,
                                     batching: EngineBatchingOptions(maxSequences: 1, queueCapacity: 2))
        defer { engine.shutdown() }
        let running = try engine.generate(promptTokens: [1, 2], parameters: greedy(maxTokens: 200))
        var queued: AsyncThrowingStream<GenerationEvent, any Error>? =
            try engine.generate(promptTokens: [1, 2], parameters: greedy(maxTokens: 4))
        #expect(engine.statistics.waiting == 1)
        queued = nil
        #expect(queued == nil)
        #expect(engine.statistics.waiting == 0)
        #expect(try await collect(running).ids.count == 200)
        #expect(engine.statistics.requestsCompleted == 2)
    }

    @Test("waiting requests start in arrival order")
    func fifo() async throws {
        let model = try LoadedModel.load(path: Self.q4)
        let engine = InferenceEngine(model: model, tokenizer: nil,
                                     batching: EngineBatchingOptions(maxSequences: 1, queueCapacity: 8))
        defer { engine.shutdown() }
        let streams = try (0..<6).map { i in
            try engine.generate(promptTokens: [1, 2 + i], parameters: greedy(maxTokens: i == 0 ? 40 : 3))
        }
        #expect(engine.statistics.waiting >= 4)
        // Consumed in reverse order: the engine's order must not depend on its consumers.
        var queueSeconds = [Double](repeating: 0, count: streams.count)
        for (i, stream) in streams.enumerated().reversed() {
            queueSeconds[i] = try #require(try await collect(stream).usage).queueSeconds
        }
        // One slot: each request waited for all those before it.
        #expect(queueSeconds == queueSeconds.sorted())
        #expect(Set(queueSeconds).count == streams.count)
    }
}

/// Holds a thread at `pass()` until `open()`.
final class Gate: Sendable {
    private let isOpen = Mutex(false)
    private let semaphore = DispatchSemaphore(value: 0)

    func pass() {
        guard !isOpen.withLock({ $0 }) else { return }
        semaphore.wait()
        semaphore.signal()
    }

    func open() {
        let wasOpen = isOpen.withLock { state in
            defer { state = true }
            return state
        }
        if !wasOpen { semaphore.signal() }
    }
}
