import AsyncHTTPClient
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import OpenAIWire
import PhigateConfig
import Synchronization

/// Marked at every piece of the answer: the first one stands the first-byte timer down, the latest one is
/// what the idle timer measures silence from.
final class FirstByteSignal: Sendable {
    private let start = ContinuousClock.now
    /// Nanoseconds after `start` of the latest piece; -1 before the first.
    private let latest = Atomic<Int64>(-1)

    var hasArrived: Bool { latest.load(ordering: .acquiring) >= 0 }

    /// When the latest piece arrived (nil before the first).
    var lastArrival: ContinuousClock.Instant? {
        let nanoseconds = latest.load(ordering: .acquiring)
        return nanoseconds < 0 ? nil : start.advanced(by: .nanoseconds(nanoseconds))
    }

    func markArrived() {
        latest.store(max(start.duration(to: .now).nanoseconds, 0), ordering: .releasing)
    }
}

/// Shared plumbing of the remote backends: timeouts, transport-error mapping, error-body summaries.
enum UpstreamExchange {
    /// Largest non-streamed upstream body accepted.
    static let maxResponseBytes = 64 << 20
    /// Largest single stream event accepted.
    static let maxEventBytes = 8 << 20
    /// Largest error body read for its summary.
    static let maxErrorBytes = 64 << 10

    /// Runs `operation` under the first-byte, idle and total timeouts of `timeouts`; transport errors become
    /// `UpstreamFault` values. Cancelling the calling task cancels the operation (and its HTTP request).
    ///
    /// The operation runs as the one child of a task group so that a timeout cancels it and not the caller (which
    /// may go on to retry or fall back). The limits are watched by an event-loop timer, not a `Task.sleep` raced
    /// beside it: a cancelled `Task.sleep` was measured (heaptrack, `phigate dev soak`) to keep memory alive per
    /// streamed request, and the race cost a second child task.
    static func run<T: Sendable>(
        timeouts: BackendTimeouts,
        operation: @escaping @Sendable (FirstByteSignal) async throws -> T
    ) async throws -> T {
        let signal = FirstByteSignal()
        do {
            return try await withThrowingTaskGroup(of: T.self) { group in
                group.addTask {
                    let watchdog = ExchangeWatchdog(timeouts: timeouts, signal: signal)
                    return try await withUnsafeCurrentTask { task in
                        watchdog.arm(WatchedTask(task: task))
                        do {
                            let value = try await operation(signal)
                            // An answer that completed is kept even if a limit fired in the same instant.
                            _ = watchdog.disarm()
                            return value
                        } catch {
                            if let limit = watchdog.disarm() { throw UpstreamFault.timeout(limit) }
                            throw error
                        }
                    }
                }
                guard let value = try await group.next() else { throw CancellationError() }
                return value
            }
        } catch {
            throw fault(from: error)
        }
    }

    /// Maps AsyncHTTPClient / NIO errors to `UpstreamFault`; faults and cancellation pass through.
    static func fault(from error: any Error) -> any Error {
        if error is UpstreamFault || error is CancellationError { return error }
        if let clientError = error as? HTTPClientError {
            switch clientError {
            case .connectTimeout, .tlsHandshakeTimeout, .getConnectionFromPoolTimeout:
                return UpstreamFault.timeout(.connect)
            case .deadlineExceeded:
                return UpstreamFault.timeout(.total)
            case .readTimeout:
                return UpstreamFault.timeout(.firstByte)
            case .cancelled, .requestStreamCancelled:
                return Task.isCancelled ? CancellationError() : UpstreamFault.connectionReset
            case .remoteConnectionClosed, .bodyLengthMismatch:
                return UpstreamFault.connectionReset
            default:
                return UpstreamFault.connectionRefused
            }
        }
        if let ioError = error as? IOError {
            switch ioError.errnoCode {
            case ECONNREFUSED, EHOSTUNREACH, ENETUNREACH: return UpstreamFault.connectionRefused
            case ETIMEDOUT: return UpstreamFault.timeout(.connect)
            default: return UpstreamFault.connectionReset
            }
        }
        if let channelError = error as? ChannelError {
            switch channelError {
            case .connectTimeout: return UpstreamFault.timeout(.connect)
            default: return UpstreamFault.connectionReset
            }
        }
        let text = String(describing: error).lowercased()
        if text.contains("refused") || text.contains("resolve") || text.contains("dns") || text.contains("ssl")
            || text.contains("tls") || text.contains("certificate") {
            return UpstreamFault.connectionRefused
        }
        return UpstreamFault.connectionReset
    }

