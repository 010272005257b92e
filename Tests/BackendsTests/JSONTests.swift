import Foundation
import OpenAIWire
import Testing

@Suite struct JSONTests {
    private func parse(_ text: String) throws -> JSONValue {
        try JSONParser.parse(Array(text.utf8))
    }

    @Test func parsesEveryKind() throws {
        let value = try parse(#" {"a": [1, -2, 3.5, -0.25e2, 1E3, true, false, null], "b": {"c": "d"}, "e": "", "big": 123456789012345678901} "#)
        #expect(value["a"] == .array([.integer(1), .integer(-2), .number(3.5), .number(-25), .number(1000), .bool(true), .bool(false), .null]))
        #expect(value["b"] == .object(["c": .string("d")]))
        #expect(value["e"] == .string(""))
        #expect(value["big"] == .number(Double("123456789012345678901")!))
        #expect(try parse("9223372036854775807") == .integer(.max))
    }

    @Test func decodesStringEscapes() throws {
        #expect(try parse(#""a\"b\\c\/d\b\f\n\r\t\u00e9\u20ac\ud83d\ude00""#) == .string("a\"b\\c/d\u{8}\u{c}\n\r\té€😀"))
        #expect(try parse(#""\ud83d x""#) == .string("\u{FFFD} x"), "a lone surrogate becomes U+FFFD")
        #expect(try parse(#""héllo""#) == .string("héllo"))
    }

    @Test(arguments: [
        "", "{", "[1,]", "{\"a\" 1}", "{\"a\":1,}", "01", "1.", "-", "1e", "tru", "nul", "\"abc", "\"a\u{01}b\"", "\"\\x\"",
        "\"\\u12G4\"", "[1] 2", "{1:2}", "1e999",
    ])
    func rejectsInvalidJSON(text: String) {
        #expect(throws: JSONParseError.self) { try JSONParser.parse(Array(text.utf8)) }
    }

    @Test func rejectsInvalidUTF8InStrings() throws {
        // ASCII strings take the unvalidated path; any byte ≥ 0x80 sends the string through validation.
        for bad: [UInt8] in [[0xFF], [0xC3, 0x28], [0xE2, 0x82], [0xED, 0xA0, 0x80], [0x61, 0xC3]] {
            #expect(throws: JSONParseError.self) { try JSONParser.parse([0x22] + bad + [0x22]) }
            #expect(throws: JSONParseError.self) { try JSONParser.parse([0x22, 0x5C, 0x6E] + bad + [0x22]) }
        }
        #expect(try JSONParser.parse([0x22, 0x61, 0xC3, 0xA9, 0x22]) == .string("aé"))
        #expect(try JSONParser.parse(Array(#""plain ascii ~""#.utf8)) == .string("plain ascii ~"))
    }

    @Test func deepNestingIsAnErrorNotACrash() {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(throws: JSONParseError.self) { try JSONParser.parse(Array(deep.utf8)) }
    }

    @Test func writerRoundTripsThroughFoundation() throws {
        let value = JSONValue.object([
            "s": .string("quote \" backslash \\ newline \n tab \t bell \u{7} é 😀 </script>"),
            "i": .integer(-42), "d": .number(0.1), "big": .number(1e300), "t": .bool(true), "n": .null,
            "a": .array([.integer(0), .object([:]), .array([])]),
        ])
        var writer = JSONWriter()
        writer.value(value)
        let foundation = try JSONSerialization.jsonObject(with: Data(writer.bytes)) as? [String: Any]
        #expect(foundation?["s"] as? String == "quote \" backslash \\ newline \n tab \t bell \u{7} é 😀 </script>")
        #expect(try JSONParser.parse(writer.bytes) == value)
    }

    @Test func requestWriterMatchesCodableEncoding() throws {
        let body = #"{"model":"gpt-4o","messages":[{"role":"system","content":"Be brief."},{"role":"user","name":"a","content":[{"type":"text","text":"hi"},{"type":"image_url","image_url":{"url":"https://x/i.png"}},{"type":"input_audio","input_audio":{"data":"AA","format":"wav"}}]},{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}],"refusal":null},{"role":"tool","tool_call_id":"c1","content":"ok"}],"stream":true,"stream_options":{"include_usage":true},"max_tokens":5,"temperature":0.5,"top_p":1,"n":1,"stop":["x"],"seed":3,"logprobs":true,"top_logprobs":2,"presence_penalty":0,"frequency_penalty":0.25,"logit_bias":{"1":-100,"2":1.5},"tools":[{"type":"function","function":{"name":"f","description":"d","parameters":{"type":"object"},"strict":false}}],"tool_choice":"required","parallel_tool_calls":true,"response_format":{"type":"json_object"},"user":"u","metadata":{"k":[1,2]},"store":true}"#
        let request = try ChatCompletionRequest.decode(from: Data(body.utf8))
        let fast = try JSONParser.parse(request.jsonBytes())
        let codable = try JSONParser.parse(Array(JSONEncoder().encode(request)))
        let original = try JSONParser.parse(Array(body.utf8))
        #expect(fast.normalizedNumbers == original.normalizedNumbers, "the writer reproduces the client request")
        #expect(codable.normalizedNumbers == fast.normalizedNumbers)
        // Codable decoding agrees with the fast path.
        #expect(try JSONDecoder().decode(ChatCompletionRequest.self, from: Data(body.utf8)) == request)
    }

    @Test func responseAndChunkWritersMatchCodable() throws {
        let responseText = #"{"id":"chatcmpl-1","object":"chat.completion","created":1700000000,"model":"gpt-4o","choices":[{"index":0,"message":{"role":"assistant","content":"Hi","refusal":null,"annotations":[]},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4,"prompt_tokens_details":{"cached_tokens":0}},"system_fingerprint":"fp","service_tier":"default"}"#
        let response = try Array(responseText.utf8).withUnsafeBytes { raw throws(OpenAIError) in try ChatCompletionResponse(jsonBytes: raw) }
        #expect(response == (try JSONDecoder().decode(ChatCompletionResponse.self, from: Data(responseText.utf8))))
        #expect(try JSONParser.parse(response.jsonBytes()) == JSONParser.parse(Array(responseText.utf8)))

        let chunkText = #"{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","system_fingerprint":"fp","choices":[{"index":0,"delta":{"role":"assistant","content":"","tool_calls":[{"index":0,"id":"t","type":"function","function":{"name":"f","arguments":""}}]},"logprobs":null,"finish_reason":null}],"usage":null}"#
        let chunk = try Array(chunkText.utf8).withUnsafeBytes { raw throws(OpenAIError) in try ChatCompletionChunk(jsonBytes: raw) }
        #expect(chunk == (try JSONDecoder().decode(ChatCompletionChunk.self, from: Data(chunkText.utf8))))
        let frame = chunk.sseFrame()
        #expect(frame.starts(with: Array("data: {".utf8)))
        #expect(frame.suffix(3) == Array("}\n\n".utf8))
        let written = try JSONParser.parse(frame.dropFirst(6).dropLast(2))
        #expect(written["choices"] == (try JSONParser.parse(Array(chunkText.utf8)))["choices"].map { choices in
            // `logprobs: null` is omitted by the writer, `finish_reason: null` kept.
            guard case .array(let list) = choices, case .object(var first) = list[0] else { return choices }
            first["logprobs"] = nil
            return .array([.object(first)])
        })
        #expect(written["usage"] == nil)
    }

    @Test func errorEnvelopeWriterMatchesCodable() throws {
        let error = OpenAIError(status: 400, message: "messages[0].role: \"bad\"", type: "invalid_request_error", param: "messages[0].role")
        let fast = try JSONParser.parse(error.jsonBytes())
        let codable = try JSONParser.parse(Array(JSONEncoder().encode(error.envelope)))
        #expect(fast == codable)
        #expect(fast["error"]?["code"] == .null)
    }
}

extension JSONValue {
    /// Integral numbers as integers, so `1` and `1.0` compare equal.
    var normalizedNumbers: JSONValue {
        switch self {
        case .number(let value) where value == value.rounded() && abs(value) < 1e15: .integer(Int64(value))
        case .array(let elements): .array(elements.map(\.normalizedNumbers))
        case .object(let members): .object(members.mapValues(\.normalizedNumbers))
        default: self
        }
    }
}
