import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import Testing

@testable import OutcomeStore

/// Collects log messages in memory.
final class RecordingLogHandler: LogHandler, Sendable {
    let messages = Mutex<[String]>([])
    var metadata: Logger.Metadata {
        get { [:] }
        set {}
    }
    var logLevel: Logger.Level {
        get { .trace }
        set {}
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { nil }
        set {}
    }

    func log(event: LogEvent) {
        messages.withLock { $0.append(event.message.description) }
    }
}

@Suite("Outcome recorder")
struct OutcomeRecorderTests {
    static func entry(_ i: Int) -> OutcomeEntry {
        var row = OutcomeFixtures.r1
        row.id = "req-\(i)"
        return .request(row)
    }

    /// Waits (without timing) until a condition holds.
    static func eventually(_ condition: () -> Bool) async {
        while !condition() { await Task.yield() }
    }

    @Test("drains the queue in batches of at most batchSize, one transaction each")
    func batches() async throws {
        let store = try OutcomeStore.inMemory()
        let recorder = OutcomeRecorder(
            store: store, configuration: .init(queueCapacity: 1000, batchSize: 10), logger: Logger(label: "test"))
        for i in 0..<35 { await recorder.record(Self.entry(i)) }
        let running = Task { try await recorder.run() }
        await recorder.flush()
        #expect(recorder.statistics.written == 35)
        #expect(recorder.statistics.batches == 4)
        #expect(try store.requestCount() == 35)
        running.cancel()
        try await running.value
    }

    @Test("graceful shutdown writes everything queued")
    func gracefulShutdownFlushes() async throws {
        let store = try OutcomeStore.inMemory()
        let recorder = OutcomeRecorder(
            store: store, configuration: .init(queueCapacity: 1000, batchSize: 7), logger: Logger(label: "test"))
        for i in 0..<100 { await recorder.record(Self.entry(i)) }
        let group = ServiceGroup(configuration: .init(services: [recorder], logger: Logger(label: "test")))
        let running = Task { try await group.run() }
        await group.triggerGracefulShutdown()
        try await running.value
        #expect(try store.requestCount() == 100)
        #expect(recorder.statistics.dropped == 0)
        // After shutdown, entries are written through.
        await recorder.record(Self.entry(100))
        #expect(try store.requestCount() == 101)
    }

    @Test("retention runs periodically while the recorder runs")
    func periodicPruning() async throws {
        let store = try OutcomeStore.inMemory()
        let recorder = OutcomeRecorder(
            store: store,
            configuration: .init(retention: OutcomeRetention(maxAge: .seconds(3600)), pruneInterval: .milliseconds(10)),
            logger: Logger(label: "test"))
        await recorder.record(OutcomeFixtures.r1)  // 2026-11-20: older than an hour
        var fresh = OutcomeFixtures.r2
        fresh.time = Date()
        await recorder.record(.request(fresh))
        let running = Task { try await recorder.run() }
        await recorder.flush()
        while try store.requests().map(\.id) != ["r2"] { try await Task.sleep(for: .milliseconds(5)) }
        running.cancel()
        try await running.value
    }

    @Test("cancellation still writes everything queued")
    func cancellationFlushes() async throws {
        let store = try OutcomeStore.inMemory()
        let recorder = OutcomeRecorder(
            store: store, configuration: .init(queueCapacity: 1000, batchSize: 10), logger: Logger(label: "test"))
        for i in 0..<50 { await recorder.record(Self.entry(i)) }
        let running = Task { try await recorder.run() }
        running.cancel()
        try await running.value
        #expect(try store.requestCount() == 50)
        #expect(recorder.statistics.failed == 0)
    }

    @Test("backpressure: a full queue makes the producer wait, logs once, and loses nothing")
    func backpressure() async throws {
        let store = try OutcomeStore.inMemory()
        let log = RecordingLogHandler()
        let recorder = OutcomeRecorder(
            store: store, configuration: .init(queueCapacity: 2, batchSize: 1), logger: Logger(label: "test") { _ in log })
        await recorder.record(Self.entry(0))
        await recorder.record(Self.entry(1))
        let third = Task { await recorder.record(Self.entry(2)) }
        let fourth = Task {
            await Self.eventually { recorder.statistics.queueFullEvents >= 1 }
            await recorder.record(Self.entry(3))
        }
        await Self.eventually { recorder.statistics.queueFullEvents == 2 }
        #expect(recorder.statistics.written == 0)
        let running = Task { try await recorder.run() }
        await third.value
        await fourth.value
        await recorder.flush()
        #expect(try store.requestCount() == 4)
        #expect(recorder.statistics.dropped == 0)
        #expect(log.messages.withLock { $0.filter { $0.contains("queue full") }.count } == 1)
        running.cancel()
        try await running.value
    }

    @Test("many concurrent producers under backpressure: every entry written")
    func concurrentProducers() async throws {
        let store = try OutcomeStore.inMemory()
        let recorder = OutcomeRecorder(
            store: store, configuration: .init(queueCapacity: 8, batchSize: 5), logger: Logger(label: "test"))
        let running = Task { try await recorder.run() }
        await withTaskGroup(of: Void.self) { group in
            for producer in 0..<8 {
                group.addTask {
                    for i in 0..<50 { await recorder.record(Self.entry(producer * 1000 + i)) }
                }
            }
        }
        await recorder.flush()
        #expect(try store.requestCount() == 400)
        running.cancel()
        try await running.value
    }

    @Test("drop policy: a full queue drops and counts")
    func dropPolicy() async throws {
        let store = try OutcomeStore.inMemory()
        let recorder = OutcomeRecorder(
            store: store, configuration: .init(queueCapacity: 3, overflowPolicy: .drop), logger: Logger(label: "test"))
        for i in 0..<10 { await recorder.record(Self.entry(i)) }
        #expect(recorder.statistics.dropped == 7)
        #expect(recorder.statistics.queueFullEvents == 7)
        let running = Task { try await recorder.run() }
        await recorder.flush()
        #expect(try store.requestCount() == 3)
        running.cancel()
        try await running.value
    }

    @Test("feedback for a request still in the queue finds its row")
    func feedbackAfterQueuedRequest() async throws {
        let store = try OutcomeStore.inMemory()
        let recorder = OutcomeRecorder(store: store, logger: Logger(label: "test"))
        await recorder.record(OutcomeFixtures.r1)
        let running = Task { try await recorder.run() }
        let accepted = try await recorder.addFeedback(
            OutcomeFeedback(requestID: "r1", score: 1, source: .user, time: Date()))
        #expect(accepted)
        #expect(try await !recorder.addFeedback(OutcomeFeedback(requestID: "zz", score: 1, source: .user, time: Date())))
        running.cancel()
        try await running.value
    }
}
