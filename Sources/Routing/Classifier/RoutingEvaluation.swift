/// Everything `phigate classifier eval` reports for one data set: the router's curve and metrics, the random
/// and oracle baselines, AUC within each task, and the cascade replay.
public struct RoutingEvaluation: Sendable, Hashable, Codable {
    public var requests: Int
    public var curve: RoutingCurve
    public var router: RouterMetrics
    public var random: RouterMetrics
    public var oracle: RouterMetrics
    public var groups: [GroupMetrics]
    /// Classifier plus escalation of unparseable local answers; nil when the data has no `answer_parsed`.
    public var cascade: CascadeReplay?

    public struct GroupMetrics: Sendable, Hashable, Codable {
        public var group: String
        public var requests: Int
        public var smallAsGoodShare: Double
        public var router: RouterMetrics
        public var oracle: RouterMetrics
    }

    public struct CascadeReplay: Sendable, Hashable, Codable {
        /// Requests whose local answer could not be parsed.
        public var unparsedShare: Double
        public var curve: RoutingCurve
        public var metrics: RouterMetrics
    }

    public init(outcomes: [RoutedOutcome]) {
        requests = outcomes.count
        curve = RoutingCurve(outcomes: outcomes)
        router = RouterMetrics(curve: curve, auc: RouterMetrics.auc(outcomes))
        random = RouterMetrics(curve: RouterMetrics.randomCurve(outcomes), auc: 0.5)
        let oracleOutcomes = RouterMetrics.oracleOutcomes(outcomes)
        oracle = RouterMetrics(curve: RoutingCurve(outcomes: oracleOutcomes), auc: RouterMetrics.auc(oracleOutcomes))
        var byGroup: [String: [RoutedOutcome]] = [:]
        for o in outcomes { byGroup[o.group ?? "(none)", default: []].append(o) }
        groups = byGroup.keys.sorted().map { key in
            let members = byGroup[key] ?? []
            return GroupMetrics(
                group: key, requests: members.count,
                smallAsGoodShare: Double(members.filter(\.isSmallAsGood).count) / Double(max(members.count, 1)),
                router: RouterMetrics(outcomes: members),
                oracle: RouterMetrics(outcomes: RouterMetrics.oracleOutcomes(members)))
        }
        let known = outcomes.filter { $0.smallAnswerParsed != nil }
        if !known.isEmpty && known.count == outcomes.count {
            let cascadeCurve = RoutingCurve(outcomes: outcomes, escalateUnparsed: true)
            cascade = CascadeReplay(
                unparsedShare: Double(outcomes.filter { $0.smallAnswerParsed == false }.count) / Double(outcomes.count),
                curve: cascadeCurve,
                // PGR is measured against the same small-only / frontier-only ends as the plain router.
                metrics: RouterMetrics(curve: Self.anchored(cascadeCurve, to: curve), auc: nil))
        }
    }

    /// The cascade curve with the plain router's small-only point in front, so its PGR numbers use the
    /// same baseline (the cascade's own first point already escalates some requests).
    static func anchored(_ cascade: RoutingCurve, to plain: RoutingCurve) -> RoutingCurve {
        var points = cascade.points
        var start = plain.smallOnly
        start.frontierShare = 0
        points.insert(start, at: 0)
        return RoutingCurve(requests: cascade.requests, points: points)
    }
}
