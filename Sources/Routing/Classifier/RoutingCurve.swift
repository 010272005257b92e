/// One request's outcome under both choices, with the router's score: the unit of every evaluation.
public struct RoutedOutcome: Sendable, Hashable, Codable {
    /// Probability that the small model is as good; lower scores go to the frontier first.
    public var score: Double
    public var smallQuality: Double
    public var largeQuality: Double
    public var smallCostUSD: Double
    public var largeCostUSD: Double
    /// Whether the small model's answer could be parsed (for cascade replay); nil when unknown.
    public var smallAnswerParsed: Bool?
    /// The task (source dataset) the request came from, for per-task reports; never an input to the score.
    public var group: String?

    public init(
        score: Double, smallQuality: Double, largeQuality: Double, smallCostUSD: Double, largeCostUSD: Double,
        smallAnswerParsed: Bool? = nil, group: String? = nil
    ) {
        self.score = score
        self.smallQuality = smallQuality
        self.largeQuality = largeQuality
        self.smallCostUSD = smallCostUSD
        self.largeCostUSD = largeCostUSD
        self.smallAnswerParsed = smallAnswerParsed
        self.group = group
    }

    /// Small is as good as large: the classifier's positive class.
    public var isSmallAsGood: Bool { smallQuality >= largeQuality }
}

/// One operating point of a router: requests with `score < threshold` go to the frontier model.
public struct RoutingCurvePoint: Sendable, Hashable, Codable {
    public var threshold: Double
    /// Share of requests sent to the frontier, 0…1.
    public var frontierShare: Double
    public var meanQuality: Double
    public var totalCostUSD: Double
    public var costPer1kRequestsUSD: Double

    public init(threshold: Double, frontierShare: Double, meanQuality: Double, totalCostUSD: Double, costPer1kRequestsUSD: Double) {
        self.threshold = threshold
        self.frontierShare = frontierShare
        self.meanQuality = meanQuality
        self.totalCostUSD = totalCostUSD
        self.costPer1kRequestsUSD = costPer1kRequestsUSD
    }

    enum CodingKeys: String, CodingKey {
        case threshold
        case frontierShare = "frontier_share"
        case meanQuality = "mean_quality"
        case totalCostUSD = "total_cost_usd"
        case costPer1kRequestsUSD = "cost_per_1k_requests_usd"
    }
}

/// A router's quality-vs-cost curve over a data set: one point per distinct threshold, from "nothing to the
/// frontier" to "everything to the frontier", with its Pareto front.
public struct RoutingCurve: Sendable, Hashable, Codable {
    public var requests: Int
    /// Ordered by `frontierShare` ascending; the first point is small-only, the last frontier-only.
    public var points: [RoutingCurvePoint]
    /// Points no other point beats on both cost and quality, by cost ascending.
    public var paretoFront: [RoutingCurvePoint]

    enum CodingKeys: String, CodingKey {
        case requests, points
        case paretoFront = "pareto_front"
    }

    public init(requests: Int, points: [RoutingCurvePoint]) {
        self.requests = requests
        self.points = points
        self.paretoFront = Self.paretoFront(of: points)
    }

    /// The curve of a score-threshold router: each distinct score is a threshold; tied scores move together.
    public init(outcomes: [RoutedOutcome]) {
        self.init(outcomes: outcomes, escalateUnparsed: false)
    }

    /// Classifier plus cascade: requests under the threshold go to the frontier; the others are answered
    /// locally, and when `escalateUnparsed` is set, a local answer that could not be parsed is escalated
    /// (paying both models, getting the frontier's quality). `frontierShare` then counts every request that
    /// calls the frontier, escalations included.
    public init(outcomes: [RoutedOutcome], escalateUnparsed: Bool) {
        let n = outcomes.count
        let order = outcomes.indices.sorted {
            outcomes[$0].score != outcomes[$1].score ? outcomes[$0].score < outcomes[$1].score : $0 < $1
        }
        func local(_ o: RoutedOutcome) -> (quality: Double, cost: Double) {
            if escalateUnparsed && o.smallAnswerParsed == false {
                return (o.largeQuality, o.smallCostUSD + o.largeCostUSD)
            }
            return (o.smallQuality, o.smallCostUSD)
        }
        func escalates(_ o: RoutedOutcome) -> Bool { escalateUnparsed && o.smallAnswerParsed == false }
        var quality = 0.0
        var cost = 0.0
        var frontierCalls = 0
        for o in outcomes {
            let l = local(o)
            quality += l.quality
            cost += l.cost
            if escalates(o) { frontierCalls += 1 }
        }
        let count = Double(max(n, 1))
        func point(threshold: Double) -> RoutingCurvePoint {
            RoutingCurvePoint(
                threshold: threshold, frontierShare: Double(frontierCalls) / count, meanQuality: quality / count,
                totalCostUSD: cost, costPer1kRequestsUSD: cost / count * 1000)
        }
        var points = [point(threshold: order.first.map { outcomes[$0].score } ?? 0, )]
        var k = 0
        while k < n {
            let s = outcomes[order[k]].score
            while k < n && outcomes[order[k]].score == s {
                let o = outcomes[order[k]]
                let l = local(o)
                quality += o.largeQuality - l.quality
                cost += o.largeCostUSD - l.cost
                if !escalates(o) { frontierCalls += 1 }
                k += 1
            }
            let threshold = k < n ? outcomes[order[k]].score : s.nextUp
            points.append(point(threshold: threshold))
        }
        self.init(requests: n, points: points)
    }

    static func paretoFront(of points: [RoutingCurvePoint]) -> [RoutingCurvePoint] {
        let byCost = points.sorted {
            $0.totalCostUSD != $1.totalCostUSD ? $0.totalCostUSD < $1.totalCostUSD : $0.meanQuality > $1.meanQuality
        }
        var front: [RoutingCurvePoint] = []
        for p in byCost where front.last.map({ p.meanQuality > $0.meanQuality }) ?? true {
            front.append(p)
        }
        return front
    }

    public var smallOnly: RoutingCurvePoint { points[0] }
    public var frontierOnly: RoutingCurvePoint { points[points.count - 1] }

    /// Mean quality at a frontier share, linearly interpolated between points.
    public func quality(atFrontierShare share: Double) -> Double {
        guard let first = points.first else { return 0 }
        if share <= first.frontierShare { return first.meanQuality }
        for (a, b) in zip(points, points.dropFirst()) where share <= b.frontierShare {
            let t = b.frontierShare > a.frontierShare ? (share - a.frontierShare) / (b.frontierShare - a.frontierShare) : 1
            return a.meanQuality + t * (b.meanQuality - a.meanQuality)
        }
        return points[points.count - 1].meanQuality
    }
}
