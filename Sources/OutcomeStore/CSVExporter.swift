public import Foundation
import GRDB

/// The CSV dashboards. Every file has a header row; fields follow RFC 4180 (comma-separated, CRLF line ends,
/// fields with a comma, quote, CR or LF in double quotes with quotes doubled). Days are UTC `YYYY-MM-DD`.
/// Money is USD with six decimals, computed from integer micro-dollars (exact); shares and scores have six
/// decimals; milliseconds and tokens/s three. An empty field means "no value" (no backend, no label, no price).
public enum Dashboard: String, Sendable, Hashable, CaseIterable {
    /// Per day × tenant × backend × model.
    case costDaily = "cost_daily"
    /// Per backend × model × rule.
    case quality
    /// Per backend × model, successful requests (status < 400) only.
    case latency
    /// Per rule.
    case routes
    /// The threshold sweep over requests that have a difficulty score and a quality for both tiers.
    case pareto
    /// One row per request.
    case requests

    public var fileName: String { rawValue + ".csv" }

    /// Column names and what each holds.
    public var columns: [(name: String, meaning: String)] {
        switch self {
        case .costDaily:
            [
                ("day", "UTC day"), ("tenant", "tenant, empty when none"), ("backend", "backend that answered"),
                ("model", "upstream model"), ("requests", "requests"), ("prompt_tokens", "prompt tokens"),
                ("completion_tokens", "completion tokens"), ("cost_usd", "actual cost"),
                ("frontier_cost_usd", "cost had every request gone to the frontier model (its real cost where it did; otherwise its tokens at the frontier price, rounded once per row); empty without a price"),
                ("saving_usd", "frontier_cost_usd − cost_usd"),
            ]
        case .quality:
            [
                ("backend", "backend"), ("model", "model"), ("rule", "routing rule, empty when none"),
                ("requests", "requests"),
                ("labelled_requests", "requests with at least one label for the answer given"),
                ("mean_score", "mean over labelled requests of each request's mean label"),
                ("score_threshold", "the threshold of the next column"),
                ("share_below_threshold", "share of labelled requests whose label is below score_threshold"),
            ]
        case .latency:
            [
                ("backend", "backend"), ("model", "model"), ("requests", "successful requests"),
                ("ttft_p50_ms", "time to first token, 50th percentile (nearest rank)"),
                ("ttft_p90_ms", "… 90th"), ("ttft_p99_ms", "… 99th"),
                ("total_p50_ms", "total time, 50th percentile (nearest rank)"), ("total_p90_ms", "… 90th"),
                ("total_p99_ms", "… 99th"), ("tokens_per_second_mean", "mean generation speed"),
            ]
        case .routes:
            [
                ("rule", "routing rule, empty when none"), ("hits", "requests"),
                ("share_local", "share answered by the local tier"),
                ("share_fallback", "share that tried more than one backend"),
                ("errors", "requests answered with status >= 400"),
            ]
        case .pareto:
            [
                ("threshold", "send to the frontier when score < threshold"), ("requests", "requests in the sweep"),
                ("frontier_share", "share sent to the frontier"), ("local_share", "share kept local"),
                ("mean_quality", "mean quality"), ("cost_usd", "total cost"),
                ("cost_per_1k_requests_usd", "cost per 1,000 requests"),
                ("pareto_optimal", "true when no other threshold is both cheaper-or-equal and better-or-equal"),
            ]
        case .requests:
            [
                ("id", "x-request-id"), ("time", "UTC, ISO 8601 with milliseconds"), ("tenant", "tenant"),
                ("key_id", "gateway key id"), ("requested_model", "model asked for"), ("backend", "backend"),
                ("model", "model"), ("tier", "local or remote"), ("rule", "routing rule"),
                ("difficulty_score", "classifier score"), ("difficulty_threshold", "threshold used"),
                ("private", "true for private requests"), ("privacy_findings", "finding types, ';'-separated"),
                ("prompt_tokens", "prompt tokens"), ("completion_tokens", "completion tokens"),
                ("cost_usd", "cost"), ("ttft_ms", "time to first token"), ("total_ms", "total time"),
                ("tokens_per_second", "generation speed"), ("status", "HTTP status"), ("error_code", "error code"),
                ("fallbacks", "backends tried after the first"),
                ("attempts", "backend/model[:fault] per attempt, ';'-separated"), ("streamed", "true when streamed"),
                ("labels", "quality labels for the answer given"), ("mean_score", "their mean"),
                ("decision", "routing explanation (JSON)"),
                ("prompt_text", "only with text requested and stored"), ("completion_text", "same"),
            ]
        }
    }
}

