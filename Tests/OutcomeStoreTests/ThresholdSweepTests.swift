import Routing
import Testing

@testable import OutcomeStore

@Suite("Threshold sweep")
struct ThresholdSweepTests {
    func samples() async throws -> [TuningSample] {
        let store = try await OutcomeFixtures.makeStore()
        return try CSVExporter(store: store, frontier: OutcomeFixtures.gpt4o).tuningSamples().samples
    }

    @Test("the sweep has the routing module's points, with money exact")
    func matchesRoutingCurve() async throws {
        let samples = try await samples()
        let sweep = ThresholdSweep(samples: samples)
        let curve = ThresholdSweep.routingCurve(samples: samples)
        #expect(sweep.points.count == curve.points.count)
        for (ours, theirs) in zip(sweep.points, curve.points) {
            #expect(ours.threshold == theirs.threshold)
            #expect(abs(ours.frontierShare - theirs.frontierShare) < 1e-12)
            #expect(abs(ours.meanQuality - theirs.meanQuality) < 1e-12)
            #expect(abs(Double(ours.costMicros) / 1e6 - theirs.totalCostUSD) < 1e-9)
        }
        #expect(sweep.paretoFront.map(\.threshold) == curve.paretoFront.map(\.threshold))
    }

    @Test("recommendations for a quality share and for a budget")
    func recommendations() async throws {
        let samples = try await samples()
        let sweep = ThresholdSweep(samples: samples)
        #expect(sweep.recommended(qualityShare: 0.95)?.threshold == 0.9)
        #expect(sweep.recommended(qualityShare: 0.95)?.costMicros == 14_500)
        #expect(sweep.recommended(maxCostPer1kMicros: 4_000_000)?.threshold == 0.8)
        #expect(sweep.recommended(maxCostPer1kMicros: -1) == nil)
        let curve = ThresholdSweep.routingCurve(samples: samples)
        #expect(curve.operatingPoint(for: .quality(0.95)).point.threshold == 0.9)
        #expect(curve.operatingPoint(for: .maxCostPer1kRequests(4)).point.threshold == 0.8)
    }

    @Test("dominated points are not Pareto-optimal")
    func dominated() {
        let sweep = ThresholdSweep(samples: [
            TuningSample(score: 0.1, localQuality: 1, frontierQuality: 0.5, localCostMicros: 0, frontierCostMicros: 100),
            TuningSample(score: 0.2, localQuality: 0.2, frontierQuality: 1, localCostMicros: 0, frontierCostMicros: 100),
        ])
        // Points: none (q 0.6, $0), first (q 0.35, 100µ$), both (q 0.75, 200µ$).
        #expect(sweep.points.map(\.isParetoOptimal) == [true, false, true])
        #expect(sweep.points.map(\.costMicros) == [0, 100, 200])
    }

    @Test("an empty log gives a single local-only point")
    func empty() {
        let sweep = ThresholdSweep(samples: [])
        #expect(sweep.requests == 0)
        #expect(sweep.points.count == 1)
        #expect(sweep.costPer1kMicros(sweep.points[0]) == 0)
    }
}
