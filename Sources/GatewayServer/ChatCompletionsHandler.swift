import Backends
import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOFoundationCompat
import OpenAIWire
import PhigateConfig

/// `POST /v1/chat/completions`: parse once, resolve the model, call the backend, answer JSON or SSE.
final class ChatCompletionsHandler: Sendable {
    let resolved: ResolvedConfig
    let registry: BackendRegistry
    let metrics: GatewayMetrics
    let logger: Logger
    let maxBodySize: Int
    /// `GET /v1/models`, encoded once.
    let modelsListJSON: ByteBuffer
    /// The outcome log: one row per request.
    let outcomes: GatewayOutcomes
    /// Shadow evaluation, offered every answered request (it picks its share).
    let shadow: ShadowEvaluator?
    /// `limits:`: allowed models, message and `max_tokens` limits, key and tenant rates, body timeout.
    let limits: RequestLimits

    init(
        resolved: ResolvedConfig,
        registry: BackendRegistry,
        metrics: GatewayMetrics,
        logger: Logger,
        outcomes: GatewayOutcomes,
        shadow: ShadowEvaluator? = nil,
        limits: RequestLimits = RequestLimits(config: LimitsConfig())
    ) {
        self.limits = limits
        self.outcomes = outcomes
        self.shadow = shadow
        self.resolved = resolved
        self.registry = registry
        self.metrics = metrics
        self.logger = logger
        self.maxBodySize = resolved.config.server.maxBodySize
        self.modelsListJSON = ByteBuffer(string: Self.modelsList(registry))
    }

    func handle(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        metrics.requestStarted()
        var streaming = false
        defer { if !streaming { metrics.requestFinished() } }

        let chatRequest: ChatCompletionRequest
        let model: ResolvedModel
        let isPrivate = GatewayOutcomes.isPrivate(request)
        // The routing scope, captured here: a streamed body is written after the routing middleware returned.
        let routing = RoutingRequestScope.current
        var requestedModel = ""
        let admission: Admission?
        do {
            let body = try await collectBody(request)
            do {
                chatRequest = try body.withUnsafeReadableBytes { bytes throws(OpenAIError) in try ChatCompletionRequest.decode(bytes: bytes) }
            } catch {
                throw GatewayError(error)
            }
            requestedModel = chatRequest.model
            do {
                model = try registry.resolve(model: chatRequest.model)
            } catch {
                throw GatewayError(error.openAIError)
            }
            admission = try limits.admit(
                chatRequest, servedModel: model.name, keyID: context.keyID, tenant: context.tenant, grant: context.grant)
        } catch let error as GatewayError {
            metrics.recordRequest(model: "unknown", backend: "none", status: Int(error.status.code), duration: context.startedAt.duration(to: .now))
            await outcomes.record(
                context: context, requestedModel: requestedModel, model: nil, routing: routing, chatRequest: nil,
                isPrivate: isPrivate,
                status: Int(error.status.code), errorCode: error.code, usage: nil, timeToFirstToken: nil,
                isStreamed: false, completionText: nil)
            throw error
        }

        var requestLogger = logger
        if logger.logLevel <= .debug {
            requestLogger[metadataKey: "request.id"] = .string(context.requestID)
            requestLogger[metadataKey: "route.backend"] = .string(model.backendName)
            requestLogger[metadataKey: "route.model"] = .string(model.name)
        }

        if chatRequest.isStreaming {
            let response = try await startStream(
                chatRequest, model: model, routing: routing, context: context, isPrivate: isPrivate, admission: admission,
                logger: requestLogger)
            streaming = true
            return response
        }

        // The upstream body passed through (OpenAI-compatible) or encoded once by the hand-rolled writer.
        let raw: RawChatCompletion
        do {
            raw = try await model.backend.completeRaw(chatRequest, upstreamModel: model.upstreamName, logger: requestLogger)
        } catch {
            admission?.refund()
            throw await failure(
                error, model: model, routing: routing, chatRequest: chatRequest, context: context, isPrivate: isPrivate,
                isStreamed: false, logger: requestLogger)
        }
        let completion = raw.response
        admission?.settle(usage: completion.usage)
        if let usage = completion.usage { recordUsage(usage, model: routing?.answeredModel ?? model) }
        let duration = context.startedAt.duration(to: .now)
        metrics.recordRequest(model: model.name, backend: model.backendName, status: 200, duration: duration)
        requestLogger.debug("Chat completion answered", metadata: ["response.status": "200"])
        await outcomes.record(
            context: context, requestedModel: chatRequest.model, model: model, routing: routing, chatRequest: chatRequest,
            isPrivate: isPrivate, status: 200, errorCode: nil, usage: completion.usage, timeToFirstToken: nil,
            isStreamed: false, completionText: completion.choices.first?.message.content)
        shadow?.offer(
            requestID: context.requestID, request: chatRequest, routing: routing, isPrivate: isPrivate,
            answer: completion.choices.first?.message.content)
        return Response(
            status: .ok,
            headers: [.contentType: "application/json", .phigateBackend: model.backendName],
            body: ResponseBody(byteBuffer: raw.body)
        )
    }

