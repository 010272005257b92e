import Foundation
import NIOConcurrencyHelpers

extension FakeUpstream {
    /// Answers the n-th request with `responses[n]`, and every request after the last with the last one
    /// ("fail twice, then answer": `[.openAIError(status: 503, …), .openAIError(status: 503, …), .openAIChat()]`).
    public static func sequence(_ responses: [FakeResponse]) -> Script {
        let next = NIOLockedValueBox(0)
        return { _ in
            let index = next.withLockedValue { index in
                defer { index += 1 }
                return index
            }
            guard !responses.isEmpty else { return .stall }
            return responses[min(index, responses.count - 1)]
        }
    }

    /// An upstream that flaps: requests alternate between `failure` and `success`, starting with a failure.
    public static func flapping(failure: FakeResponse, success: FakeResponse) -> Script {
        let count = NIOLockedValueBox(0)
        return { _ in
            let index = count.withLockedValue { count in
                defer { count += 1 }
                return count
            }
            return index.isMultiple(of: 2) ? failure : success
        }
    }
}

extension FakeResponse {
    /// The same (streamed) response with the first chunk held back `delay` after the head.
    public func delayingFirstByte(by delay: Duration) -> FakeResponse {
        var copy = self
        copy.delayBeforeFirstByte = delay
        return copy
    }

    /// A streamed chat completion whose finish chunk carries `finishReason` (e.g. `content_filter`).
    public static func openAIStream(deltas: [String], finishReason: String) -> FakeResponse {
        .sse(openAIStreamEvents(deltas: deltas).map { event in
            event.replacingOccurrences(of: #""finish_reason":"stop""#, with: #""finish_reason":\#(JSONText.quoted(finishReason))"#)
        })
    }

    /// A streamed Messages API answer that ends with `stop_reason` (e.g. `refusal`).
    public static func anthropicStream(deltas: [String], stopReason: String) -> FakeResponse {
        .sse(anthropicStreamEvents(deltas: deltas, stopReason: stopReason))
    }
}