/// Builds the CSV dashboards from an outcome store.
public struct CSVExporter: Sendable {
    public var store: OutcomeStore
    /// Prices for the counterfactual frontier cost and for tuning; nil leaves those columns empty.
    public var frontier: FrontierPricing?
    /// Price of local answers when a request was answered remotely (tuning only); usually free.
    public var localPrice: TokenPrice
    /// `quality.csv`'s `share_below_threshold` threshold.
    public var scoreThreshold: Double
    /// Include `prompt_text` and `completion_text` in `requests.csv` (only what was stored).
    public var includesText: Bool

    public init(
        store: OutcomeStore, frontier: FrontierPricing? = nil, localPrice: TokenPrice = .free,
        scoreThreshold: Double = 0.5, includesText: Bool = false
    ) {
        self.store = store
        self.frontier = frontier
        self.localPrice = localPrice
        self.scoreThreshold = scoreThreshold
        self.includesText = includesText
    }

    /// One dashboard as CSV text.
    public func csv(_ dashboard: Dashboard, filter: OutcomeFilter = OutcomeFilter()) throws(OutcomeStoreError) -> String {
        let header = dashboard.columns.map(\.name).filter { includesText || dashboard != .requests || !$0.hasSuffix("_text") }
        let rows: [[String]]
        switch dashboard {
        case .costDaily: rows = try costDailyRows(filter)
        case .quality: rows = try qualityRows(filter)
        case .latency: rows = try latencyRows(filter)
        case .routes: rows = try routesRows(filter)
        case .pareto: rows = try paretoRows(filter)
        case .requests: rows = try requestRows(filter)
        }
        return Self.encode([header] + rows)
    }

