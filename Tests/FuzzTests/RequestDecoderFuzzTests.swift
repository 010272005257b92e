import OpenAIWire
import Testing

/// Generated and mutated bodies through `ChatCompletionRequest.decode`: it either decodes or throws a 400 with a
/// message; a decoded request re-encodes to JSON that decodes to the same request.
@Suite("Fuzz: the request decoder")
struct RequestDecoderFuzzTests {
    static let seeds: [String] = [
        #"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Say hello"}]}"#,
        #"{"model":"auto","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":[{"type":"text","text":"hi"},{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}}]}],"stream":true,"stream_options":{"include_usage":true},"max_tokens":64,"temperature":0.2,"top_p":0.9,"stop":["\n\n","END"],"seed":7}"#,
        #"{"model":"gpt-4o","messages":[{"role":"user","content":"weather?"},{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"get","arguments":"{\"city\":\"Oslo\"}"}}]},{"role":"tool","tool_call_id":"c1","content":"sunny"}],"tools":[{"type":"function","function":{"name":"get","description":"d","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}],"tool_choice":"auto","parallel_tool_calls":false}"#,
        #"{"model":"m","messages":[{"role":"user","content":"\u00e9\ud83d\ude00 \" \\ \n"}],"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{}}},"logit_bias":{"50256":-100},"n":1,"user":"u","max_completion_tokens":10,"presence_penalty":0.5,"frequency_penalty":-0.5,"logprobs":true,"top_logprobs":3,"x_extra":{"a":[1,2.5,-3e2,null,true]}}"#,
    ]

    /// Decodes `bytes`; records an issue unless it is a request or a clear 400.
    static func check(_ bytes: [UInt8], case number: Int) {
        let result = bytes.withUnsafeBytes { raw in Result { () throws(OpenAIError) in try ChatCompletionRequest.decode(bytes: raw) } }
        switch result {
        case .success(let request):
            let again = request.jsonBytes().withUnsafeBytes { raw in
                Result { () throws(OpenAIError) in try ChatCompletionRequest.decode(bytes: raw) }
            }
            #expect((try? again.get()) == request, "case \(number): the re-encoded request differs")
        case .failure(let error):
            #expect(error.status == 400, "case \(number): \(error)")
            #expect(!error.message.isEmpty && error.type == "invalid_request_error", "case \(number)")
        }
    }

    @Test("4,000 mutated requests decode or fail with a 400", .timeLimit(.minutes(2)))
    func mutatedRequests() async {
        var mutator = Mutator(seed: 0x5EED_0001, dictionary: Mutator.jsonDictionary)
        let corpus = Self.seeds.map { Array($0.utf8) }
        for number in 0..<4000 {
            // Gives the two cooperative threads back now and then: tests that wait on I/O share them.
            if number % 64 == 0 { await Task.yield() }
            let seed = corpus[mutator.int(0..<corpus.count)]
            let other = corpus[mutator.int(0..<corpus.count)]
            Self.check(mutator.mutate(seed, other: other), case: number)
        }
    }

    @Test("1,000 generated JSON documents decode or fail with a 400", .timeLimit(.minutes(1)))
    func generatedDocuments() async {
        var rng = SeededGenerator(seed: 0x5EED_0002)
        for number in 0..<1000 {
            // Gives the two cooperative threads back now and then: tests that wait on I/O share them.
            if number % 64 == 0 { await Task.yield() }
            var text = ""
            Self.value(&text, depth: 0, rng: &rng, asRequest: true)
            Self.check(Array(text.utf8), case: number)
        }
    }

    @Test("pathological shapes are 400s, not crashes", arguments: [
        String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000),
        #"{"model":"m","messages":"# + String(repeating: #"{"a":"#, count: 10_000),
        #"{"model":"m","messages":[{"role":"user","content":"x"}],"max_tokens":1e400}"#,
        #"{"model":"m","messages":[{"role":"user","content":"x"}],"max_tokens":99999999999999999999999}"#,
        #"{"model":"m","messages":[{"role":"user","content":"x"}],"max_tokens":-9223372036854775808}"#,
        #"{"model":"m","messages":[{"role":"user","content":"x"}],"temperature":1e-400}"#,
        #"{"model":"m","model":"n","messages":[{"role":"user","content":"x"}]}"#,
        #"{"model":"m","messages":[{"role":"user","content":"\ud800"}]}"#,
        "",
        "\u{FEFF}{}",
    ])
    func pathological(body: String) {
        Self.check(Array(body.utf8), case: -1)
    }

    @Test("duplicate member names are rejected")
    func duplicateKeys() {
        let body = #"{"model":"gpt-4o-mini","model":"local","messages":[{"role":"user","content":"x"}]}"#
        let result = Array(body.utf8).withUnsafeBytes { raw in Result { () throws(OpenAIError) in try ChatCompletionRequest.decode(bytes: raw) } }
        guard case .failure(let error) = result else {
            Issue.record("a body with two models decoded")
            return
        }
        #expect(error.message.contains("duplicate"), "\(error.message)")
    }

    /// A random JSON value; at the top, often request-shaped.
    static func value(_ out: inout String, depth: Int, rng: inout SeededGenerator, asRequest: Bool = false) {
        if asRequest && Int.random(in: 0..<4, using: &rng) > 0 {
            out += #"{"model":"#
            value(&out, depth: depth + 1, rng: &rng)
            out += #","messages":[{"role":"#
            out += ["\"user\"", "\"system\"", "\"assistant\"", "\"tool\"", "\"wizard\"", "1"].randomElement(using: &rng) ?? ""
            out += #","content":"#
            value(&out, depth: depth + 1, rng: &rng)
            out += "}]"
            for key in ["max_tokens", "temperature", "stream", "stop", "tools", "n"] where Bool.random(using: &rng) {
                out += ",\"\(key)\":"
                value(&out, depth: depth + 1, rng: &rng)
            }
            out += "}"
            return
        }
        switch Int.random(in: 0..<(depth > 6 ? 5 : 7), using: &rng) {
        case 0: out += "null"
        case 1: out += Bool.random(using: &rng) ? "true" : "false"
        case 2: out += String(Int.random(in: Int.min...Int.max, using: &rng))
        case 3: out += String(Double.random(in: -1e300...1e300, using: &rng))
        case 4:
            let pieces = ["a", "é", "😀", "\\n", "\\\"", "\\u0041", "\\ud83d\\ude00", " "]
            out += "\"" + (0..<Int.random(in: 0..<8, using: &rng)).map { _ in pieces.randomElement(using: &rng) ?? "" }.joined() + "\""
        case 5:
            out += "["
            for index in 0..<Int.random(in: 0..<4, using: &rng) {
                if index > 0 { out += "," }
                value(&out, depth: depth + 1, rng: &rng)
            }
            out += "]"
        default:
            out += "{"
            for index in 0..<Int.random(in: 0..<4, using: &rng) {
                if index > 0 { out += "," }
                out += "\"k\(index)\":"
                value(&out, depth: depth + 1, rng: &rng)
            }
            out += "}"
        }
    }
}
