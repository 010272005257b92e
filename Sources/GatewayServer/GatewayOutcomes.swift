import Backends
import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOFoundationCompat
import OpenAIWire
import OutcomeStore
import PhigateConfig
import Routing

/// The outcome log as the server uses it: a row per request (off the request path, through the recorder),
/// `POST /v1/feedback` and `GET /v1/dashboard/{name}.csv`.
struct GatewayOutcomes: Sendable {
    let recorder: OutcomeRecorder
    /// Keep prompt and answer text (never for private requests; the store enforces it too).
    let storesText: Bool
    /// The model `cost_daily.csv` compares with.
    let frontier: FrontierPricing?
    /// Which served models are local (the `tier` column).
    let tiers: ServingTiers

    static let privacyHeader = HeaderName("x-phigate-privacy")!

    /// Whether the caller marked the request private (`x-phigate-privacy: local-only`, in any of its fields).
    static func isPrivate(_ request: Request) -> Bool {
        PrivacyPolicy.isLocalOnly(request.headers[privacyHeader])
    }

    /// Records one finished request. Awaits only when the queue is full and the policy is back-pressure.
    /// `routing` is the request's routing scope (captured by the handler: streamed bodies finish outside it).
    func record(
        context: GatewayRequestContext, requestedModel: String, model: ResolvedModel?, routing: RoutingRequestScope?,
        chatRequest: ChatCompletionRequest?, isPrivate: Bool, status: Int, errorCode: String?, usage: Usage?,
        timeToFirstToken: Duration?, isStreamed: Bool, completionText: String?, upstreamFault: String? = nil
    ) async {
        let elapsed = context.startedAt.duration(to: .now)
        let totalMs = Self.milliseconds(elapsed)
        let ttftMs = timeToFirstToken.map(Self.milliseconds) ?? (status < 400 && !isStreamed ? totalMs : nil)
        let promptTokens = usage?.promptTokens ?? 0
        let completionTokens = usage?.completionTokens ?? 0
        var tokensPerSecond: Double?
        if completionTokens > 0 {
            let generationMs = totalMs - (isStreamed ? (ttftMs ?? 0) : 0)
            if generationMs > 0 { tokensPerSecond = Double(completionTokens) / (generationMs / 1000) }
        }
        let route = Self.route(
            model: model, routing: routing, tiers: tiers, status: status, errorCode: errorCode, upstreamFault: upstreamFault)
        let isPrivate = isPrivate || route.isPrivate
        let keepsText = storesText && !isPrivate
        let outcome = RequestOutcome(
            id: context.requestID, time: Date().addingTimeInterval(-totalMs / 1000), tenant: context.tenant,
            keyID: context.keyID, requestedModel: requestedModel, backend: route.answered?.backendName,
            model: route.answered?.upstreamName, tier: route.tier, rule: route.rule, decisionJSON: route.decisionJSON,
            difficultyScore: route.difficultyScore, difficultyThreshold: route.threshold, isPrivate: isPrivate,
            privacyFindings: route.privacyFindings, promptTokens: promptTokens, completionTokens: completionTokens,
            costMicros: route.answered?.price.costMicros(promptTokens: promptTokens, completionTokens: completionTokens) ?? 0,
            timeToFirstTokenMs: ttftMs, totalTimeMs: totalMs, tokensPerSecond: tokensPerSecond, status: status,
            errorCode: errorCode, attempts: route.attempts, isStreamed: isStreamed,
            promptText: keepsText ? chatRequest.map(Self.promptText) : nil,
            completionText: keepsText ? completionText : nil)
        await recorder.record(outcome)
    }

    /// Where a request went and why, for its outcome row.
    struct Route {
        /// The served model that answered (or the last one tried); nil when no backend was reached.
        var answered: ResolvedModel?
        var tier: OutcomeTier?
        var attempts: [OutcomeAttempt] = []
        var rule: String?
        var decisionJSON: String?
        var difficultyScore: Double?
        var threshold: Double?
        var isPrivate = false
        var privacyFindings: [String] = []
    }

    /// The routing columns: from the router's decision and fallback chain when the policy routed the request,
    /// from the resolved model otherwise. A routed request is priced at the model that answered.
    static func route(
        model: ResolvedModel?, routing: RoutingRequestScope?, tiers: ServingTiers, status: Int, errorCode: String?,
        upstreamFault: String? = nil
    ) -> Route {
        var route = Route()
        let failure = status >= 400 ? (upstreamFault ?? errorCode ?? "status(\(status))") : nil
        // Calls that failed and were retried (and, when routed, every candidate tried), in order.
        let tried = (routing?.attempts ?? []).map { OutcomeAttempt(backend: $0.backend, model: $0.upstreamModel, fault: $0.fault) }
        if let model, model.backendName == GatewayRouting.backendName {
            route.answered = routing?.answeredModel ?? routing?.lastTried
            route.attempts = tried
            if let last = route.attempts.indices.last, route.attempts[last].fault == nil, let failure {
                route.attempts[last].fault = failure
            }
        } else if let model {
            route.answered = model
            route.attempts = tried + [OutcomeAttempt(backend: model.backendName, model: model.upstreamName, fault: failure)]
        }
        if let answered = route.answered {
            route.tier = tiers.isLocal(backend: answered.backendName, model: answered.name) ? .local : .remote
        }
        if let explanation = routing?.decision?.explanation {
            route.rule = explanation.rule
            route.decisionJSON = (try? decisionEncoder.encode(explanation)).map { String(decoding: $0, as: UTF8.self) }
            route.difficultyScore = explanation.difficultyScore
            route.threshold = explanation.threshold
            route.isPrivate = explanation.isPrivate
            route.privacyFindings = explanation.piiFindings.keys.sorted()
        }
        return route
    }

