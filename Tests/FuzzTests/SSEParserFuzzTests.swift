import OpenAIWire
import Testing

/// Mutated and random upstream streams through `SSEParser`, split at random points: no crash, and the events
/// never depend on how the bytes were split.
@Suite("Fuzz: the SSE parser")
struct SSEParserFuzzTests {
    static let seed = Array((
        "data: {\"id\":\"c\",\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]}\n\n"
            + ": keep-alive\r\n\r\n"
            + "event: message_delta\r\ndata: {\"a\":1}\r\ndata: second line\r\n\r\n"
            + "id: 7\nretry: 100\ndata:no-space\n\n"
            + "data: [DONE]\n\n"
    ).utf8)

    /// Every event of `bytes` fed in `pieces` (split points), plus whether a partial event was left.
    static func events(_ bytes: [UInt8], splits: [Int]) -> ([SSEEvent], Bool) {
        var parser = SSEParser()
        var events: [SSEEvent] = []
        var start = 0
        for split in splits.sorted() + [bytes.count] where split >= start && split <= bytes.count {
            parser.feed(bytes[start..<split]) { events.append($0) }
            #expect(parser.bufferedByteCount <= bytes.count)
            start = split
        }
        return (events, parser.finish())
    }

    @Test("3,000 mutated streams parse the same whole or in random pieces", .timeLimit(.minutes(1)))
    func splitInvariance() async {
        var mutator = Mutator(
            seed: 0x5EED_0003,
            dictionary: ["\n", "\r", "\r\n", "\n\n", "data:", "data: ", "event:", ":", "id:", "[DONE]", "\u{0}"].map { Array($0.utf8) } + [[0xFF], [0xC3]])
        for number in 0..<3000 {
            // Gives the two cooperative threads back now and then: tests that wait on I/O share them.
            if number % 64 == 0 { await Task.yield() }
            let bytes = number % 10 == 9
                ? (0..<mutator.int(0..<512)).map { _ in UInt8(mutator.int(0..<256)) }
                : mutator.mutate(Self.seed, other: Self.seed)
            let whole = Self.events(bytes, splits: [])
            let splits = (0..<mutator.int(0..<12)).map { _ in mutator.int(0..<bytes.count + 1) }
            let pieces = Self.events(bytes, splits: splits)
            #expect(whole.0 == pieces.0, "case \(number): events depend on the split")
            #expect(whole.1 == pieces.1, "case \(number)")
            let single = Self.events(bytes, splits: Array(0...bytes.count))
            #expect(whole.0 == single.0, "case \(number): byte-by-byte differs")
        }
    }

    @Test("a line that never ends is buffered, never lost or trapped on")
    func endlessLine() {
        var parser = SSEParser()
        let chunk = [UInt8](repeating: UInt8(ascii: "x"), count: 64 * 1024)
        for _ in 0..<16 { parser.feed(chunk) { _ in Issue.record("no event expected") } }
        #expect(parser.bufferedByteCount == 16 * 64 * 1024)
        let hadPartial = parser.finish()
        #expect(hadPartial)
    }
}
