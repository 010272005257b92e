import Testing

@testable import Routing

/// A four-request data set whose curve is worked out by hand (costs: small 0, large 1 per request).
///
/// score  small  large      frontier share → mean quality: 0 → 0.5, 0.25 → 0.75, 0.5 → 0.75, 0.75 → 1.0, 1 → 0.75
///  0.1     0      1        area = 0.78125, w = 0.5, s = 0.75 → APGR = 1.125
///  0.2     1      1        CPT(50%): target 0.625 → 0.125; CPT(80%): target 0.7 → 0.2
///  0.3     0      1        AUC: positives (small ≥ large) at 0.2 and 0.4, negatives at 0.1 and 0.3 → 3/4
///  0.4     1      0
let handMade: [RoutedOutcome] = [
    RoutedOutcome(score: 0.1, smallQuality: 0, largeQuality: 1, smallCostUSD: 0, largeCostUSD: 1, group: "a"),
    RoutedOutcome(score: 0.2, smallQuality: 1, largeQuality: 1, smallCostUSD: 0, largeCostUSD: 1, group: "a"),
    RoutedOutcome(score: 0.3, smallQuality: 0, largeQuality: 1, smallCostUSD: 0, largeCostUSD: 1, group: "b"),
    RoutedOutcome(score: 0.4, smallQuality: 1, largeQuality: 0, smallCostUSD: 0, largeCostUSD: 1, group: "b"),
]

func close(_ a: Double?, _ b: Double, _ tolerance: Double = 1e-9) -> Bool {
    guard let a else { return false }
    return abs(a - b) <= tolerance
}

@Test func curveOfHandMadeDataHasOnePointPerThreshold() {
    let curve = RoutingCurve(outcomes: handMade)
    #expect(curve.points.map(\.frontierShare) == [0, 0.25, 0.5, 0.75, 1])
    #expect(curve.points.map(\.meanQuality) == [0.5, 0.75, 0.75, 1.0, 0.75])
    #expect(curve.points.map(\.totalCostUSD) == [0, 1, 2, 3, 4])
    #expect(curve.points.map(\.costPer1kRequestsUSD) == [0, 250, 500, 750, 1000])
    // Requests with score < threshold go to the frontier.
    #expect(curve.points.map(\.threshold) == [0.1, 0.2, 0.3, 0.4, 0.4.nextUp])
}

@Test func paretoFrontDropsDominatedPoints() {
    let curve = RoutingCurve(outcomes: handMade)
    #expect(curve.paretoFront.map(\.totalCostUSD) == [0, 1, 3])
}

@Test func apgrCptAndAucMatchHandComputedValues() {
    let m = RouterMetrics(outcomes: handMade)
    #expect(close(m.apgr, 1.125))
    #expect(close(m.cpt50, 0.125))
    #expect(close(m.cpt80, 0.2))
    #expect(close(m.auc, 0.75))
}

@Test func randomRouterHasApgrOneHalfAndCptEqualToTarget() {
    let curve = RouterMetrics.randomCurve(handMade)
    #expect(close(RouterMetrics.apgr(curve), 0.5))
    #expect(close(RouterMetrics.callPerformanceThreshold(curve, recovered: 0.5), 0.5))
    #expect(close(RouterMetrics.callPerformanceThreshold(curve, recovered: 0.8), 0.8))
}

@Test func oracleSendsLargestGainsFirstAndTiesTogether() {
    // Gains: A 1, C 1 (tied, move together), B 0, D −1 → shares 0, 0.5, 0.75, 1 → qualities 0.5, 1, 1, 0.75.
    let curve = RoutingCurve(outcomes: RouterMetrics.oracleOutcomes(handMade))
    #expect(curve.points.map(\.frontierShare) == [0, 0.5, 0.75, 1])
    #expect(curve.points.map(\.meanQuality) == [0.5, 1, 1, 0.75])
    #expect(close(RouterMetrics.apgr(curve), 1.375))
}

@Test func aucCountsTiesAsOneHalf() {
    let tied = handMade.map { o -> RoutedOutcome in
        var o = o
        o.score = 0.5
        return o
    }
    #expect(close(RouterMetrics.auc(tied), 0.5))
    #expect(RouterMetrics.auc(Array(handMade.prefix(1))) == nil)
}

@Test func evaluationReportsPerGroupAucAndBaselines() {
    let e = RoutingEvaluation(outcomes: handMade)
    #expect(e.groups.map(\.group) == ["a", "b"])
    // group a: positive B (0.2) above negative A (0.1) → 1; group b: positive D (0.4) above negative C (0.3) → 1.
    #expect(e.groups.map(\.router.auc) == [1, 1])
    #expect(close(e.random.apgr, 0.5))
    #expect(close(e.oracle.apgr, 1.375))
    #expect(e.cascade == nil)
}

@Test func cascadeReplayEscalatesUnparsedLocalAnswersAndCountsThemAsFrontierCalls() {
    var outcomes = handMade
    outcomes[2].smallAnswerParsed = false  // C: small wrong and unparseable → escalated
    for k in [0, 1, 3] { outcomes[k].smallAnswerParsed = true }
    let curve = RoutingCurve(outcomes: outcomes, escalateUnparsed: true)
    // Nothing routed: C escalated (cost 0 + 1, quality 1) → quality 0.75, frontier calls 1/4.
    #expect(curve.points[0].frontierShare == 0.25)
    #expect(curve.points[0].meanQuality == 0.75)
    #expect(curve.points[0].totalCostUSD == 1)
    // Routing C up front later does not add a frontier call and saves the small model's cost (0 here).
    #expect(curve.points.map(\.frontierShare) == [0.25, 0.5, 0.75, 0.75, 1])
    let e = RoutingEvaluation(outcomes: outcomes)
    #expect(e.cascade?.unparsedShare == 0.25)
}