    // MARK: - Streaming

    /// Waits for the first upstream event (so a failure before any chunk still gets a proper status), then
    /// answers 200 `text/event-stream` and forwards the rest chunk by chunk.
    private func startStream(
        _ chatRequest: ChatCompletionRequest,
        model: ResolvedModel,
        routing: RoutingRequestScope?,
        context: GatewayRequestContext,
        isPrivate: Bool,
        admission: Admission?,
        logger: Logger
    ) async throws -> Response {
        let stream = model.backend.stream(chatRequest, upstreamModel: model.upstreamName, logger: logger)
        let iterator = StreamIteratorHandoff(stream.makeAsyncIterator())
        let first: ChatStreamEvent?
        do {
            first = try await iterator.next()
        } catch {
            admission?.refund()
            throw await failure(
                error, model: model, routing: routing, chatRequest: chatRequest, context: context, isPrivate: isPrivate,
                isStreamed: true, logger: logger)
        }
        let startedAt = context.startedAt
        let keepsText = outcomes.storesText && !isPrivate
        let collectsText = keepsText || (shadow != nil && !isPrivate)
        let body = ResponseBody { writer in
            defer { self.metrics.requestFinished() }
            var usage: Usage?
            var chunks = 0
            var timeToFirstChunk: Duration?
            var text = ""
            var errorCode: String?
            var upstreamFault: String?
            func finish(status: Int) async {
                admission?.settle(usage: usage)
                self.finishStream(model: model, answeredBy: routing?.answeredModel, status: status, usage: usage, startedAt: startedAt)
                await self.outcomes.record(
                    context: context, requestedModel: chatRequest.model, model: model, routing: routing, chatRequest: chatRequest,
                    isPrivate: isPrivate, status: status, errorCode: errorCode, usage: usage,
                    timeToFirstToken: timeToFirstChunk, isStreamed: true, completionText: keepsText ? text : nil,
                    upstreamFault: upstreamFault)
                if status == 200 {
                    self.shadow?.offer(
                        requestID: context.requestID, request: chatRequest, routing: routing, isPrivate: isPrivate, answer: text)
                }
            }
            var event = first
            var status = 200
            do {
                while let current = event {
                    switch current {
                    case .chunk(let chunk):
                        // The hand-rolled writer: one allocation per chunk, no JSONEncoder.
                        try await writer.write(ByteBuffer(bytes: chunk.sseFrame()))
                        if chunks == 0 {
                            let elapsed = startedAt.duration(to: .now)
                            timeToFirstChunk = elapsed
                            self.metrics.recordTimeToFirstChunk(model: model.name, backend: model.backendName, duration: elapsed)
                        }
                        if collectsText, let content = chunk.choices.first?.delta.content { text += content }
                        chunks += 1
                    case .usage(let reported):
                        usage = reported
                    }
                    do {
                        event = try await iterator.next()
                    } catch is CancellationError {
                        throw CancellationError()
                    } catch {
                        // The upstream broke mid-stream: an SSE error event and no [DONE].
                        let gatewayError = self.gatewayError(for: error, model: model, requestID: "", logger: logger)
                        status = Int(gatewayError.status.code)
                        errorCode = gatewayError.code
                        upstreamFault = (error as? UpstreamFault)?.attemptLabel
                        try await writer.write(ByteBuffer(bytes: SSEEncoder.frame(data: Array(gatewayError.envelopeJSON.utf8))))
                        break
                    }
                }
                if status == 200 { try await writer.write(ByteBuffer(bytes: SSEEncoder.done)) }
                try await writer.finish(nil)
            } catch {
                // The client went away (a write failed) or the server is shutting down: dropping the iterator
                // cancels the upstream request.
                status = 499
                iterator.cancel()
                logger.debug("Chat completion stream abandoned by the client", metadata: ["stream.chunks": .stringConvertible(chunks)])
                errorCode = "client_closed"
                await finish(status: status)
                throw error
            }
            await finish(status: status)
        }
        return Response(
            status: .ok,
            headers: [
                .contentType: "text/event-stream",
                .cacheControl: "no-cache",
                .phigateBackend: model.backendName,
            ],
            body: body
        )
    }

    private func finishStream(
        model: ResolvedModel, answeredBy: ResolvedModel?, status: Int, usage: Usage?, startedAt: ContinuousClock.Instant
    ) {
        if let usage { recordUsage(usage, model: answeredBy ?? model) }
        metrics.recordRequest(model: model.name, backend: model.backendName, status: status, duration: startedAt.duration(to: .now))
    }