    /// Writes every dashboard into `directory` (created if needed); `progress` gets each file's name when done.
    public func export(
        to directory: URL, filter: OutcomeFilter = OutcomeFilter(), progress: (Dashboard, Int, Int) -> Void = { _, _, _ in }
    ) throws(OutcomeStoreError) {
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw .export("cannot create '\(directory.path)': \(error)")
        }
        for (index, dashboard) in Dashboard.allCases.enumerated() {
            let text = try csv(dashboard, filter: filter)
            let url = directory.appendingPathComponent(dashboard.fileName)
            do {
                try Data(text.utf8).write(to: url, options: .atomic)
            } catch {
                throw .export("cannot write '\(url.path)': \(error)")
            }
            progress(dashboard, index + 1, Dashboard.allCases.count)
        }
    }

    // MARK: - Dashboards

    func costDailyRows(_ filter: OutcomeFilter) throws(OutcomeStoreError) -> [[String]] {
        let (clause, arguments) = filter.sqlClause()
        let frontier = frontier
        return try store.read { db in
            try Row.fetchAll(db, sql: """
                SELECT date(time) AS day, tenant, backend, model, COUNT(*) AS requests,
                  SUM(prompt_tokens) AS prompt_tokens, SUM(completion_tokens) AS completion_tokens,
                  SUM(cost_micros) AS cost
                FROM request \(clause)
                GROUP BY day, tenant, backend, model
                ORDER BY day, tenant, backend, model
                """, arguments: arguments
            ).map { row in
                let cost: Int64 = row["cost"]
                let promptTokens: Int64 = row["prompt_tokens"]
                let completionTokens: Int64 = row["completion_tokens"]
                let model: String? = row["model"]
                var counterfactual: Int64?
                if let frontier {
                    counterfactual = model == frontier.model
                        ? cost : frontier.price.costMicros(promptTokens: promptTokens, completionTokens: completionTokens)
                }
                return [
                    row["day"], row["tenant"] ?? "", row["backend"] ?? "", model ?? "", String(row["requests"] as Int),
                    String(promptTokens), String(completionTokens), Self.usd(cost),
                    counterfactual.map(Self.usd) ?? "", counterfactual.map { Self.usd($0 - cost) } ?? "",
                ]
            }
        }
    }

    func qualityRows(_ filter: OutcomeFilter) throws(OutcomeStoreError) -> [[String]] {
        let (clause, arguments) = filter.sqlClause(prefix: "r.")
        let threshold = scoreThreshold
        return try store.read { db in
            try Row.fetchAll(db, sql: """
                WITH label AS (
                  SELECT f.request_id, AVG(f.score) AS score FROM feedback f JOIN request r ON r.id = f.request_id
                  WHERE f.tier IS NULL OR f.tier = r.tier GROUP BY f.request_id)
                SELECT r.backend, r.model, r.rule, COUNT(*) AS requests, COUNT(label.score) AS labelled,
                  AVG(label.score) AS mean_score, SUM(label.score < ?) AS below
                FROM request r LEFT JOIN label ON label.request_id = r.id \(clause)
                GROUP BY r.backend, r.model, r.rule
                ORDER BY r.backend, r.model, r.rule
                """, arguments: [threshold] + arguments
            ).map { row in
                let labelled: Int = row["labelled"]
                let below: Int = row["below"] ?? 0
                return [
                    row["backend"] ?? "", row["model"] ?? "", row["rule"] ?? "", String(row["requests"] as Int),
                    String(labelled), (row["mean_score"] as Double?).map { Self.fixed($0, 6) } ?? "",
                    Self.fixed(threshold, 6), labelled > 0 ? Self.fixed(Double(below) / Double(labelled), 6) : "",
                ]
            }
        }
    }

    func latencyRows(_ filter: OutcomeFilter) throws(OutcomeStoreError) -> [[String]] {
        var (clause, arguments) = filter.sqlClause()
        clause += clause.isEmpty ? "WHERE status < 400" : " AND status < 400"
        struct Group { var ttft: [Double] = []; var total: [Double] = []; var speeds: [Double] = []; var count = 0 }
        let rows = try store.read { db in
            try Row.fetchAll(db, sql: """
                SELECT backend, model, ttft_ms, total_ms, tokens_per_second FROM request \(clause)
                ORDER BY backend, model
                """, arguments: arguments)
        }
        var groups: [(key: [String], group: Group)] = []
        for row in rows {
            let key: [String] = [row["backend"] ?? "", row["model"] ?? ""]
            if groups.last?.key != key { groups.append((key, Group())) }
            groups[groups.count - 1].group.count += 1
            if let ttft = row["ttft_ms"] as Double? { groups[groups.count - 1].group.ttft.append(ttft) }
            groups[groups.count - 1].group.total.append(row["total_ms"])
            if let speed = row["tokens_per_second"] as Double? { groups[groups.count - 1].group.speeds.append(speed) }
        }
        return groups.map { key, group in
            let ttft = group.ttft.sorted()
            let total = group.total.sorted()
            func p(_ values: [Double], _ q: Double) -> String {
                Self.nearestRank(values, q).map { Self.fixed($0, 3) } ?? ""
            }
            let speed = group.speeds.isEmpty ? "" : Self.fixed(group.speeds.reduce(0, +) / Double(group.speeds.count), 3)
            return key + [
                String(group.count), p(ttft, 0.5), p(ttft, 0.9), p(ttft, 0.99), p(total, 0.5), p(total, 0.9),
                p(total, 0.99), speed,
            ]
        }
    }

    func routesRows(_ filter: OutcomeFilter) throws(OutcomeStoreError) -> [[String]] {
        let (clause, arguments) = filter.sqlClause()
        return try store.read { db in
            try Row.fetchAll(db, sql: """
                SELECT rule, COUNT(*) AS hits, SUM(tier = 'local') AS local, SUM(fallback_count > 0) AS fallback,
                  SUM(status >= 400) AS errors
                FROM request \(clause) GROUP BY rule ORDER BY rule
                """, arguments: arguments
            ).map { row in
                let hits: Int = row["hits"]
                let local: Int = row["local"] ?? 0
                let fallback: Int = row["fallback"] ?? 0
                return [
                    row["rule"] ?? "", String(hits), Self.fixed(Double(local) / Double(hits), 6),
                    Self.fixed(Double(fallback) / Double(hits), 6), String(row["errors"] as Int? ?? 0),
                ]
            }
        }
    }

    func paretoRows(_ filter: OutcomeFilter) throws(OutcomeStoreError) -> [[String]] {
        let sweep = ThresholdSweep(samples: try tuningSamples(filter).samples)
        return sweep.points.map { point in
            [
                Self.fixed(point.threshold, 6), String(sweep.requests), Self.fixed(point.frontierShare, 6),
                Self.fixed(point.localShare, 6), Self.fixed(point.meanQuality, 6), Self.usd(point.costMicros),
                Self.usd(sweep.costPer1kMicros(point)), point.isParetoOptimal ? "true" : "false",
            ]
        }
    }

    func requestRows(_ filter: OutcomeFilter) throws(OutcomeStoreError) -> [[String]] {
        let (clause, arguments) = filter.sqlClause(prefix: "r.")
        let includesText = includesText
        return try store.read { db in
            try Row.fetchAll(db, sql: """
                SELECT r.*, (SELECT COUNT(*) FROM feedback f WHERE f.request_id = r.id AND (f.tier IS NULL OR f.tier = r.tier)) AS labels,
                  (SELECT AVG(score) FROM feedback f WHERE f.request_id = r.id AND (f.tier IS NULL OR f.tier = r.tier)) AS mean_score
                FROM request r \(clause) ORDER BY r.time, r.id
                """, arguments: arguments
            ).map { row in
                let o = try OutcomeStore.outcome(from: row)
                var fields: [String] = [
                    o.id, Self.timestamp(o.time), o.tenant ?? "", o.keyID ?? "", o.requestedModel, o.backend ?? "",
                    o.model ?? "", o.tier?.rawValue ?? "", o.rule ?? "", o.difficultyScore.map { Self.fixed($0, 6) } ?? "",
                    o.difficultyThreshold.map { Self.fixed($0, 6) } ?? "", o.isPrivate ? "true" : "false",
                    o.privacyFindings.joined(separator: ";"), String(o.promptTokens), String(o.completionTokens),
                    Self.usd(o.costMicros), o.timeToFirstTokenMs.map { Self.fixed($0, 3) } ?? "",
                    Self.fixed(o.totalTimeMs, 3), o.tokensPerSecond.map { Self.fixed($0, 3) } ?? "", String(o.status),
                    o.errorCode ?? "", String(max(o.attempts.count - 1, 0)),
                    o.attempts.map { "\($0.backend)/\($0.model)" + ($0.fault.map { ":" + $0 } ?? "") }
                        .joined(separator: ";"),
                    o.isStreamed ? "true" : "false", String(row["labels"] as Int),
                    (row["mean_score"] as Double?).map { Self.fixed($0, 6) } ?? "", o.decisionJSON ?? "",
                ]
                if includesText { fields += [o.promptText ?? "", o.completionText ?? ""] }
                return fields
            }
        }
    }

    // MARK: - Tuning data

    /// Requests with a difficulty score and a quality for both tiers, as tuning samples; `skipped` counts scored
    /// requests that lack one of the two qualities.
    public func tuningSamples(_ filter: OutcomeFilter = OutcomeFilter()) throws(OutcomeStoreError) -> (samples: [TuningSample], skipped: Int) {
        var (clause, arguments) = filter.sqlClause(prefix: "r.")
        clause += (clause.isEmpty ? "WHERE " : " AND ") + "r.difficulty_score IS NOT NULL AND r.status < 400"
        let frontier = frontier
        let localPrice = localPrice
        let rows = try store.read { db in
            try Row.fetchAll(db, sql: """
                SELECT r.id, r.difficulty_score, r.tier, r.model, r.prompt_tokens, r.completion_tokens, r.cost_micros,
                  (SELECT AVG(score) FROM feedback f WHERE f.request_id = r.id
                     AND (f.tier = 'local' OR (f.tier IS NULL AND r.tier = 'local'))) AS local_quality,
                  (SELECT AVG(score) FROM feedback f WHERE f.request_id = r.id
                     AND (f.tier = 'remote' OR (f.tier IS NULL AND r.tier = 'remote'))) AS frontier_quality
                FROM request r \(clause) ORDER BY r.time, r.id
                """, arguments: arguments)
        }
        var samples: [TuningSample] = []
        var skipped = 0
        for row in rows {
            guard let local = row["local_quality"] as Double?, let remote = row["frontier_quality"] as Double? else {
                skipped += 1
                continue
            }
            let prompt: Int64 = row["prompt_tokens"]
            let completion: Int64 = row["completion_tokens"]
            let cost: Int64 = row["cost_micros"]
            let isLocal = (row["tier"] as String?) == OutcomeTier.local.rawValue
            let frontierCost = !isLocal
                ? cost : (frontier?.price.costMicros(promptTokens: prompt, completionTokens: completion) ?? 0)
            let localCost = isLocal ? cost : localPrice.costMicros(promptTokens: prompt, completionTokens: completion)
            samples.append(
                TuningSample(
                    score: row["difficulty_score"], localQuality: local, frontierQuality: remote,
                    localCostMicros: localCost, frontierCostMicros: frontierCost))
        }
        return (samples, skipped)
    }

    // MARK: - Formatting

    /// RFC 4180: CRLF line ends; fields with `,`, `"`, CR or LF quoted, quotes doubled.
    public static func encode(_ rows: [[String]]) -> String {
        var out = ""
        for row in rows {
            out += row.map(field).joined(separator: ",")
            out += "\r\n"
        }
        return out
    }

    static func field(_ value: String) -> String {
        guard value.contains(where: { $0 == "," || $0 == "\"" || $0 == "\r" || $0 == "\n" || $0 == "\r\n" }) else {
            return value
        }
        return "\"" + value.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// Micro-dollars as USD with six decimals, exactly.
    static func usd(_ micros: Int64) -> String {
        let sign = micros < 0 ? "-" : ""
        let magnitude = micros.magnitude
        let fraction = String(magnitude % 1_000_000)
        return sign + String(magnitude / 1_000_000) + "." + String(repeating: "0", count: 6 - fraction.count) + fraction
    }

    static func fixed(_ value: Double, _ decimals: Int) -> String {
        String(format: "%.\(decimals)f", value)
    }

    /// Nearest-rank percentile of sorted values: the smallest value with at least `q` of the values at or below it.
    static func nearestRank(_ sorted: [Double], _ q: Double) -> Double? {
        guard !sorted.isEmpty else { return nil }
        let rank = Int((q * Double(sorted.count)).rounded(.up))
        return sorted[min(max(rank, 1), sorted.count) - 1]
    }

    static func timestamp(_ date: Date) -> String {
        var style = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
        style.timeZone = TimeZone(identifier: "UTC") ?? .gmt
        return date.formatted(style)
    }
}
