import Foundation
import GRDB
@testable import OutcomeStore
import Routing
import Testing

@Suite("Gateway keys in the database")
struct KeyStoreTests {
    @Test("a created key is stored as its SHA-256 only, with its tenant, role, grants and limits")
    func createStoresHashOnly() throws {
        let store = try OutcomeStore.inMemory()
        let keys = KeyStore(store)
        let (key, secret) = try keys.create(
            id: "team-a", tenant: "acme", role: "admin", allowedModels: ["gpt-4o-mini", "fast"], allowedBackends: ["openai"],
            requestsPerMinute: 10, tokensPerMinute: 1000)
        #expect(secret.hasPrefix("pg-") && secret.count == 46)
        #expect(key.sha256 == SHA256Digest.hex(of: secret))
        let listed = try keys.list()
        #expect(listed == [key])
        // No column anywhere holds the secret.
        let dump = try store.read { db in try Row.fetchAll(db, sql: "SELECT * FROM gateway_key").map(\.description).joined() }
        #expect(!dump.contains(secret) && !dump.contains(String(secret.dropFirst(3))))
        #expect(dump.contains(key.sha256))
    }

    @Test("secrets are random, ids unique, roles checked")
    func uniqueness() throws {
        let keys = KeyStore(try OutcomeStore.inMemory())
        let first = try keys.create(id: nil, tenant: "t")
        let second = try keys.create(id: nil, tenant: "t")
        #expect(first.secret != second.secret && first.key.id != second.key.id)
        #expect(throws: KeyStore.KeyError.duplicateID(first.key.id)) { try keys.create(id: first.key.id, tenant: "t") }
        #expect(throws: KeyStore.KeyError.self) { try keys.create(id: "x", tenant: "t", role: "root") }
    }

    @Test("revoke disables a key: it stays listed, it is no longer active")
    func revoke() async throws {
        let keys = KeyStore(try OutcomeStore.inMemory())
        let (kept, _) = try keys.create(id: "kept", tenant: "t")
        _ = try keys.create(id: "gone", tenant: "t")
        #expect(try keys.revoke(id: "gone"))
        #expect(try !keys.revoke(id: "gone"))
        #expect(try !keys.revoke(id: "never"))
        #expect(try await keys.activeKeys() == [kept])
        let listed = try keys.list()
        #expect(listed.count == 2 && listed.first { $0.id == "gone" }?.isActive == false)
    }
}
