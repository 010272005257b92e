import Foundation
import OpenAIWire
import PhiInference
import PhigateConfig
import Testing

@testable import LocalBackend

@Suite("Local request translation")
struct LocalRequestTranslatorTests {
    static func request(_ json: String) throws -> ChatCompletionRequest {
        try ChatCompletionRequest.decode(from: Data(json.utf8))
    }

    static func translator(contextSize: Int = 512, defaults: LocalSamplingDefaults = LocalSamplingDefaults()) async throws -> LocalRequestTranslator {
        let host = try await LocalFixtures.host()
        let runtime = try host.runtime()
        host.shutdown()
        return LocalRequestTranslator(
            modelName: "local", template: runtime.translator.template, tokenizer: runtime.tokenizer, contextSize: contextSize,
            defaults: defaults)
    }

    @Test func samplingFieldsBecomeGenerationParameters() async throws {
        let translator = try await Self.translator()
        let plan = try translator.plan(for: Self.request("""
            {"model":"local","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"}],
             "temperature":0.5,"top_p":0.9,"max_completion_tokens":7,"stop":["\\n\\n","END"],"seed":42,
             "presence_penalty":0.25,"frequency_penalty":0.5,"logit_bias":{"13":-100,"29871":2.5},
             "logprobs":true,"top_logprobs":3,"n":2,"top_k":40,"min_p":0.05,"repetition_penalty":1.1}
            """))
        let p = try #require(plan.choices.first)
        #expect(p.temperature == 0.5 && p.topP == Float(0.9) && p.maxTokens == 7)
        #expect(p.stopStrings == ["\n\n", "END"])
        #expect(p.presencePenalty == 0.25 && p.frequencyPenalty == 0.5)
        #expect(p.logitBias == [13: -100, 29871: 2.5])
        #expect(p.topLogprobs == 3 && plan.wantsLogprobs)
        #expect(p.topK == 40 && p.minP == Float(0.05) && p.repetitionPenalty == Float(1.1))
        #expect(plan.choices.count == 2)
        #expect(plan.choices.map(\.seed) == [42, 43], "each choice draws its own random stream")
        // The phi-3 template: <s><|system|>\nBe brief.<|end|>\n<|user|>\nHi<|end|>\n<|assistant|>\n
        #expect(plan.promptTokens.first == 1)
        // <|system|> 32006, <|user|> 32010, <|assistant|> 32001 then "\n".
        #expect(plan.promptTokens.contains(32006) && plan.promptTokens.contains(32010) && plan.promptTokens.contains(32001))
    }

    @Test func defaultsApplyWhenTheRequestIsSilent() async throws {
        let translator = try await Self.translator(defaults: LocalSamplingDefaults(temperature: 0.3, topP: 0.8, topK: 5, maxTokens: 100))
        let plan = try translator.plan(for: Self.request(#"{"model":"local","messages":[{"role":"user","content":"Hi"}]}"#))
        let p = try #require(plan.choices.first)
        #expect(p.temperature == Float(0.3) && p.topP == Float(0.8) && p.topK == 5 && p.maxTokens == 100)
        #expect(!plan.wantsLogprobs && p.topLogprobs == nil)
    }

    @Test func defaultMaxTokensNeverExceedsTheContext() async throws {
        let translator = try await Self.translator(contextSize: 64, defaults: LocalSamplingDefaults(maxTokens: 1000))
        let plan = try translator.plan(for: Self.request(#"{"model":"local","messages":[{"role":"user","content":"Hi"}]}"#))
        #expect(plan.choices[0].maxTokens == 64 - plan.promptTokens.count)
    }

    @Test func promptLongerThanTheContextIs400WithTheNumbers() async throws {
        let translator = try await Self.translator(contextSize: 32)
        let long = String(repeating: "hello world ", count: 40)
        let error = #expect(throws: OpenAIError.self) {
            try translator.plan(for: Self.request(#"{"model":"local","messages":[{"role":"user","content":"\#(long)"}]}"#))
        }
        #expect(error?.status == 400 && error?.code == "context_length_exceeded")
        #expect(error?.message.contains("maximum context length is 32 tokens") == true)
        #expect(error?.message.contains("resulted in") == true)
    }

    @Test func promptPlusMaxTokensBeyondTheContextIs400() async throws {
        let translator = try await Self.translator(contextSize: 64)
        let error = #expect(throws: OpenAIError.self) {
            try translator.plan(for: Self.request(#"{"model":"local","messages":[{"role":"user","content":"Hi"}],"max_tokens":60}"#))
        }
        #expect(error?.status == 400 && error?.param == "max_tokens" && error?.message.contains("60 in the completion") == true)
    }

    @Test(arguments: [
        (#"{"model":"local","messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f"}}]}"#, "tools"),
        (#"{"model":"local","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"http://x/y.png"}}]}]}"#, "messages[0].content[0]"),
        (#"{"model":"local","messages":[{"role":"user","content":"x"}],"response_format":{"type":"json_object"}}"#, "response_format"),
        (#"{"model":"local","messages":[{"role":"tool","content":"42","tool_call_id":"a"}]}"#, "messages[0].role"),
        (#"{"model":"local","messages":[{"role":"user","content":"x"}],"logit_bias":{"abc":1}}"#, "logit_bias"),
        (#"{"model":"local","messages":[{"role":"user","content":"x"}],"logit_bias":{"5":250}}"#, "logit_bias"),
        (#"{"model":"local","messages":[{"role":"user","content":"x"}],"n":9}"#, "n"),
        (#"{"model":"local","messages":[{"role":"user","content":"x"}],"top_logprobs":2}"#, "top_logprobs"),
    ])
    func unsupportedOrInvalidFieldsAre400NamingTheField(json: String, param: String) async throws {
        let translator = try await Self.translator()
        let error = #expect(throws: OpenAIError.self) { try translator.plan(for: Self.request(json)) }
        #expect(error?.status == 400)
        #expect(error?.param == param)
    }
}
