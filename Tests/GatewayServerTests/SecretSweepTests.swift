import FakeUpstream
import Foundation
import OutcomeStore
import PhigateConfig
import Testing

/// One run with provider keys, configuration and database gateway keys, wrong keys and PII-bearing private
/// requests; then every place the gateway writes to is searched for the secrets and the private texts.
@Suite("Secret sweep: logs, metrics, error bodies, outcome rows and CSV exports")
struct SecretSweepTests {
    /// Private texts: PII and a marker phrase, sent only with `x-phigate-privacy: local-only`.
    static let privateTexts = ["jane.doe@example.com", "555-867-5309", "078-05-1120", "PRIVATE-PHRASE-7f3a91"]
    static let wrongKey = "pg-WRONGKEY-TESTSECRET-0c9d8e"

    @Test("none of the secrets or private texts appear anywhere the gateway writes")
    func sweep() async throws {
        let store = try OutcomeStore.inMemory(options: .init(storesText: true))
        let (_, databaseKey) = try KeyStore(store).create(id: "db-key", tenant: "db-tenant")
        let secrets = TestSecrets.all + [databaseKey, Self.wrongKey]
        let script: FakeUpstream.Script = { request in
            // An upstream failure whose body echoes the prompt: the gateway must not pass it on.
            if request.bodyText.contains("fail-echo") {
                return .openAIError(status: 500, message: "internal failure for prompt \(Self.privateTexts[3])")
            }
            return FakeUpstream.standardScript(request)
        }
        let bodies = ErrorBodies()
        nonisolated(unsafe) var logs = ""
        nonisolated(unsafe) var metrics = ""
        try await GatewayHarness.run(
            script: script,
            configure: {
                $0.database.storesText = true
                $0.limits = LimitsConfig(maxTokens: 1000, keys: ["db-key": RateLimit(requestsPerMinute: 6)])
            },
            outcomeStore: store
        ) { gateway in
            let prompt = "Email me at \(Self.privateTexts[0]) or call \(Self.privateTexts[1]); SSN \(Self.privateTexts[2]). \(Self.privateTexts[3])"
            let privately: [(String, String)] = [("x-phigate-privacy", "local-only")]
            for key in [TestSecrets.gatewayKey, databaseKey] {
                let headers = [("authorization", "Bearer \(key)")] + privately
                for model in ["gpt-4o-mini", "claude-3-5-sonnet"] {
                    for stream in [false, true] {
                        let body = #"{"model":"\#(model)","stream":\#(stream),"messages":[{"role":"user","content":"\#(prompt)"}]}"#
                        bodies.add(try await gateway.chat(body, headers: headers))
                    }
                }
                // Failures: upstream 500 echoing the prompt, max_tokens over the limit, malformed JSON after the text.
                bodies.add(try await gateway.chat(
                    #"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"fail-echo \#(prompt)"}]}"#, headers: headers))
                bodies.add(try await gateway.chat(
                    #"{"model":"gpt-4o-mini","max_tokens":5000,"messages":[{"role":"user","content":"\#(prompt)"}]}"#, headers: headers))
                bodies.add(try await gateway.chat(#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"\#(prompt)"#, headers: headers))
            }
            // The database key's rate limit, and wrong keys.
            for _ in 0..<3 {
                bodies.add(try await gateway.chat(chatBody(), headers: [("authorization", "Bearer \(databaseKey)")]))
            }
            bodies.add(try await gateway.chat(chatBody(), headers: [("authorization", "Bearer \(Self.wrongKey)")]))
            bodies.add(try await gateway.chat(chatBody(), headers: [("authorization", Self.wrongKey)]))
            bodies.add(try await gateway.request("GET", "/v1/dashboard/requests.csv", headers: [("authorization", "Bearer \(databaseKey)")]))
            bodies.add(try await gateway.request("GET", "/metrics"))
            #expect(bodies.statuses.contains(200) && bodies.statuses.contains(429) && bodies.statuses.contains(401))
            #expect(bodies.statuses.contains(400) && bodies.statuses.contains(502))
            // The traffic did reach the upstream with the provider keys.
            #expect(gateway.upstream.requests.contains { $0.header("authorization") == "Bearer \(TestSecrets.openAIKey)" })
            #expect(gateway.upstream.requests.contains { $0.header("x-api-key") == TestSecrets.anthropicKey })
            logs = gateway.logText
            metrics = try await gateway.metricsText()
        }
        let rows = try store.requests()
        #expect(rows.count >= 16)
        #expect(rows.contains { $0.keyID == "db-key" && $0.isPrivate })
        var csv = ""
        for includesText in [false, true] {
            let exporter = CSVExporter(store: store, includesText: includesText)
            for dashboard in Dashboard.allCases { csv += try exporter.csv(dashboard) }
        }
        #expect(logs.contains("db-key") || logs.contains("Chat completion"))  // the log handler did capture
        let places: [(String, String)] = [
            ("logs", logs), ("metrics", metrics), ("response bodies and headers", bodies.text(relayingUpstream: false)),
            ("outcome rows", rows.map { String(describing: $0) }.joined()), ("CSV", csv),
        ]
        // An upstream's own error message is relayed to the caller who sent the request (here it echoes the caller's
        // prompt back to them); it must still carry no secret.
        for secret in secrets { #expect(!bodies.text(relayingUpstream: true).contains(secret), "a secret in a relayed upstream error") }
        #expect(csv.contains("db-key"))  // the sweep looks at real exports
        for (place, text) in places {
            for secret in secrets { #expect(!text.contains(secret), "a secret in \(place)") }
            for secret in secrets { #expect(!text.contains(secret.suffix(16)), "part of a secret in \(place)") }
            for privateText in Self.privateTexts { #expect(!text.contains(privateText), "'\(privateText)' in \(place)") }
        }
    }
}

/// Every response body and header seen, for the sweep.
final class ErrorBodies: @unchecked Sendable {
    // Only used from the test's own task, one request at a time.
    private var replies: [Reply] = []

    func add(_ reply: Reply) { replies.append(reply) }
    var statuses: Set<Int> { Set(replies.map(\.status)) }
    /// The bodies and headers; `relayingUpstream` picks the 5xx answers that quote an upstream's message, or the rest.
    func text(relayingUpstream: Bool) -> String {
        replies.filter { ($0.errorObject["code"] as? String)?.hasPrefix("upstream_status") == relayingUpstream }.map { reply in reply.body + reply.headers.map { "\($0.0): \($0.1)" }.joined(separator: "\n") }.joined(separator: "\n")
    }
}
