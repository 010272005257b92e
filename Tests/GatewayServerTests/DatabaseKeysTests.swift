import Foundation
import OutcomeStore
import PhigateConfig
import Testing

@Suite("Gateway keys from the database (phigate keys)")
struct DatabaseKeysTests {
    private static func bearer(_ secret: String) -> [(String, String)] { [("authorization", "Bearer \(secret)")] }

    @Test("a database key authenticates beside the configuration's, with its tenant; a revoked one stops working")
    func authenticatesAndRevokes() async throws {
        let store = try OutcomeStore.inMemory()
        let keys = KeyStore(store)
        let (_, secret) = try keys.create(id: "db-key", tenant: "db-tenant")
        try await GatewayHarness.run(configure: { $0.database.keysRefresh = .milliseconds(100) }, outcomeStore: store) { gateway in
            #expect(try await gateway.chat(chatBody()).status == 200)  // the configuration's key still works
            let reply = try await gateway.chat(chatBody(), headers: Self.bearer(secret))
            #expect(reply.status == 200)
            // A key created while the server runs works within keys_refresh (a miss reloads the table).
            let (_, later) = try keys.create(id: "later", tenant: "db-tenant")
            try await Task.sleep(for: .milliseconds(150))
            #expect(try await gateway.chat(chatBody(), headers: Self.bearer(later)).status == 200)
            #expect(try keys.revoke(id: "db-key"))
            try await Task.sleep(for: .milliseconds(250))
            let revoked = try await gateway.chat(chatBody(), headers: Self.bearer(secret))
            #expect(revoked.status == 401)
            #expect(revoked.errorObject["code"] as? String == "invalid_api_key")
            #expect(try await gateway.chat(chatBody(), headers: Self.bearer("pg-not-a-key")).status == 401)
        }
        let rows = try store.requests()
        #expect(rows.contains { $0.keyID == "db-key" && $0.tenant == "db-tenant" && $0.status == 200 })
    }

    @Test("a database key is held to its allowed models (403 naming the model) and backends, routed or not")
    func allowedModelsAndBackends() async throws {
        let store = try OutcomeStore.inMemory()
        let keys = KeyStore(store)
        let (_, modelsOnly) = try keys.create(id: "mini-only", tenant: "t", allowedModels: ["gpt-4o-mini"])
        let (_, anthropicOnly) = try keys.create(id: "anthropic-only", tenant: "t", allowedBackends: ["anthropic"])
        try await GatewayHarness.run(outcomeStore: store) { gateway in
            #expect(try await gateway.chat(chatBody(), headers: Self.bearer(modelsOnly)).status == 200)
            #expect(try await gateway.chat(chatBody(model: "fast"), headers: Self.bearer(modelsOnly)).status == 200)  // alias of an allowed model
            let refused = try await gateway.chat(chatBody(model: "gpt-4o"), headers: Self.bearer(modelsOnly))
            #expect(refused.status == 403)
            #expect(refused.errorObject["code"] as? String == "model_not_allowed")
            #expect((refused.errorObject["message"] as? String)?.contains("'gpt-4o'") == true)
            let wrongBackend = try await gateway.chat(chatBody(stream: true), headers: Self.bearer(anthropicOnly))
            #expect(wrongBackend.status == 403)
            #expect(wrongBackend.errorObject["code"] as? String == "backend_not_allowed")
            #expect(try await gateway.chat(chatBody(model: "claude-3-5-sonnet"), headers: Self.bearer(anthropicOnly)).status == 200)
            #expect(gateway.upstream.requests.count == 3)
        }
    }

    @Test("a database key's own rate replaces limits.per_key")
    func ownRate() async throws {
        let store = try OutcomeStore.inMemory()
        let (_, secret) = try KeyStore(store).create(id: "slow-key", tenant: "t", requestsPerMinute: 1)
        try await GatewayHarness.run(configure: { $0.limits = LimitsConfig(perKey: RateLimit(requestsPerMinute: 100)) }, outcomeStore: store) { gateway in
            #expect(try await gateway.chat(chatBody(), headers: Self.bearer(secret)).status == 200)
            let refused = try await gateway.chat(chatBody(), headers: Self.bearer(secret))
            #expect(refused.status == 429)
            #expect((refused.errorObject["message"] as? String)?.contains("'slow-key'") == true)
            #expect(try await gateway.chat(chatBody()).status == 200)  // the configuration's key has per_key's 100
        }
    }

    @Test("with only database keys, requests must authenticate and dashboards need an admin key")
    func databaseKeysOnly() async throws {
        let store = try OutcomeStore.inMemory()
        let keys = KeyStore(store)
        let (_, user) = try keys.create(id: "user", tenant: "t")
        let (_, admin) = try keys.create(id: "admin", tenant: "t", role: "admin")
        try await GatewayHarness.run(configure: { $0.apiKeys = [] }, outcomeStore: store) { gateway in
            let anonymous = try await gateway.chat(chatBody(), headers: [])
            #expect(anonymous.status == 401)
            #expect(try await gateway.chat(chatBody(), headers: Self.bearer(user)).status == 200)
            #expect(try await gateway.request("GET", "/v1/dashboard/requests.csv", headers: Self.bearer(user)).status == 403)
            #expect(try await gateway.request("GET", "/v1/dashboard/requests.csv", headers: Self.bearer(admin)).status == 200)
        }
    }
}
