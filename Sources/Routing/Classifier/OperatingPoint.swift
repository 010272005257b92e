/// What an operator asks of the router, as a policy states it.
public enum OperatingTarget: Sendable, Hashable, Codable, CustomStringConvertible {
    /// Mean quality at least this share of frontier-only quality (e.g. 0.95), as cheaply as possible.
    case quality(Double)
    /// The best quality whose cost per 1,000 requests stays within this many USD.
    case maxCostPer1kRequests(Double)
    /// Maximise mean quality − lambda × cost per 1,000 requests (USD).
    case lambda(Double)

    enum CodingKeys: String, CodingKey { case kind, value }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let value = try c.decode(Double.self, forKey: .value)
        switch try c.decode(String.self, forKey: .kind) {
        case "quality": self = .quality(value)
        case "max_cost_per_1k_requests": self = .maxCostPer1kRequests(value)
        case "lambda": self = .lambda(value)
        case let other:
            throw DecodingError.dataCorruptedError(
                forKey: .kind, in: c, debugDescription: "expected quality, max_cost_per_1k_requests or lambda, found '\(other)'")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .quality(let v): try c.encode("quality", forKey: .kind); try c.encode(v, forKey: .value)
        case .maxCostPer1kRequests(let v): try c.encode("max_cost_per_1k_requests", forKey: .kind); try c.encode(v, forKey: .value)
        case .lambda(let v): try c.encode("lambda", forKey: .kind); try c.encode(v, forKey: .value)
        }
    }

    public var description: String {
        switch self {
        case .quality(let v): "quality \(v) of frontier-only"
        case .maxCostPer1kRequests(let v): "cost at most $\(v) per 1k requests"
        case .lambda(let v): "lambda \(v) (quality − λ·$/1k requests)"
        }
    }
}

/// The threshold chosen for a target, with where it sits relative to the curve's ends.
public struct OperatingPoint: Sendable, Hashable, Codable {
    public var target: OperatingTarget
    /// The chosen point on the Pareto front; send to the frontier when score < `point.threshold`.
    public var point: RoutingCurvePoint
    /// Whether the target is met on the curve (false: the closest point was taken, e.g. a budget below small-only).
    public var isTargetMet: Bool
    /// Mean quality as a share of frontier-only quality.
    public var qualityShareOfFrontier: Double
    /// Cost as a share of frontier-only cost.
    public var costShareOfFrontier: Double

    enum CodingKeys: String, CodingKey {
        case target, point
        case isTargetMet = "target_met"
        case qualityShareOfFrontier = "quality_share_of_frontier"
        case costShareOfFrontier = "cost_share_of_frontier"
    }
}

extension RoutingCurve {
    /// Picks the operating point for a target from the Pareto front.
    public func operatingPoint(for target: OperatingTarget) -> OperatingPoint {
        let front = paretoFront.isEmpty ? points : paretoFront
        let frontier = frontierOnly
        var chosen: RoutingCurvePoint
        var met = true
        switch target {
        case .quality(let share):
            let needed = share * frontier.meanQuality
            if let p = front.first(where: { $0.meanQuality >= needed - 1e-12 }) {
                chosen = p
            } else {
                chosen = front.max { $0.meanQuality < $1.meanQuality } ?? frontier
                met = false
            }
        case .maxCostPer1kRequests(let budget):
            if let p = front.last(where: { $0.costPer1kRequestsUSD <= budget + 1e-12 }) {
                chosen = p
            } else {
                chosen = front[0]
                met = false
            }
        case .lambda(let lambda):
            chosen = front[0]
            var best = -Double.infinity
            for p in front {
                let utility = p.meanQuality - lambda * p.costPer1kRequestsUSD
                if utility > best + 1e-15 {
                    best = utility
                    chosen = p
                }
            }
        }
        return OperatingPoint(
            target: target, point: chosen, isTargetMet: met,
            qualityShareOfFrontier: frontier.meanQuality > 0 ? chosen.meanQuality / frontier.meanQuality : 0,
            costShareOfFrontier: frontier.totalCostUSD > 0 ? chosen.totalCostUSD / frontier.totalCostUSD : 0)
    }
}
