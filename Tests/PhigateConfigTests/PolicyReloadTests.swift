import Foundation
import PhigateConfig
import Routing
import Testing

@Suite struct PolicyReloadTests {
    static let catalog = RoutingCatalog(
        entries: [.init(model: "phi", backend: "local", isLocal: true), .init(model: "gpt-4o", backend: "openai", isLocal: false)],
        tiers: ["local": ["local"], "frontier": ["openai"]])

    @Test func invalidNewPolicyIsRejectedAndTheOldOneKeepsServing() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("phigate-reload-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("p.yaml")
        try "rules: [{ name: one, route: [tier:frontier] }]".write(to: file, atomically: true, encoding: .utf8)

        let holder = try PolicyHolder(file: file.path, catalog: Self.catalog)
        #expect(holder.current.engine.decision(for: RequestFeatures(model: "auto")).routeHeader == "openai/gpt-4o")

        try "rules: [{ name: two, route: [tier:nowhere] }]".write(to: file, atomically: true, encoding: .utf8)
        guard case .rejected(let error) = holder.reload() else {
            Issue.record("expected the invalid policy to be rejected")
            return
        }
        #expect(error.description.contains("rules[0].route[0]: no tier named 'nowhere'"))
        #expect(holder.current.generation == 1)
        #expect(holder.current.engine.decision(for: RequestFeatures(model: "auto")).explanation.rule == "one")
        #expect(holder.reload(onlyIfChanged: true).isUnchanged)

        try "rules: [{ name: three, route: [tier:local] }]".write(to: file, atomically: true, encoding: .utf8)
        guard case .reloaded(let generation) = holder.reload() else {
            Issue.record("expected a reload")
            return
        }
        #expect(generation == 2)
        #expect(holder.current.engine.decision(for: RequestFeatures(model: "auto")).routeHeader == "local/phi")
    }
}

extension PolicyHolder.ReloadResult {
    var isUnchanged: Bool { if case .unchanged = self { true } else { false } }
}
