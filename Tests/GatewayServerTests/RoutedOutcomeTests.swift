import Foundation
import OutcomeStore
import PhigateConfig
import Synchronization
import Testing

/// The routing columns of the outcome row, through `buildApplication` with a routing policy: rule, decision,
/// difficulty score and threshold, privacy findings, fallback chain, tier, and the cost of the model that answered.
@Suite("Routed requests in the outcome log")
struct RoutedOutcomeTests {
    /// The repository's trained classifier, so `auto` requests carry a real difficulty score.
    static let classifier = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("policies/classifier/default.json").path

    /// The routing tests' policy with a classifier, and a threshold of 0: every scored request goes local first.
    static var policy: String {
        RoutingPolicyTests.policy.replacingOccurrences(
            of: "auto: { threshold: 0.5 }", with: "auto: { threshold: 0.0, classifier: \"\(classifier)\" }")
    }

    static func temporaryDatabase() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("phigate-routed-\(UUID().uuidString).sqlite").path
    }

    /// Runs requests against the routing gateway, then returns the rows it logged (the file is complete after
    /// shutdown) keyed by request id.
    static func rows(
        remoteFails: Bool = false,
        _ body: @escaping @Sendable (GatewayHarness) async throws -> [String]
    ) async throws -> [RequestOutcome] {
        let path = temporaryDatabase()
        defer {
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        }
        let ids = IDBox()
        let remote = remoteFails ? RoutingPolicyTests.failingRemote : RoutingPolicyTests.standardRemote
        try await RoutingPolicyTests.withRouting(policy: policy, remote: remote, configure: { config in
            config.database.path = path
            // The local model has a price, so a fallback's cost shows it was priced at the answering model.
            if let local = config.backends.firstIndex(where: { $0.name == "local" }) {
                config.backends[local].models[0].price = ModelPrice(inputMicrosPerMillion: 1_000_000, outputMicrosPerMillion: 2_000_000)
            }
            // One call per candidate: the chain shows the fallback only (FaultTests cover retries in the chain).
            RoutingPolicyTests.withoutRetriesOrBreakers(&config)
        }) { harness, _ in
            ids.set(try await body(harness))
        }
        let rows = try OutcomeStore(path: path).requests()
        let byID = Dictionary(uniqueKeysWithValues: rows.map { ($0.id, $0) })
        return try ids.get().map { try #require(byID[$0], "no row for request \($0)") }
    }

    final class IDBox: Sendable {
        private let ids = Mutex<[String]>([])
        func set(_ value: [String]) { ids.withLock { $0 = value } }
        func get() -> [String] { ids.withLock { $0 } }
    }

    @Test("a rule routed to the frontier: rule, decision, tier, chain and cost at the answering model's price")
    func frontierRule() async throws {
        let rows = try await Self.rows { harness in
            let reply = try await harness.chat(chatBody(model: "smart"))
            #expect(reply.status == 200)
            return [try #require(reply.header("x-request-id"))]
        }
        let row = try #require(rows.first)
        #expect(row.requestedModel == "smart")
        #expect(row.backend == "openai")
        #expect(row.model == "gpt-4o-mini")
        #expect(row.tier == .remote)
        #expect(row.rule == "frontier-first")
        #expect(row.attempts == [OutcomeAttempt(backend: "openai", model: "gpt-4o-mini")])
        // 11 × $0.15/M + 7 × $0.60/M = $0.00000585 → 6 micro-dollars, not the router's price 0.
        #expect(row.costMicros == 6)
        #expect(row.isPrivate == false)
        #expect(row.privacyFindings.isEmpty)
        let json = try #require(row.decisionJSON)
        let decision = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        #expect(decision["rule"] as? String == "frontier-first")
        #expect(decision["action"] as? String == "route")
        #expect((decision["candidates"] as? [Any])?.isEmpty == false)
    }

    @Test("auto: the difficulty score and threshold, the local tier, streamed or not")
    func autoRule() async throws {
        let rows = try await Self.rows { harness in
            let plain = try await harness.chat(chatBody(model: "auto"))
            let streamed = try await harness.chat(chatBody(model: "auto", stream: true, extra: #","stream_options":{"include_usage":true}"#))
            #expect(plain.status == 200 && streamed.status == 200)
            #expect(plain.header("x-phigate-reason")?.contains("threshold=0.0") == true)
            return [try #require(plain.header("x-request-id")), try #require(streamed.header("x-request-id"))]
        }
        for row in rows {
            #expect(row.rule == "auto")
            let score = try #require(row.difficultyScore)
            #expect((0...1).contains(score))
            #expect(row.difficultyThreshold == 0)
            #expect(row.backend == "local")
            #expect(row.model == "phi-local")
            #expect(row.tier == .local)
            // 11 × $1/M + 7 × $2/M = 25 micro-dollars.
            #expect(row.costMicros == 25)
            #expect(row.decisionJSON?.contains("\"difficulty_score\"") == true)
        }
        #expect(rows.map(\.isStreamed) == [false, true])
    }

    @Test("a failed frontier call falls back: the chain names both attempts and the fault")
    func fallbackChain() async throws {
        let rows = try await Self.rows(remoteFails: true) { harness in
            let plain = try await harness.chat(chatBody(model: "smart"))
            let streamed = try await harness.chat(chatBody(model: "smart", stream: true))
            #expect(plain.status == 200 && streamed.status == 200)
            return [try #require(plain.header("x-request-id")), try #require(streamed.header("x-request-id"))]
        }
        for row in rows {
            #expect(row.attempts == [
                OutcomeAttempt(backend: "openai", model: "gpt-4o-mini", fault: "status(500)"),
                OutcomeAttempt(backend: "local", model: "phi-local"),
            ])
            #expect(row.didFallBack)
            #expect(row.backend == "local")
            #expect(row.tier == .local)
            #expect(row.rule == "frontier-first")
        }
        #expect(rows.first?.costMicros == 25)
    }

    @Test("privacy findings by type; private requests marked private; rejections keep their rule")
    func privacyAndRejection() async throws {
        let rows = try await Self.rows { harness in
            let email = try await harness.chat(#"{"model":"smart","messages":[{"role":"user","content":"write to jane@example.com"}]}"#)
            let ssn = try await harness.chat(#"{"model":"auto","messages":[{"role":"user","content":"my ssn is 123-45-6789"}]}"#)
            let blocked = try await harness.chat(chatBody(model: "auto"), headers: GatewayHarness.authorized + [("x-team", "blocked")])
            #expect(email.status == 200 && ssn.status == 200 && blocked.status == 403)
            return [email, ssn, blocked].compactMap { $0.header("x-request-id") }
        }
        #expect(rows.count == 3)
        let (email, ssn, blocked) = (rows[0], rows[1], rows[2])
        #expect(email.privacyFindings == ["email"])
        #expect(email.isPrivate == false)
        #expect(email.decisionJSON?.contains("jane@example.com") == false)
        #expect(ssn.privacyFindings == ["us_ssn"])
        #expect(ssn.isPrivate)
        #expect(ssn.rule == "private-local")
        #expect(ssn.tier == .local)
        #expect(ssn.decisionJSON?.contains("123-45-6789") == false)
        #expect(blocked.rule == "blocked")
        #expect(blocked.status == 403)
        #expect(blocked.backend == nil)
        #expect(blocked.attempts.isEmpty)
        #expect(blocked.costMicros == 0)
    }
}
