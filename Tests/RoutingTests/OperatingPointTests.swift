import Foundation
import Testing

@testable import Routing

@Test(arguments: [
    // target, expected cost per 1k requests of the chosen point, target met
    (OperatingTarget.quality(0.95), 250.0, true),  // needs 0.7125 → cheapest front point with 0.75
    (.quality(1.0), 250.0, true),  // frontier-only quality is 0.75
    (.quality(1.5), 750.0, false),  // unreachable → best quality
    (.maxCostPer1kRequests(700), 250.0, true),
    (.maxCostPer1kRequests(10_000), 750.0, true),
    (.maxCostPer1kRequests(-1), 0.0, false),
    (.lambda(0.0001), 750.0, true),  // utilities 0.5, 0.725, 0.925
    (.lambda(0.001), 0.0, true),  // utilities 0.5, 0.5, 0.25: ties keep the cheaper point
])
func operatingPointIsTakenFromTheParetoFront(target: OperatingTarget, costPer1k: Double, met: Bool) {
    let curve = RoutingCurve(outcomes: handMade)
    let op = curve.operatingPoint(for: target)
    #expect(op.point.costPer1kRequestsUSD == costPer1k)
    #expect(op.isTargetMet == met)
    #expect(curve.paretoFront.contains(op.point))
}

@Test func operatingPointAndCurveRoundTripThroughJSON() throws {
    let curve = RoutingCurve(outcomes: handMade)
    let op = curve.operatingPoint(for: .quality(0.95))
    #expect(close(op.qualityShareOfFrontier, 1.0))
    #expect(close(op.costShareOfFrontier, 0.25))
    let data = try JSONEncoder().encode(op)
    #expect(try JSONDecoder().decode(OperatingPoint.self, from: data) == op)
    #expect(String(decoding: try JSONEncoder().encode(OperatingTarget.maxCostPer1kRequests(2)), as: UTF8.self).contains("max_cost_per_1k_requests"))
    #expect(try JSONDecoder().decode(RoutingCurve.self, from: JSONEncoder().encode(curve)) == curve)
}