    // MARK: - Failures

    /// Records and maps a backend failure; the error carries the backend for `x-phigate-backend`.
    private func failure(
        _ error: any Error, model: ResolvedModel, routing: RoutingRequestScope?, chatRequest: ChatCompletionRequest,
        context: GatewayRequestContext, isPrivate: Bool, isStreamed: Bool, logger: Logger
    ) async -> any Error {
        if error is CancellationError {
            await outcomes.record(
                context: context, requestedModel: chatRequest.model, model: model, routing: routing, chatRequest: chatRequest,
                isPrivate: isPrivate, status: 499, errorCode: "client_closed", usage: nil, timeToFirstToken: nil,
                isStreamed: isStreamed, completionText: nil)
            return error
        }
        let mapped = gatewayError(for: error, model: model, requestID: context.requestID, logger: logger)
        metrics.recordRequest(
            model: model.name,
            backend: model.backendName,
            status: Int(mapped.status.code),
            duration: context.startedAt.duration(to: .now)
        )
        await outcomes.record(
            context: context, requestedModel: chatRequest.model, model: model, routing: routing, chatRequest: chatRequest,
            isPrivate: isPrivate, status: Int(mapped.status.code), errorCode: mapped.code, usage: nil,
            timeToFirstToken: nil, isStreamed: isStreamed, completionText: nil,
            upstreamFault: (error as? UpstreamFault)?.attemptLabel)
        return mapped
    }

    private func gatewayError(for error: any Error, model: ResolvedModel, requestID: String, logger: Logger) -> GatewayError {
        if let fault = error as? UpstreamFault {
            metrics.recordUpstreamError(backend: model.backendName, kind: fault.metricLabel)
            logger.debug("Upstream failure", metadata: ["upstream.fault": .string(fault.metricLabel)])
            var mapped = GatewayError(fault.openAIError(backend: model.backendName), backend: model.backendName)
            if let wait = fault.retryAfter, mapped.status.code == 429 || mapped.status.code == 503 {
                // Whole seconds, rounded up (RFC 9110 delay-seconds).
                let (seconds, attoseconds) = wait.components
                mapped.headers[.retryAfter] = String(max(seconds + (attoseconds > 0 ? 1 : 0), 0))
            }
            return mapped
        }
        var mapped = ErrorMapping.gatewayError(for: error, requestID: requestID, logger: logger)
        mapped.backend = model.backendName
        return mapped
    }

    private func recordUsage(_ usage: Usage, model: ResolvedModel) {
        metrics.recordUsage(
            model: model.name,
            backend: model.backendName,
            promptTokens: usage.promptTokens,
            completionTokens: usage.completionTokens,
            costUSD: model.cost(of: usage).dollars
        )
    }

    /// The body, at most `maxBodySize` bytes (413 beyond, checked on `content-length` first).
    private func collectBody(_ request: Request) async throws -> ByteBuffer {
        if let length = request.headers.firstValue(.contentLength).flatMap(Int.init), length > maxBodySize {
            throw GatewayError.bodyTooLarge(limit: maxBodySize)
        }
        do {
            return try await request.collectJSONBody(upTo: maxBodySize, timeout: limits.config.bodyTimeout)
        } catch is NIOTooManyBytesError {
            throw GatewayError.bodyTooLarge(limit: maxBodySize)
        }
    }

    // MARK: - Fixed documents

    /// OpenAI's list shape: every served model name and alias, owned by its backend.
    static func modelsList(_ registry: BackendRegistry) -> String {
        let entries = registry.listedModels.map { model in
            #"{"id":\#(JSONEscaping.quoted(model.id)),"object":"model","created":0,"owned_by":\#(JSONEscaping.quoted(model.backend))}"#
        }
        return #"{"object":"list","data":[\#(entries.joined(separator: ","))]}"#
    }
}

/// Moves a backend stream's iterator from the handler (which reads the first event) to the response body
/// writer (which reads the rest). Invariant: the two never run at the same time — the handler has returned
/// before Hummingbird starts the body writer — so the iterator is only ever used by one task at a time.
private final class StreamIteratorHandoff: @unchecked Sendable {
    private var iterator: AsyncThrowingStream<ChatStreamEvent, any Error>.Iterator?

    init(_ iterator: AsyncThrowingStream<ChatStreamEvent, any Error>.Iterator) {
        self.iterator = iterator
    }

    func next() async throws -> ChatStreamEvent? {
        guard var current = iterator else { return nil }
        defer { iterator = current }
        return try await current.next()
    }

    /// Drops the iterator, which cancels the upstream request.
    func cancel() { iterator = nil }
}
