import OpenAIWire
import Testing

@Suite struct SSEParserTests {
    private func events(_ pieces: [String]) -> ([SSEEvent], Bool) {
        var parser = SSEParser()
        var events: [SSEEvent] = []
        for piece in pieces { parser.feed(Array(piece.utf8)) { events.append($0) } }
        let partial = parser.finish()
        return (events, partial)
    }

    private let body = "event: message_start\ndata: {\"a\":1}\n\n: keep-alive comment\n\ndata: line one\ndata: line two\n\ndata:no-space\r\n\r\ndata: [DONE]\r\rdata: tail\n\n"

    private var expected: [SSEEvent] {
        [
            SSEEvent(event: "message_start", data: Array(#"{"a":1}"#.utf8)),
            SSEEvent(data: Array("line one\nline two".utf8)),
            SSEEvent(data: Array("no-space".utf8)),
            SSEEvent(data: Array("[DONE]".utf8)),
            SSEEvent(data: Array("tail".utf8)),
        ]
    }

    @Test func parsesWholeBody() {
        let (parsed, partial) = events([body])
        #expect(parsed == expected)
        #expect(!partial)
        #expect(parsed[3].isDone)
        #expect(!parsed[0].isDone)
    }

    @Test func sameEventsForEverySplitPoint() {
        let bytes = Array(body.utf8)
        for split in 0...bytes.count {
            var parser = SSEParser()
            var parsed: [SSEEvent] = []
            parser.feed(bytes[..<split]) { parsed.append($0) }
            parser.feed(bytes[split...]) { parsed.append($0) }
            #expect(parsed == expected, "split at \(split)")
        }
    }

    @Test func sameEventsByteByByte() {
        var parser = SSEParser()
        var parsed: [SSEEvent] = []
        for byte in body.utf8 { parser.feed([byte]) { parsed.append($0) } }
        #expect(parsed == expected)
    }

    @Test func crlfSplitAcrossPiecesIsOneLineEnd() {
        let (parsed, _) = events(["data: a\r", "\n\r", "\ndata: b\r\n\r\n"])
        #expect(parsed.map(\.dataString) == ["a", "b"])
    }

    @Test func unterminatedEventIsReportedAsPartial() {
        let (parsed, partial) = events(["data: {\"complete\":true}\n\ndata: {\"cut\":"])
        #expect(parsed.count == 1)
        #expect(partial)
    }

    @Test func commentsAndUnknownFieldsAreIgnored() {
        let (parsed, partial) = events([": ping\n\nid: 7\nretry: 10\n\n"])
        #expect(parsed.isEmpty)
        #expect(!partial)
    }

    @Test func encoderFramesEvents() {
        #expect(String(decoding: SSEEncoder.frame(data: Array("{}".utf8)), as: UTF8.self) == "data: {}\n\n")
        #expect(String(decoding: SSEEncoder.frame(event: "error", data: Array("{}".utf8)), as: UTF8.self)
            == "event: error\ndata: {}\n\n")
        #expect(String(decoding: SSEEncoder.done, as: UTF8.self) == "data: [DONE]\n\n")
    }
}
