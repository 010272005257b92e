import FakeUpstream
import Foundation
import OutcomeStore
import PhigateConfig
import Synchronization
import Testing

@testable import GatewayServer

/// Shadow evaluation through `buildApplication`: the routing harness (remote = the harness upstream with the
/// judge on `gpt-4o`, local = a second FakeUpstream), the shadow service, and the outcome file read after a
/// graceful shutdown (which drains the shadow queue, then flushes the recorder).
@Suite("Shadow evaluation")
struct ShadowEvaluationTests {
    /// The judge is `gpt-4o` (upstream name `gpt-4o-2024-08-06`) on the remote upstream.
    static let judgeUpstreamModel = "gpt-4o-2024-08-06"

    static func remote(judgeReply: String) -> FakeUpstream.Script {
        { request in
            if request.bodyText.contains("\"\(judgeUpstreamModel)\"") {
                return .openAIChat(content: judgeReply, model: judgeUpstreamModel)
            }
            return FakeUpstream.standardScript(request)
        }
    }

    static let fencedVerdict = "Here is my verdict:\n```json\n{\"a\": 0.25, \"b\": 0.75}\n```"

    struct Run {
        var ids: [String]
        var feedback: [String: [OutcomeFeedback]]
        var samples: [TuningSample]
        var remoteRequests: [RecordedRequest]
        var localRequests: [RecordedRequest]
        var logs: String
        var metrics: String

        var shadowRows: [OutcomeFeedback] { feedback.values.flatMap { $0 }.filter { $0.source == .shadow } }
        func modelsAsked(_ requests: [RecordedRequest]) -> [String] {
            requests.compactMap { request in
                (try? JSONSerialization.jsonObject(with: Data(request.body)) as? [String: Any])?["model"] as? String
            }
        }
    }

    final class Captured: Sendable {
        let ids = Mutex<[String]>([])
        let upstreams = Mutex<(FakeUpstream?, FakeUpstream?)>((nil, nil))
        let logs = Mutex<CapturingLogHandler.Store?>(nil)
        let metrics = Mutex<GatewayMetrics?>(nil)
    }

    /// Runs `body` against a gateway with `shadow`, shuts it down, and reads what was logged.
    static func run(
        shadow: ShadowConfig, judgeReply: String = fencedVerdict,
        _ body: @escaping @Sendable (GatewayHarness) async throws -> [String]
    ) async throws -> Run {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("phigate-shadow-\(UUID().uuidString).sqlite").path
        defer {
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        }
        let captured = Captured()
        try await RoutingPolicyTests.withRouting(policy: RoutedOutcomeTests.policy, remote: remote(judgeReply: judgeReply), configure: { config in
            config.database.path = path
            config.shadow = shadow
        }) { harness, local in
            captured.upstreams.withLock { $0 = (harness.upstream, local) }
            captured.logs.withLock { $0 = harness.logs }
            captured.metrics.withLock { $0 = harness.metrics }
            let ids = try await body(harness)
            captured.ids.withLock { $0 = ids }
        }
        let store = try OutcomeStore(path: path)
        let ids = captured.ids.withLock { $0 }
        var feedback: [String: [OutcomeFeedback]] = [:]
        for id in ids { feedback[id] = try store.feedback(forRequest: id) }
        let (remote, local) = captured.upstreams.withLock { $0 }
        return Run(
            ids: ids, feedback: feedback, samples: try CSVExporter(store: store).tuningSamples().samples,
            remoteRequests: remote?.requests ?? [], localRequests: local?.requests ?? [],
            logs: captured.logs.withLock { $0?.text } ?? "",
            metrics: captured.metrics.withLock { $0.map { String(decoding: $0.exposition(), as: UTF8.self) } } ?? "")
    }

    static let both = ShadowConfig(
        localShare: 1, remoteShare: 1, remoteModel: "gpt-4o-mini", localModel: "phi-local", judgeModel: "gpt-4o",
        budgetMicrosPerDay: 1_000_000)