    /// Reads a non-2xx answer's body and turns it into `.status(code:message:)` with the provider's message
    /// summarized and any key material redacted.
    static func statusFault(_ response: HTTPClientResponse, apiKey: Secret?) async -> UpstreamFault {
        let code = Int(response.status.code)
        var body = ByteBuffer()
        do {
            for try await var piece in response.body {
                if body.readableBytes < maxErrorBytes { body.writeBuffer(&piece) }
            }
        } catch {
            // The summary is best effort; the status code is what matters.
        }
        return .status(
            code: code, message: summary(ofErrorBody: body, status: response.status, apiKey: apiKey),
            retryAfter: retryAfter(in: response.headers))
    }

    /// The wait an answer asks for: `retry-after-ms`, else `Retry-After` (see `UpstreamFault.retryAfter`).
    static func retryAfter(in headers: HTTPHeaders, now: Date = Date()) -> Duration? {
        for name in ["retry-after-ms", "retry-after"] {
            if let value = headers.first(name: name), let wait = UpstreamFault.retryAfter(header: name, value: value, now: now) {
                return wait
            }
        }
        return nil
    }

    /// The provider's error message (`error.message` of OpenAI and Anthropic envelopes) or the start of the body,
    /// at most 300 characters, keys redacted.
    static func summary(ofErrorBody body: ByteBuffer, status: HTTPResponseStatus, apiKey: Secret?) -> String {
        var message: String?
        if let json = try? JSONDecoder().decode(JSONValue.self, from: body) {
            message = json["error"]?["message"]?.stringValue ?? json["error"]?.stringValue ?? json["message"]?.stringValue
            if let type = json["error"]?["type"]?.stringValue, let text = message { message = "\(type): \(text)" }
        }
        if message == nil {
            let text = String(buffer: body).trimmingCharacters(in: .whitespacesAndNewlines)
            message = text.isEmpty ? status.reasonPhrase : text
        }
        var summary = String(redactingKeys(in: message ?? "", apiKey: apiKey).filter { !$0.isNewline }.prefix(300))
        if summary.isEmpty { summary = status.reasonPhrase }
        return summary
    }

    /// Replaces the key itself and key-looking tokens (`sk-…`, `sk-ant-…`) with `<redacted>`.
    static func redactingKeys(in text: String, apiKey: Secret?) -> String {
        var result = text
        if let key = apiKey?.value, key.count >= 4 {
            result = result.replacingOccurrences(of: key, with: "<redacted>")
        }
        guard result.contains("sk-") else { return result }
        var output = ""
        var rest = Substring(result)
        while let range = rest.range(of: "sk-") {
            output += rest[..<range.lowerBound]
            output += "<redacted>"
            rest = rest[range.upperBound...].drop { !$0.isWhitespace && $0 != "\"" && $0 != "'" && $0 != "," && $0 != "." }
        }
        output += rest
        return output
    }

    /// The request head shared by both kinds: JSON body, accept, user agent, configured extra headers.
    static func baseHeaders(config: BackendConfig, streaming: Bool) -> HTTPHeaders {
        var headers = HTTPHeaders()
        headers.reserveCapacity(6 + config.headers.count)
        headers.add(name: "content-type", value: "application/json")
        headers.add(name: "accept", value: streaming ? "text/event-stream" : "application/json")
        headers.add(name: "user-agent", value: "phigate")
        for (name, value) in config.headers where !value.isEmpty { headers.replaceOrAdd(name: name, value: value) }
        return headers
    }
}
