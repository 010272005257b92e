import Foundation
import GRDB
import Testing

@testable import OutcomeStore

@Suite("Outcome store")
struct OutcomeStoreTests {
    static func temporaryPath() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("phigate-outcomes-\(UUID().uuidString)/outcomes.sqlite").path
    }

    static func remove(_ path: String) {
        try? FileManager.default.removeItem(at: URL(fileURLWithPath: path).deletingLastPathComponent())
    }

    @Test("a new store applies every migration")
    func migrations() throws {
        let store = try OutcomeStore.inMemory()
        #expect(try store.appliedMigrations() == ["v1", "v2", "v3-gateway-keys"])
    }

    @Test("the attempts column is the JSON that Codable writes and reads, escapes included")
    func attemptsJSON() throws {
        let attempts = [
            OutcomeAttempt(backend: "local", model: "phi-3.5-mini", fault: "timeout"),
            OutcomeAttempt(backend: "hf", model: "org/model \"q\" é\n", fault: "status(503)"),
            OutcomeAttempt(backend: "openai", model: "gpt-4o"),
        ]
        let json = OutcomeAttempt.json(attempts)
        #expect(json.hasPrefix(#"[{"backend":"local","fault":"timeout","model":"phi-3.5-mini"},"#))
        #expect(json.hasSuffix(#"{"backend":"openai","model":"gpt-4o"}]"#))
        #expect(try JSONDecoder().decode([OutcomeAttempt].self, from: Data(json.utf8)) == attempts)
        #expect(OutcomeAttempt.json([]) == "[]")
    }

    @Test("a file store is WAL with incremental auto-vacuum")
    func fileSettings() throws {
        let path = Self.temporaryPath()
        defer { Self.remove(path) }
        let store = try OutcomeStore(path: path)
        let (journal, vacuum) = try store.read { db in
            (try String.fetchOne(db, sql: "PRAGMA journal_mode"), try Int.fetchOne(db, sql: "PRAGMA auto_vacuum"))
        }
        #expect(journal == "wal")
        #expect(vacuum == 2)
    }

    @Test("opens a database made by schema v1 and keeps its rows")
    func migratesFromV1() async throws {
        let path = Self.temporaryPath()
        defer { Self.remove(path) }
        try FileManager.default.createDirectory(
            at: URL(fileURLWithPath: path).deletingLastPathComponent(), withIntermediateDirectories: true)
        do {
            let old = try DatabaseQueue(path: path)
            try OutcomeStore.migrator.migrate(old, upTo: "v1")
            try await old.write { db in
                try db.execute(sql: """
                    INSERT INTO request (id, time, tenant, requested_model, backend, model, tier, prompt_tokens,
                      completion_tokens, cost_micros, total_ms, status)
                    VALUES ('old-1', '2026-01-02 03:04:05.678', 't', 'auto', 'openai', 'gpt-4o', 'remote', 10, 20, 30, 40.5, 200)
                    """)
                try db.execute(sql: "INSERT INTO feedback (request_id, score, source, time) VALUES ('old-1', 0.5, 'user', '2026-01-02 03:05:00')")
            }
            try old.close()
        }
        let store = try OutcomeStore(path: path)
        #expect(try store.appliedMigrations() == ["v1", "v2", "v3-gateway-keys"])
        let rows = try store.requests()
        #expect(rows.count == 1)
        let row = try #require(rows.first)
        #expect(row.id == "old-1")
        #expect(row.promptTokens == 10 && row.completionTokens == 20 && row.costMicros == 30 && row.totalTimeMs == 40.5)
        #expect(row.attempts.isEmpty && !row.isStreamed && row.privacyFindings.isEmpty && row.promptText == nil)
        #expect(try store.feedback(forRequest: "old-1").map(\.score) == [0.5])
        #expect(try await store.addFeedback(OutcomeFeedback(requestID: "old-1", score: 1, source: .shadow, tier: .local, time: Date())))
    }

    @Test("a request round-trips with every field")
    func roundTrip() async throws {
        let store = try OutcomeStore.inMemory(options: .init(storesText: true))
        try await store.write([.request(OutcomeFixtures.r2), .request(OutcomeFixtures.r1)])
        let rows = try store.requests()
        #expect(rows == [OutcomeFixtures.r1, OutcomeFixtures.r2])
    }

    @Test("text is kept only when enabled, and never for a private request")
    func textPolicy() async throws {
        let off = try OutcomeStore.inMemory()
        try await off.write([.request(OutcomeFixtures.r1)])
        #expect(try off.requests().first?.promptText == nil)
        #expect(try off.requests().first?.completionText == nil)

        let on = try OutcomeStore.inMemory(options: .init(storesText: true))
        try await on.write([.request(OutcomeFixtures.r1), .request(OutcomeFixtures.r3)])
        let rows = try on.requests()
        #expect(rows[0].promptText == OutcomeFixtures.r1.promptText)
        #expect(rows[1].isPrivate)
        #expect(rows[1].promptText == nil && rows[1].completionText == nil)
        let raw = try on.read { db in try String.fetchOne(db, sql: "SELECT prompt_text FROM request WHERE id = 'r3'") }
        #expect(raw == nil)
    }

    @Test("feedback for an unknown request is refused; deleting a request deletes its feedback")
    func feedbackRules() async throws {
        let store = try await OutcomeFixtures.makeStore()
        #expect(try await !store.addFeedback(OutcomeFeedback(requestID: "nope", score: 1, source: .user, time: Date())))
        #expect(try store.feedback(forRequest: "r1").count == 3)
        let skipped = try await store.write([.feedback(OutcomeFeedback(requestID: "nope", score: 1, source: .judge, time: Date()))])
        #expect(skipped == 1)
        try await store.writer.write { db in try db.execute(sql: "DELETE FROM request WHERE id = 'r1'") }
        #expect(try store.feedback(forRequest: "r1").isEmpty)
    }

    @Test("a duplicate request id keeps the first row")
    func duplicateID() async throws {
        let store = try OutcomeStore.inMemory()
        var second = OutcomeFixtures.r1
        second.status = 500
        try await store.write([.request(OutcomeFixtures.r1), .request(second)])
        #expect(try store.requests().map(\.status) == [200])
    }

    @Test("pruning by age deletes old requests and their feedback")
    func pruneByAge() async throws {
        let store = try await OutcomeFixtures.makeStore()
        let result = try await store.prune(
            OutcomeRetention(maxAge: .seconds(24 * 3600)), now: OutcomeFixtures.time(22, 0, 0))
        #expect(result.deletedRequests == 3)
        #expect(try store.requests().map(\.id) == ["r4", "r5"])
        let feedbackCount = try store.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM feedback") }
        #expect(feedbackCount == 2)
    }

    @Test("pruning by size keeps the file under the limit and truncates the WAL")
    func pruneBySize() async throws {
        let path = Self.temporaryPath()
        defer { Self.remove(path) }
        let store = try OutcomeStore(path: path)
        let padding = String(repeating: "x", count: 2_000)
        for batch in 0..<10 {
            let entries = (0..<200).map { i in
                var row = OutcomeFixtures.r1
                row.id = "b\(batch)-\(i)"
                row.time = OutcomeFixtures.time(1 + batch, 0, 0).addingTimeInterval(Double(i))
                row.decisionJSON = padding
                return OutcomeEntry.request(row)
            }
            try await store.write(entries)
        }
        let before = try await store.sizeInBytes()
        #expect(before > 4_000_000)
        let limit: Int64 = 1_000_000
        let result = try await store.prune(OutcomeRetention(maxBytes: limit), now: Date())
        #expect(result.bytesAfter <= limit)
        #expect(result.deletedRequests > 0)
        let walSize = (try? FileManager.default.attributesOfItem(atPath: path + "-wal")[.size] as? NSNumber)?.int64Value ?? 0
        #expect(walSize == 0)
        let fileSize = (try FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.int64Value ?? 0
        #expect(fileSize <= limit)
        // The newest rows survive.
        let remaining = try store.requests()
        #expect(remaining.last?.id == "b9-199")
        #expect(remaining.count == 2000 - result.deletedRequests)
        let integrity = try store.read { db in try String.fetchOne(db, sql: "PRAGMA integrity_check") }
        #expect(integrity == "ok")
    }
}
