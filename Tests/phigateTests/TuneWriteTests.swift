import ArgumentParser
import Foundation
import OutcomeStore
import PhigateConfig
import Routing
import Testing

@testable import phigate

/// `phigate tune --write / --out`: the recommended threshold lands in the policy file, and only there.
@Suite("phigate tune --write")
struct TuneWriteTests {
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static let policy = """
        # Tuned from traffic.
        name: tuned
        owns: [auto]

        auto:
          local: local
          frontier: frontier
          threshold: 0.5    # hand-picked before there was traffic

        rules:
          # Everything through the classifier.
          - name: auto
            when: { model: [auto] }
            route_auto: true
        """

    /// A directory with `policy.yaml` and an outcome database of 20 requests labelled for both tiers (as shadow
    /// evaluation leaves them): local quality rises with the score, the frontier is always right.
    static func fixture() async throws -> (directory: URL, db: String, policy: String) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("phigate-tune-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let policy = directory.appendingPathComponent("policy.yaml").path
        try Self.policy.write(toFile: policy, atomically: true, encoding: .utf8)
        let db = directory.appendingPathComponent("outcomes.sqlite").path
        let store = try OutcomeStore(path: db)
        var entries: [OutcomeEntry] = []
        for i in 0..<20 {
            let score = (Double(i) + 0.5) / 20
            let isLocal = i % 2 == 0
            let id = "r\(i)"
            entries.append(.request(RequestOutcome(
                id: id, time: Date(timeIntervalSince1970: 1_790_000_000 + Double(i)), requestedModel: "auto",
                backend: isLocal ? "local" : "openai", model: isLocal ? "phi" : "gpt-4o", tier: isLocal ? .local : .remote,
                rule: "auto", difficultyScore: score, difficultyThreshold: 0.5, promptTokens: 1000, completionTokens: 100,
                costMicros: isLocal ? 0 : 3500, totalTimeMs: 10, status: 200)))
            entries.append(.feedback(OutcomeFeedback(
                requestID: id, score: score, source: .shadow, tier: .local, comment: "local", time: Date())))
            entries.append(.feedback(OutcomeFeedback(
                requestID: id, score: 1, source: .shadow, tier: .remote, comment: "remote", time: Date())))
        }
        try await store.write(entries)
        return (directory, db, policy)
    }

    static let pricing = ["--frontier-model", "gpt-4o", "--frontier-price", "2.50,10"]

    static func expectedThreshold(db: String, quality: Double) throws -> Double {
        let exporter = CSVExporter(
            store: try OutcomeStore(path: db),
            frontier: FrontierPricing(model: "gpt-4o", price: TokenPrice(inputMicrosPerMillion: 2_500_000, outputMicrosPerMillion: 10_000_000)))
        let samples = try exporter.tuningSamples().samples
        #expect(samples.count == 20)
        return ThresholdSweep.routingCurve(samples: samples).operatingPoint(for: .quality(quality)).point.threshold
    }

    @Test("--write changes auto.threshold in place; every other line stays")
    func writesInPlace() async throws {
        let (directory, db, policy) = try await Self.fixture()
        defer { try? FileManager.default.removeItem(at: directory) }
        let tune = try TuneCommand.parse(["--db", db, "--policy", policy, "--target-quality", "0.9", "--write"] + Self.pricing)
        try await tune.run()
        let threshold = try Self.expectedThreshold(db: db, quality: 0.9)
        #expect(threshold != 0.5)
        let written = try String(contentsOfFile: policy, encoding: .utf8)
        let before = Self.policy.components(separatedBy: "\n")
        let after = written.components(separatedBy: "\n")
        #expect(before.count == after.count)
        let changed = zip(before, after).filter { $0 != $1 }
        #expect(changed.count == 1)
        #expect(changed.first?.1 == "  threshold: \(PolicyEditor.formatted(threshold))    # hand-picked before there was traffic")
        #expect(try PolicyLoader.load(file: policy).policy.auto.threshold == threshold)
    }

    @Test("--out writes a new file and leaves the policy alone")
    func writesElsewhere() async throws {
        let (directory, db, policy) = try await Self.fixture()
        defer { try? FileManager.default.removeItem(at: directory) }
        let out = directory.appendingPathComponent("tuned.yaml").path
        let tune = try TuneCommand.parse(["--db", db, "--policy", policy, "--out", out, "--target-quality", "0.9"] + Self.pricing)
        try await tune.run()
        #expect(try String(contentsOfFile: policy, encoding: .utf8) == Self.policy)
        #expect(try PolicyLoader.load(file: out).policy.auto.threshold == (try Self.expectedThreshold(db: db, quality: 0.9)))
        #expect(try String(contentsOfFile: out, encoding: .utf8).contains("# Everything through the classifier."))
    }

    @Test("an invalid policy is refused and left as it was")
    func refusesInvalidPolicies() async throws {
        let (directory, db, policy) = try await Self.fixture()
        defer { try? FileManager.default.removeItem(at: directory) }
        for broken in [
            Self.policy + "\nsurprise: true\n",  // invalid before the edit
            Self.policy.replacingOccurrences(of: "  threshold: 0.5    # hand-picked before there was traffic\n", with: "  curve: missing.json\n"),
        ] {
            try broken.write(toFile: policy, atomically: true, encoding: .utf8)
            let tune = try TuneCommand.parse(["--db", db, "--policy", policy, "--write"] + Self.pricing)
            await #expect(throws: (any Error).self) { try await tune.run() }
            #expect(try String(contentsOfFile: policy, encoding: .utf8) == broken)
        }
    }

    @Test("--frontier-model must be a model of --config; --write and --out need an existing --policy")
    func validation() async throws {
        let (directory, db, policy) = try await Self.fixture()
        defer { try? FileManager.default.removeItem(at: directory) }
        let config = Self.root.appendingPathComponent("config/phigate.example.yaml").path
        #expect(throws: (any Error).self) { _ = try TuneCommand.parse(["--db", db, "--frontier-model", "gpt-5-nope", "--config", config]) }
        #expect(throws: (any Error).self) {
            _ = try TuneCommand.parse(["--db", db, "--frontier-model", "gpt-5-nope", "--frontier-price", "1,2", "--config", config])
        }
        #expect(throws: (any Error).self) { _ = try ExportCommand.parse(["--db", db, "--out", "x", "--frontier-model", "nope", "--config", config]) }
        #expect(throws: Never.self) { _ = try TuneCommand.parse(["--db", db, "--frontier-model", "gpt-4o", "--config", config]) }
        #expect(throws: (any Error).self) { _ = try TuneCommand.parse(["--db", db, "--out", "x.yaml"]) }
        #expect(throws: (any Error).self) { _ = try TuneCommand.parse(["--db", db, "--policy", policy + ".missing", "--write"]) }
    }
}
