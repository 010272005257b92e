/// Token prices in integer micro-dollars per one million tokens (`$2.50` per 1M → `2_500_000`).
public struct TokenPrice: Sendable, Hashable {
    public var inputMicrosPerMillion: Int64
    public var outputMicrosPerMillion: Int64

    public init(inputMicrosPerMillion: Int64, outputMicrosPerMillion: Int64) {
        self.inputMicrosPerMillion = inputMicrosPerMillion
        self.outputMicrosPerMillion = outputMicrosPerMillion
    }

    public static let free = TokenPrice(inputMicrosPerMillion: 0, outputMicrosPerMillion: 0)

    /// Cost of these tokens in micro-dollars, rounded half up once over the sum.
    public func costMicros(promptTokens: Int64, completionTokens: Int64) -> Int64 {
        (promptTokens * inputMicrosPerMillion + completionTokens * outputMicrosPerMillion + 500_000) / 1_000_000
    }
}

/// The frontier model whose cost every request is compared with ("had everything gone to the frontier").
public struct FrontierPricing: Sendable, Hashable {
    /// Requests answered by this model count their real cost as their frontier cost.
    public var model: String
    public var price: TokenPrice

    public init(model: String, price: TokenPrice) {
        self.model = model
        self.price = price
    }
}

/// One logged request seen under both tiers: the unit of tuning.
public struct TuningSample: Sendable, Hashable {
    /// Difficulty score: probability that the local answer is as good; lower scores go to the frontier.
    public var score: Double
    public var localQuality: Double
    public var frontierQuality: Double
    public var localCostMicros: Int64
    public var frontierCostMicros: Int64

    public init(score: Double, localQuality: Double, frontierQuality: Double, localCostMicros: Int64, frontierCostMicros: Int64) {
        self.score = score
        self.localQuality = localQuality
        self.frontierQuality = frontierQuality
        self.localCostMicros = localCostMicros
        self.frontierCostMicros = frontierCostMicros
    }
}

/// One threshold of the sweep: requests with `score < threshold` go to the frontier.
public struct ThresholdPoint: Sendable, Hashable {
    public var threshold: Double
    public var frontierShare: Double
    public var meanQuality: Double
    public var costMicros: Int64
    public var isParetoOptimal: Bool

    public var localShare: Double { 1 - frontierShare }
}

/// The quality-vs-cost curve of the routing threshold over logged outcomes, with its Pareto front.
///
/// Same points as `Routing.RoutingCurve` (each distinct score is a threshold; tied scores move together), but
/// money stays in integer micro-dollars so `pareto.csv` is exact; `isParetoOptimal` marks points no other point
/// beats on both cost and quality. Operating points come from `RoutingCurve` (see `routingCurve(samples:)`).
public struct ThresholdSweep: Sendable, Hashable {
    public var requests: Int
    /// Ordered by frontier share ascending: the first point is local-only, the last frontier-only.
    public var points: [ThresholdPoint]

    public init(samples: [TuningSample]) {
        requests = samples.count
        let sorted = samples.sorted { $0.score < $1.score }
        var quality = sorted.reduce(0.0) { $0 + $1.localQuality }
        var cost = sorted.reduce(Int64(0)) { $0 + $1.localCostMicros }
        let n = Double(max(samples.count, 1))
        var points: [ThresholdPoint] = []
        func add(_ threshold: Double, frontier: Int) {
            points.append(
                ThresholdPoint(
                    threshold: threshold, frontierShare: Double(frontier) / n, meanQuality: quality / n,
                    costMicros: cost, isParetoOptimal: false))
        }
        add(sorted.first?.score ?? 0, frontier: 0)
        var k = 0
        while k < sorted.count {
            let score = sorted[k].score
            while k < sorted.count && sorted[k].score == score {
                quality += sorted[k].frontierQuality - sorted[k].localQuality
                cost += sorted[k].frontierCostMicros - sorted[k].localCostMicros
                k += 1
            }
            add(k < sorted.count ? sorted[k].score : score.nextUp, frontier: k)
        }
        for i in points.indices {
            let p = points[i]
            points[i].isParetoOptimal = !points.contains { q in
                q.costMicros <= p.costMicros && q.meanQuality >= p.meanQuality
                    && (q.costMicros < p.costMicros || q.meanQuality > p.meanQuality + 1e-12)
            }
        }
        self.points = points
    }

    public var paretoFront: [ThresholdPoint] {
        points.filter(\.isParetoOptimal).sorted { $0.costMicros < $1.costMicros }
    }

    public var frontierOnly: ThresholdPoint? { points.last }

    /// Cost per 1,000 requests of a point, in micro-dollars.
    public func costPer1kMicros(_ point: ThresholdPoint) -> Int64 {
        requests == 0 ? 0 : (point.costMicros * 1000 + Int64(requests) / 2) / Int64(requests)
    }

    /// The cheapest Pareto point whose mean quality reaches `share` of frontier-only quality; nil if none does.
    public func recommended(qualityShare share: Double) -> ThresholdPoint? {
        guard let frontier = frontierOnly else { return nil }
        return paretoFront.first { $0.meanQuality >= share * frontier.meanQuality - 1e-12 }
    }

    /// The best-quality Pareto point within a cost per 1,000 requests (micro-dollars); nil if none fits.
    public func recommended(maxCostPer1kMicros budget: Int64) -> ThresholdPoint? {
        paretoFront.last { costPer1kMicros($0) <= budget }
    }
}
