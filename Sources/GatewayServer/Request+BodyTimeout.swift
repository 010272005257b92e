import Backends
import Foundation
import Hummingbird
import NIOCore
import NIOPosix
import Synchronization

extension Request {
    /// A JSON body: 415 when the client says it sends something else (no `content-type` is accepted), then
    /// `collectBody(upTo:timeout:)`.
    func collectJSONBody(upTo limit: Int, timeout: Duration) async throws -> ByteBuffer {
        if let type = headers.firstValue(.contentType), !Self.isJSON(contentType: type) {
            throw GatewayError(
                status: .unsupportedMediaType,
                message: "Expected a JSON body with content-type application/json, found '\(type.prefix(80))'.",
                type: "invalid_request_error", code: "unsupported_media_type")
        }
        return try await collectBody(upTo: limit, timeout: timeout)
    }

    /// `application/json`, `text/json` or any `+json` type, parameters allowed. On the bytes, without Foundation:
    /// it runs for every request.
    static func isJSON(contentType: String) -> Bool {
        var bytes = contentType.utf8[...]
        if let semicolon = bytes.firstIndex(of: UInt8(ascii: ";")) { bytes = bytes[..<semicolon] }
        while let first = bytes.first, first == 0x20 || first == 0x09 { bytes = bytes.dropFirst() }
        while let last = bytes.last, last == 0x20 || last == 0x09 { bytes = bytes.dropLast() }
        func lower(_ byte: UInt8) -> UInt8 { (0x41...0x5A).contains(byte) ? byte | 0x20 : byte }
        func equals(_ text: Substring.UTF8View, _ expected: StaticString) -> Bool {
            text.count == expected.utf8CodeUnitCount
                && zip(text, UnsafeBufferPointer(start: expected.utf8Start, count: expected.utf8CodeUnitCount)).allSatisfy { lower($0) == $1 }
        }
        func hasPrefix(_ expected: StaticString) -> Bool {
            bytes.count >= expected.utf8CodeUnitCount && equals(bytes.prefix(expected.utf8CodeUnitCount), expected)
        }
        func hasSuffix(_ expected: StaticString) -> Bool {
            bytes.count >= expected.utf8CodeUnitCount && equals(bytes.suffix(expected.utf8CodeUnitCount), expected)
        }
        return equals(bytes, "application/json") || equals(bytes, "text/json")
            || (hasPrefix("application/") && hasSuffix("+json"))
    }

    /// The body, at most `limit` bytes, received within `timeout` (else 408 `request_timeout`: a slow or stalled
    /// client, slowloris-style, does not hold a request open). The deadline is an event-loop timer that cancels the
    /// collecting task, not a `Task.sleep` raced in a task group: a cancelled `Task.sleep` was measured (heaptrack,
    /// `phigate dev soak`) to keep ~200 B per request alive, and the group cost two child tasks per request.
    func collectBody(upTo limit: Int, timeout: Duration) async throws -> ByteBuffer {
        let body = self.body
        let watch = BodyDeadline()
        return try await withUnsafeCurrentTask { task in
            let handle = WatchedTask(task: task)
            let timer = NIOSingletons.posixEventLoopGroup.any().scheduleTask(in: .nanoseconds(timeout.nanoseconds)) {
                watch.expire(handle)
            }
            defer { timer.cancel() }
            do {
                let collected = try await body.collect(upTo: limit)
                if watch.finish() { throw GatewayError.bodyTimeout(timeout) }
                return collected
            } catch {
                if watch.finish() { throw GatewayError.bodyTimeout(timeout) }
                throw error
            }
        }
    }
}

/// Whether a body deadline fired while the body was still being collected. The timer may only cancel the task
/// before `finish()`: after it the task has moved on to work that must not be cancelled.
private final class BodyDeadline: Sendable {
    private let state = Mutex((collecting: true, expired: false))

    func expire(_ handle: WatchedTask) {
        state.withLock { state in
            guard state.collecting else { return }
            state.expired = true
            handle.task?.cancel()
        }
    }

    /// Ends collection; true when the deadline had fired.
    func finish() -> Bool {
        state.withLock { state in
            state.collecting = false
            return state.expired
        }
    }
}

extension GatewayError {
    static func bodyTimeout(_ timeout: Duration) -> GatewayError {
        GatewayError(
            status: .requestTimeout,
            message: "The request body was not received within limits.body_timeout (\(timeout)).",
            type: "invalid_request_error", code: "request_timeout", headers: [.connection: "close"])
    }
}
