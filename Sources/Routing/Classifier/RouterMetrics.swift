/// RouteLLM's summary numbers for a router, plus ranking quality.
///
/// With `w` the small-only and `s` the frontier-only mean quality, the performance gap recovered at a point is
/// PGR = (quality − w) / (s − w). APGR is the area under quality vs frontier-call share (trapezoids over the
/// curve's points, share from 0 to 1) minus w, divided by (s − w): RouteLLM's `apgr_metric`. CPT(x) is the least
/// frontier-call share at which the (linearly interpolated) curve reaches PGR = x. AUC is the ROC AUC of the score
/// for "small is as good as large" (ties count one half).
public struct RouterMetrics: Sendable, Hashable, Codable {
    public var apgr: Double
    /// CPT(50%), share 0…1; nil when never reached.
    public var cpt50: Double?
    /// CPT(80%), share 0…1; nil when never reached.
    public var cpt80: Double?
    /// nil for routers without a per-request score (random) or when one class is missing.
    public var auc: Double?

    enum CodingKeys: String, CodingKey {
        case apgr
        case cpt50 = "cpt_50"
        case cpt80 = "cpt_80"
        case auc
    }

    public init(apgr: Double, cpt50: Double?, cpt80: Double?, auc: Double?) {
        self.apgr = apgr
        self.cpt50 = cpt50
        self.cpt80 = cpt80
        self.auc = auc
    }

    public init(curve: RoutingCurve, auc: Double?) {
        self.init(
            apgr: Self.apgr(curve), cpt50: Self.callPerformanceThreshold(curve, recovered: 0.5),
            cpt80: Self.callPerformanceThreshold(curve, recovered: 0.8), auc: auc)
    }

    /// The score router's metrics on a data set.
    public init(outcomes: [RoutedOutcome]) {
        self.init(curve: RoutingCurve(outcomes: outcomes), auc: Self.auc(outcomes))
    }

    public static func apgr(_ curve: RoutingCurve) -> Double {
        let w = curve.smallOnly.meanQuality
        let s = curve.frontierOnly.meanQuality
        guard s != w else { return 0 }
        var area = 0.0
        for (a, b) in zip(curve.points, curve.points.dropFirst()) {
            area += (b.frontierShare - a.frontierShare) * (a.meanQuality + b.meanQuality) / 2
        }
        let span = curve.frontierOnly.frontierShare - curve.smallOnly.frontierShare
        return (area - w * span) / ((s - w) * span)
    }

    public static func callPerformanceThreshold(_ curve: RoutingCurve, recovered x: Double) -> Double? {
        let w = curve.smallOnly.meanQuality
        let target = w + x * (curve.frontierOnly.meanQuality - w)
        let eps = 1e-12
        if curve.points[0].meanQuality >= target - eps { return curve.points[0].frontierShare }
        for (a, b) in zip(curve.points, curve.points.dropFirst()) where b.meanQuality >= target - eps {
            let t = b.meanQuality > a.meanQuality ? (target - a.meanQuality) / (b.meanQuality - a.meanQuality) : 1
            return a.frontierShare + min(max(t, 0), 1) * (b.frontierShare - a.frontierShare)
        }
        return nil
    }

    /// ROC AUC of the score for `isSmallAsGood` (Mann–Whitney with average ranks); nil if a class is empty.
    public static func auc(_ outcomes: [RoutedOutcome]) -> Double? {
        let sorted = outcomes.sorted { $0.score < $1.score }
        var positives = 0.0
        var rankSum = 0.0
        var k = 0
        while k < sorted.count {
            var j = k
            while j < sorted.count && sorted[j].score == sorted[k].score { j += 1 }
            let averageRank = Double(k + j + 1) / 2  // ranks k+1 … j
            for i in k..<j where sorted[i].isSmallAsGood {
                positives += 1
                rankSum += averageRank
            }
            k = j
        }
        let negatives = Double(sorted.count) - positives
        guard positives > 0 && negatives > 0 else { return nil }
        return (rankSum - positives * (positives + 1) / 2) / (positives * negatives)
    }

    /// The expected curve of a router that sends a random share of requests to the frontier: a straight line
    /// from small-only to frontier-only (APGR 0.5, CPT(x) = x), sampled at `steps` + 1 shares.
    public static func randomCurve(_ outcomes: [RoutedOutcome], steps: Int = 100) -> RoutingCurve {
        let n = Double(max(outcomes.count, 1))
        let qs = outcomes.reduce(0) { $0 + $1.smallQuality } / n
        let ql = outcomes.reduce(0) { $0 + $1.largeQuality } / n
        let cs = outcomes.reduce(0) { $0 + $1.smallCostUSD }
        let cl = outcomes.reduce(0) { $0 + $1.largeCostUSD }
        let points = (0...steps).map { k -> RoutingCurvePoint in
            let f = Double(k) / Double(steps)
            let cost = cs + f * (cl - cs)
            return RoutingCurvePoint(
                threshold: f, frontierShare: f, meanQuality: qs + f * (ql - qs), totalCostUSD: cost,
                costPer1kRequestsUSD: cost / n * 1000)
        }
        return RoutingCurve(requests: outcomes.count, points: points)
    }

    /// The oracle knows each outcome: it sends requests to the frontier in order of the quality gained.
    public static func oracleOutcomes(_ outcomes: [RoutedOutcome]) -> [RoutedOutcome] {
        outcomes.map { o in
            var o = o
            o.score = o.smallQuality - o.largeQuality
            return o
        }
    }
}