    private static let decisionEncoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    static func milliseconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
    }

    /// The messages as `role: text` lines.
    static func promptText(_ request: ChatCompletionRequest) -> String {
        request.messages.map { "\($0.role.rawValue): \($0.content?.text ?? "")" }.joined(separator: "\n")
    }

    // MARK: - POST /v1/feedback

    /// `{"request_id": "...", "score": 0.8, "comment": "...", "source": "user" | "judge"}` → 200, 400 or 404.
    func feedback(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: 64 << 10)
        } catch is NIOTooManyBytesError {
            throw GatewayError.bodyTooLarge(limit: 64 << 10)
        }
        struct Body: Decodable {
            var request_id: String
            var score: Double
            var comment: String?
            var source: String?
        }
        let parsed: Body
        do {
            parsed = try JSONDecoder().decode(Body.self, from: Data(buffer: body))
        } catch DecodingError.keyNotFound(let key, _) {
            throw GatewayError.invalidRequest("'\(key.stringValue)' is required.", param: key.stringValue)
        } catch DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context) {
            let field = context.codingPath.first?.stringValue ?? "body"
            throw GatewayError.invalidRequest("'\(field)' has the wrong type.", param: field)
        } catch {
            throw GatewayError.invalidRequest("The body must be a JSON object like {\"request_id\": \"…\", \"score\": 0.8}.")
        }
        let requestID = parsed.request_id
        guard !requestID.isEmpty, requestID.utf8.count <= 200 else {
            throw GatewayError.invalidRequest("'request_id' must be the x-request-id of an answered request.", param: "request_id")
        }
        guard parsed.score.isFinite, (0...1).contains(parsed.score) else {
            throw GatewayError.invalidRequest("'score' must be a number from 0 to 1.", param: "score")
        }
        if let comment = parsed.comment, comment.utf8.count > 4000 {
            throw GatewayError.invalidRequest("'comment' must be at most 4000 bytes.", param: "comment")
        }
        var source = FeedbackSource.user
        if let text = parsed.source {
            guard let value = FeedbackSource(rawValue: text), value != .shadow else {
                throw GatewayError.invalidRequest("'source' must be 'user' or 'judge'.", param: "source")
            }
            source = value
        }
        let unknown = GatewayError(
            status: .notFound, message: "No answered request has the id '\(requestID.prefix(200))'.",
            type: "invalid_request_error", param: "request_id", code: "request_not_found")
        await recorder.flush()
        let owner = try recorder.store.requestOwner(id: requestID)
        // A key labels its own tenant's requests only; others read as unknown (ids are not disclosed).
        guard owner.exists, context.role == .admin || context.tenant == nil || owner.tenant == context.tenant else {
            throw unknown
        }
        let accepted = try await recorder.addFeedback(
            OutcomeFeedback(requestID: requestID, score: parsed.score, source: source, comment: parsed.comment, time: Date()))
        guard accepted else { throw unknown }
        return Response(
            status: .ok, headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(string: #"{"request_id":\#(JSONEscaping.quoted(requestID)),"recorded":true}"#)))
    }

    // MARK: - GET /v1/dashboard/{name}.csv

    /// A CSV dashboard for admin keys (or anyone on a gateway without keys, which only listens on loopback).
    /// Query: `from`, `to` (YYYY-MM-DD), `tenant`.
    func dashboard(_ request: Request, context: GatewayRequestContext, requiresAuthentication: Bool) async throws -> Response {
        guard !requiresAuthentication || context.role == .admin else {
            throw GatewayError(
                status: .forbidden, message: "Dashboards need a gateway key with role admin.",
                type: "invalid_request_error", code: "admin_required")
        }
        let file = context.parameters.get("file") ?? ""
        guard file.hasSuffix(".csv"), let dashboard = Dashboard(rawValue: String(file.dropLast(4))) else {
            throw GatewayError(
                status: .notFound,
                message: "Unknown dashboard '\(file.prefix(60))'; expected one of "
                    + Dashboard.allCases.map(\.fileName).joined(separator: ", ") + ".",
                type: "invalid_request_error", code: "unknown_dashboard")
        }
        var filter = OutcomeFilter()
        for (name, keyPath) in [("from", \OutcomeFilter.fromDay), ("to", \OutcomeFilter.toDay)] {
            if let day = request.uri.queryParameters.get(name) {
                guard OutcomeFilter.isValidDay(day) else {
                    throw GatewayError.invalidRequest("'\(name)' must be a date like 2026-11-21.", param: name)
                }
                filter[keyPath: keyPath] = day
            }
        }
        filter.tenant = request.uri.queryParameters.get("tenant")
        await recorder.flush()
        let exporter = CSVExporter(store: recorder.store, frontier: frontier)
        let query = filter
        // Off the event loops: a large export reads for a while.
        let text: String = try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(with: Result { () throws(OutcomeStoreError) -> String in try exporter.csv(dashboard, filter: query) })
            }
        }
        return Response(
            status: .ok,
            headers: [
                .contentType: "text/csv; charset=utf-8; header=present",
                .contentDisposition: "attachment; filename=\"\(dashboard.fileName)\"",
            ],
            body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}
