public import OpenAIWire

/// What went wrong talking to an upstream, as a value that retry/fallback policy can switch on.
/// Descriptions never contain provider keys or request bodies.
public enum UpstreamFault: Error, Sendable, Hashable, CustomStringConvertible {
    /// A phase of the exchange took longer than its configured timeout.
    case timeout(TimeoutPhase)
    /// The upstream could not be reached (refused, DNS, TLS).
    case connectionRefused
    /// The connection closed or reset before the response was complete.
    case connectionReset
    /// The upstream answered with a non-2xx status; `message` is a summary of its error body.
    case status(code: Int, message: String)
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

    /// Which part of an upstream exchange timed out.
    public enum TimeoutPhase: String, Sendable, Hashable {
        case connect
        case firstByte = "first byte"
        case total
    }

    public var description: String {
        switch self {
        case .timeout(let phase): "upstream timed out (\(phase.rawValue))"
        case .connectionRefused: "upstream unreachable (connection refused or failed)"
        case .connectionReset: "upstream closed the connection"
        case .status(let code, let message): "upstream answered \(code): \(message)"
        case .brokenStream(let chunks): "upstream stream ended early after \(chunks) chunks"
        case .streamError(let message, let chunks): "upstream stream error after \(chunks) chunks: \(message)"
        case .malformedResponse(let detail): "upstream response malformed: \(detail)"
        case .missingAPIKey(let backend, let variable): "backend '\(backend)' has no API key (\(variable) is not set)"
        case .unsupported(let param, let message): "\(param): \(message)"
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
        }
    }

    /// The client-facing error: timeouts 504, missing key 503, unsupported 400, everything else 502.
    public func openAIError(backend: String) -> OpenAIError {
        switch self {
        case .timeout:
            OpenAIError(status: 504, message: "Backend '\(backend)': \(description).", type: "api_error", code: "upstream_timeout")
        case .missingAPIKey:
            OpenAIError(status: 503, message: "\(description).", type: "api_error", code: "backend_unavailable")
        case .unsupported(let param, let message):
            .invalidRequest("\(param): \(message)", param: param, code: "unsupported_parameter")
        case .status(let code, _):
            OpenAIError(
                status: 502, message: "Backend '\(backend)': \(description).", type: "api_error",
                code: "upstream_status_\(code)")
        default:
            OpenAIError(status: 502, message: "Backend '\(backend)': \(description).", type: "api_error", code: "upstream_error")
        }
    }
}