    @Test("a shadowed request gets two shadow rows with the judge's scores, one per tier; tune reads them")
    func bothTiersScored() async throws {
        let run = try await Self.run(shadow: Self.both) { harness in
            let local = try await harness.chat(chatBody(model: "auto"))  // threshold 0: answered by phi-local
            let remote = try await harness.chat(chatBody(model: "smart", stream: true))  // frontier rule: gpt-4o-mini
            #expect(local.status == 200 && remote.status == 200)
            #expect(local.header("x-phigate-route") == "local/phi-local")
            #expect(remote.header("x-phigate-route") == "openai/gpt-4o-mini")
            return [try #require(local.header("x-request-id")), try #require(remote.header("x-request-id"))]
        }
        let answeredLocally = try #require(run.feedback[run.ids[0]])
        #expect(answeredLocally.count == 2)
        #expect(answeredLocally.allSatisfy { $0.source == .shadow })
        let localRow = try #require(answeredLocally.first { $0.tier == .local })
        let remoteRow = try #require(answeredLocally.first { $0.tier == .remote })
        #expect(localRow.score == 0.25)
        #expect(localRow.comment?.contains("answered by local/phi-local") == true)
        #expect(remoteRow.score == 0.75)
        #expect(remoteRow.comment?.contains("openai/gpt-4o-mini") == true)
        #expect(remoteRow.comment?.contains("judge gpt-4o") == true)

        let answeredRemotely = try #require(run.feedback[run.ids[1]])
        #expect(answeredRemotely.first { $0.tier == .remote }?.score == 0.25)
        #expect(answeredRemotely.first { $0.tier == .local }?.score == 0.75)
        #expect(answeredRemotely.first { $0.tier == .local }?.comment?.contains("local/phi-local") == true)

        // The judge saw the conversation and both answers; the other tiers were asked the same conversation.
        let judged = run.remoteRequests.filter { $0.bodyText.contains(Self.judgeUpstreamModel) }
        #expect(judged.count == 2)
        #expect(judged.allSatisfy { $0.bodyText.contains("Say hello") })
        #expect(judged.contains { $0.bodyText.contains("Hello from phi-local.") && $0.bodyText.contains("Hello from gpt-4o-mini.") })
        #expect(run.modelsAsked(run.localRequests) == ["phi-local", "phi-local"])
        #expect(run.localRequests.allSatisfy { !$0.bodyText.contains("\"stream\":true") })

        // The request with a difficulty score becomes a tuning sample with both tiers' quality.
        #expect(run.samples.count == 1)
        #expect(run.samples.first?.localQuality == 0.25)
        #expect(run.samples.first?.frontierQuality == 0.75)
        #expect(run.metrics.contains(#"phigate_shadow_evaluations_total{result="scored"} 2"#))
    }

    @Test("share 0: nothing is shadowed")
    func shareZero() async throws {
        var shadow = Self.both
        shadow.localShare = 0
        shadow.remoteShare = 0
        let run = try await Self.run(shadow: shadow) { harness in
            let replies = [try await harness.chat(chatBody(model: "auto")), try await harness.chat(chatBody(model: "smart"))]
            return replies.compactMap { $0.header("x-request-id") }
        }
        #expect(run.shadowRows.isEmpty)
        #expect(run.modelsAsked(run.remoteRequests) == ["gpt-4o-mini"])
        #expect(run.modelsAsked(run.localRequests) == ["phi-local"])
        #expect(!run.metrics.contains("phigate_shadow_evaluations_total{"))
    }

    @Test("the daily budget: shadowing stops once it is spent, with a metric and a log line")
    func budgetStops() async throws {
        // The other tier (gpt-4o-mini) costs 6 micro-dollars a call, the judge (gpt-4o) nothing: the first
        // evaluation fits in 10, the second spends it before its judge call, the third never starts.
        let shadow = ShadowConfig(
            localShare: 1, remoteModel: "gpt-4o-mini", judgeModel: "gpt-4o", budgetMicrosPerDay: 10, maxConcurrency: 1)
        let run = try await Self.run(shadow: shadow) { harness in
            var ids: [String] = []
            for _ in 0..<3 {
                let reply = try await harness.chat(chatBody(model: "auto"))
                #expect(reply.status == 200)
                ids.append(try #require(reply.header("x-request-id")))
            }
            return ids
        }
        #expect(run.shadowRows.count == 2)
        #expect(run.feedback[run.ids[0]]?.count == 2)
        let asked = run.modelsAsked(run.remoteRequests)
        #expect(asked.filter { $0 == "gpt-4o-mini" }.count == 2)
        #expect(asked.filter { $0 == Self.judgeUpstreamModel }.count == 1)
        #expect(run.metrics.contains(#"phigate_shadow_evaluations_total{result="budget_exhausted"}"#))
        #expect(run.metrics.contains("phigate_shadow_cost_usd_total"))
        #expect(run.logs.contains("Shadow evaluation budget spent"))
    }

    @Test("private requests are never shadowed: the remote spy sees no request, the local one only the requests")
    func privateNeverShadowed() async throws {
        let run = try await Self.run(shadow: Self.both) { harness in
            var ids: [String] = []
            for (body, headers) in RoutingPolicyTests.privateRequests {
                let reply = try await harness.chat(body, headers: headers)
                #expect(reply.status == 200)
                ids.append(try #require(reply.header("x-request-id")))
            }
            // Not private, but with PII (redacted before the remote call): not shadowed either.
            let email = try await harness.chat(#"{"model":"smart","messages":[{"role":"user","content":"write to jane@example.com"}]}"#)
            ids.append(try #require(email.header("x-request-id")))
            return ids
        }
        #expect(run.shadowRows.isEmpty)
        #expect(run.remoteRequests.count == 1)  // the email request itself, redacted
        #expect(!run.remoteRequests.contains { $0.bodyText.contains("123-45-6789") || $0.bodyText.contains("4111") })
        #expect(run.localRequests.count == RoutingPolicyTests.privateRequests.count)
    }

    @Test("a junk verdict is logged and records nothing; the gateway keeps serving")
    func junkVerdict() async throws {
        let run = try await Self.run(shadow: Self.both, judgeReply: "Both answers look fine to me!") { harness in
            let first = try await harness.chat(chatBody(model: "auto"))
            let second = try await harness.chat(chatBody(model: "auto"))
            #expect(first.status == 200 && second.status == 200)
            #expect(try await harness.request("GET", "/healthz").status == 200)
            return [first, second].compactMap { $0.header("x-request-id") }
        }
        #expect(run.ids.count == 2)
        #expect(run.shadowRows.isEmpty)
        #expect(run.logs.contains("Shadow judge reply has no usable scores"))
        #expect(!run.logs.contains("Say hello"))
        #expect(run.metrics.contains(#"phigate_shadow_evaluations_total{result="judge_invalid"} 2"#))
    }

    @Test("the verdict reader", arguments: [
        (#"{"a": 0.8, "b": 0.6}"#, 0.8, 0.6),
        ("```json\n{\"A\": 1, \"B\": 0}\n```", 1.0, 0.0),
        (#"Scores: {"answer_a": "0.5", "answer_b": 0.25} done"#, 0.5, 0.25),
        (#"{"reasoning": "A is right {mostly}", "score_a": 0.9, "score_b": 0.1}"#, 0.9, 0.1),
        (#"{"note": {"x": 1}} then {"a": 0.3, "b": 0.4}"#, 0.3, 0.4),
    ] as [(String, Double, Double)])
    func verdicts(reply: String, a: Double, b: Double) {
        let scores = ShadowJudge.scores(from: reply)
        #expect(scores?.a == a)
        #expect(scores?.b == b)
    }

    @Test("junk verdicts have no scores", arguments: [
        "fine", "", "{", #"{"a": 7, "b": 0.5}"#, #"{"a": true, "b": 0.5}"#, #"{"a": 0.5}"#, #"{"a": "high", "b": "low"}"#,
        #"[0.5, 0.5]"#, #"{"a": NaN, "b": 0.1}"#,
    ])
    func junk(reply: String) {
        #expect(ShadowJudge.scores(from: reply) == nil)
    }
}
