public import OpenAIWire
public import Routing

/// What went wrong talking to an upstream, as a value that retry/fallback policy can switch on.
/// Descriptions never contain provider keys or request bodies.
public enum UpstreamFault: Error, Sendable, Hashable, CustomStringConvertible {
    /// A phase of the exchange took longer than its configured timeout.
    case timeout(TimeoutPhase)
    /// The upstream could not be reached (refused, DNS, TLS).
    case connectionRefused
    /// The connection closed or reset before the response was complete.
    case connectionReset
    /// The upstream answered with a non-2xx status; `message` is a summary of its error body, `retryAfter` its
    /// `Retry-After` (or `retry-after-ms`) header when it sent one.
    case status(code: Int, message: String, retryAfter: Duration? = nil)
    /// A stream ended without its end marker after `afterChunks` forwarded chunks.
    case brokenStream(afterChunks: Int)
    /// A stream carried an error event from the upstream.
    case streamError(message: String, afterChunks: Int)
    /// The upstream's body could not be understood.
    case malformedResponse(String)
    /// The backend's key variable is not set; its models cannot be served.
    case missingAPIKey(backend: String, variable: String)
    /// The request uses a feature this backend cannot express (`param` names the field).
    case unsupported(param: String, message: String)
    /// The backend's circuit breaker is open: the upstream was not called. It may be probed after `retryAfter`.
    case circuitOpen(retryAfter: Duration)

    /// Which part of an upstream exchange timed out.
    public enum TimeoutPhase: String, Sendable, Hashable {
        case connect
        case firstByte = "first byte"
        case total
        /// A stream fell silent for longer than `timeouts.idle` after it started.
        case idle = "stream idle"
    }

    public var description: String {
        switch self {
        case .timeout(let phase): "upstream timed out (\(phase.rawValue))"
        case .connectionRefused: "upstream unreachable (connection refused or failed)"
        case .connectionReset: "upstream closed the connection"
        case .status(let code, let message, _): "upstream answered \(code): \(message)"
        case .brokenStream(let chunks): "upstream stream ended early after \(chunks) chunks"
        case .streamError(let message, let chunks): "upstream stream error after \(chunks) chunks: \(message)"
        case .malformedResponse(let detail): "upstream response malformed: \(detail)"
        case .missingAPIKey(let backend, let variable): "backend '\(backend)' has no API key (\(variable) is not set)"
        case .unsupported(let param, let message): "\(param): \(message)"
        case .circuitOpen: "upstream circuit open after repeated failures; not called"
        }
    }

    /// A short label for metrics (`upstream_errors_total{fault=…}`).
    public var metricLabel: String {
        switch self {
        case .timeout: "timeout"
        case .connectionRefused: "connection_refused"
        case .connectionReset: "connection_reset"
        case .status: "status"
        case .brokenStream: "broken_stream"
        case .streamError: "stream_error"
        case .malformedResponse: "malformed_response"
        case .missingAPIKey: "missing_api_key"
        case .unsupported: "unsupported"
        case .circuitOpen: "circuit_open"
        }
    }

    /// The fault as one attempt of the outcome log's chain: `status(503)`, or the metric label.
    public var attemptLabel: String {
        if case .status(let code, _, _) = self { return "status(\(code))" }
        return metricLabel
    }

    /// How long the upstream (or the breaker) asked to wait before calling again, when it said.
    public var retryAfter: Duration? {
        switch self {
        case .status(_, _, let retryAfter): retryAfter
        case .circuitOpen(let retryAfter): retryAfter
        default: nil
        }
    }

    /// Whether the call may be made again: the fault happened before any answer was forwarded and says the
    /// upstream may answer next time (refused, reset, connect or first-byte timeout, 408, 429, 500, 502–504,
    /// Anthropic's 529 overloaded). Never other 4xx, a total or idle timeout, a broken or malformed answer, or an
    /// open circuit.
    public var isRetryable: Bool {
        switch self {
        case .timeout(let phase): phase == .connect || phase == .firstByte
        case .connectionRefused, .connectionReset: true
        case .status(let code, _, _): [408, 429, 500, 502, 503, 504, 529].contains(code)
        case .brokenStream, .streamError, .malformedResponse, .missingAPIKey, .unsupported, .circuitOpen: false
        }
    }

    /// What the fault says about the upstream's health, for its circuit breaker: transport faults, timeouts,
    /// 5xx and broken answers are failures; 429 and faults before any call say nothing; other 4xx mean it answered.
    public var breakerResult: CircuitBreaker.CallResult {
        switch self {
        case .timeout, .connectionRefused, .connectionReset, .brokenStream, .streamError, .malformedResponse: .failure
        case .status(let code, _, _): code >= 500 || code == 408 ? .failure : (code == 429 ? .ignored : .success)
        case .missingAPIKey, .circuitOpen: .ignored
        case .unsupported: .success
        }
    }

    /// A 400 whose message says the prompt does not fit the model's context.
    public var isContextLengthExceeded: Bool {
        guard case .status(400, let message, _) = self else { return false }
        let text = message.lowercased()
        return ["context length", "context_length", "context window", "prompt is too long", "too many tokens"]
            .contains { text.contains($0) }
    }

    /// The client-facing error: timeouts 504, missing key and open circuit 503, unsupported and upstream 400s
    /// 400 (the upstream's message; `context_length_exceeded` when it says so), upstream 429 429, everything
    /// else 502. `retryAfter` goes in the response's `Retry-After` header.
    public func openAIError(backend: String) -> OpenAIError {
        switch self {
        case .status(429, let message, _):
            OpenAIError(
                status: 429, message: "Backend '\(backend)' is rate limited: \(message)", type: "rate_limit_error",
                code: "upstream_rate_limited")
        case .status(400, let message, _):
            .invalidRequest(
                "Backend '\(backend)' rejected the request: \(message)",
                code: isContextLengthExceeded ? "context_length_exceeded" : "upstream_invalid_request")
        case .circuitOpen:
            OpenAIError(
                status: 503, message: "Backend '\(backend)': \(description).", type: "api_error", code: "upstream_circuit_open")
        case .timeout:
            OpenAIError(status: 504, message: "Backend '\(backend)': \(description).", type: "api_error", code: "upstream_timeout")
        case .missingAPIKey:
            OpenAIError(status: 503, message: "\(description).", type: "api_error", code: "backend_unavailable")
        case .unsupported(let param, let message):
            .invalidRequest("\(param): \(message)", param: param, code: "unsupported_parameter")
        case .status(let code, _, _):
            OpenAIError(
                status: 502, message: "Backend '\(backend)': \(description).", type: "api_error",
                code: "upstream_status_\(code)")
        default:
            OpenAIError(status: 502, message: "Backend '\(backend)': \(description).", type: "api_error", code: "upstream_error")
        }
    }
}
