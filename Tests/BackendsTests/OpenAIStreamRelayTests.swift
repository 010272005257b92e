@testable import Backends
import Foundation
import OpenAIWire
import PhigateConfig
import Testing

@Suite struct OpenAIStreamRelayTests {
    private let head = #"{"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":"#

    private var body: String {
        "data: " + head + #"[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}],"usage":null}"# + "\n\n"
            + "data: " + head + #"[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}],"usage":null}"# + "\n\n"
            + "data: " + head + #"[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":null}"# + "\n\n"
            + "data: " + head + #"[],"usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}}"# + "\n\n"
            + "data: [DONE]\n\n"
    }

    private func relay(_ text: String, forwardUsage: Bool) throws -> ([ChatStreamEvent], OpenAIStreamRelay) {
        var relay = OpenAIStreamRelay(forwardUsage: forwardUsage)
        var events: [ChatStreamEvent] = []
        let bytes = Array(text.utf8)
        // Feed in awkward 7-byte pieces.
        for start in stride(from: 0, to: bytes.count, by: 7) {
            try bytes[start..<min(start + 7, bytes.count)].withUnsafeBytes { raw in
                try relay.feed(raw) { events.append($0) }
            }
        }
        try relay.finish()
        return (events, relay)
    }

    @Test func usageChunkIsStrippedWhenNotAsked() throws {
        let (events, relay) = try relay(body, forwardUsage: false)
        #expect(events.count == 4)
        #expect(events.last == .usage(Usage(promptTokens: 5, completionTokens: 2)))
        #expect(relay.forwardedChunks == 3)
        #expect(relay.isDone)
    }

    @Test func usageChunkIsForwardedWhenAsked() throws {
        let (events, _) = try relay(body, forwardUsage: true)
        #expect(events.count == 5)
        guard case .chunk(let last) = events.last else {
            Issue.record("usage chunk forwarded last")
            return
        }
        #expect(last.isUsageOnly)
    }

    @Test func cutStreamIsBroken() {
        let cut = String(body.prefix(body.count - 60))
        #expect(throws: UpstreamFault.brokenStream(afterChunks: 3)) { _ = try relay(cut, forwardUsage: false) }
    }

    @Test func errorEventBecomesStreamError() {
        let text = "data: " + head + #"[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}"# + "\n\n"
            + #"data: {"error":{"message":"The server had an error","type":"server_error"}}"# + "\n\n"
        #expect(throws: UpstreamFault.streamError(message: "The server had an error", afterChunks: 1)) {
            _ = try relay(text, forwardUsage: false)
        }
    }

    @Test func keysAreRedactedFromSummaries() {
        let key = Secret("sk-proj-abcdef123456")
        let redacted = UpstreamExchange.redactingKeys(
            in: "Incorrect API key provided: sk-proj-abc***456. You can find your key at x; raw sk-proj-abcdef123456", apiKey: key)
        #expect(!redacted.contains("abc"))
        #expect(redacted.contains("<redacted>"))
    }
}

extension OpenAIStreamRelayTests {
    @Test func endlessLineIsMalformedNotUnboundedMemory() throws {
        var relay = OpenAIStreamRelay(forwardUsage: false)
        let piece = [UInt8]("data: ".utf8) + [UInt8](repeating: UInt8(ascii: "x"), count: 1 << 20)
        var thrown: (any Error)?
        for _ in 0..<10 where thrown == nil {
            do {
                try piece.withUnsafeBytes { raw in try relay.feed(raw) { _ in } }
            } catch {
                thrown = error
            }
        }
        guard case .malformedResponse? = thrown as? UpstreamFault else {
            Issue.record("expected malformedResponse, got \(String(describing: thrown))")
            return
        }
    }
}
