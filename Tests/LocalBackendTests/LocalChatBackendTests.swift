import Backends
import Foundation
import OpenAIWire
import PhiInference
import PhiKernels
import PhiTokenizer
import PhigateConfig
import Testing

@testable import LocalBackend

@Suite("Local chat backend")
struct LocalChatBackendTests {
    static func request(_ json: String) throws -> ChatCompletionRequest {
        try ChatCompletionRequest.decode(from: Data(json.utf8))
    }

    /// What `Generator` (the `phigate generate` path) produces alone for the same prompt and parameters.
    static func generatedAlone(_ host: LocalModelHost, _ request: ChatCompletionRequest) throws -> (text: String, tokens: [Int], finish: FinishReason) {
        let runtime = try host.runtime()
        let plan = try runtime.translator.plan(for: request)
        let generator = try Generator(model: runtime.model, tokenizer: runtime.tokenizer, promptTokens: plan.promptTokens, parameters: plan.choices[0])
        var text = ""
        var tokens: [Int] = []
        var finish = FinishReason.stop
        try ComputeSettings.withActivationQuantization(.llamaCpp) { () throws -> Void in
            _ = try generator.run { event in
                switch event {
                case .token(let token): text += token.text; tokens.append(token.id)
                case .text(let tail): text += tail
                case .finished(let reason, _): finish = reason
                }
            }
        }
        return (text, tokens, finish)
    }

    @Test(arguments: [LocalFixtures.phi3, LocalFixtures.phi2])
    func plainAnswerEqualsGeneratingAlone(model: String) async throws {
        let host = try await LocalFixtures.host(model)
        defer { host.shutdown() }
        let backend = LocalChatBackend(host: host)
        let request = try Self.request(#"{"model":"local","messages":[{"role":"user","content":"Say hello"}],"temperature":0,"max_tokens":12}"#)
        let response = try await backend.complete(request, upstreamModel: "local", logger: LocalFixtures.logger)
        let alone = try Self.generatedAlone(host, request)
        #expect(response.choices.count == 1)
        #expect(response.choices[0].message.content == alone.text)
        #expect(response.choices[0].finishReason == (alone.finish == .length ? "length" : "stop"))
        #expect(response.usage?.completionTokens == alone.tokens.count)
        #expect(response.usage?.promptTokens == (try host.runtime().translator.plan(for: request).promptTokens.count))
        #expect(response.object == "chat.completion" && response.model == "local")
    }

    @Test func streamedAnswerEqualsThePlainOneWithUsage() async throws {
        let host = try await LocalFixtures.host()
        defer { host.shutdown() }
        let backend = LocalChatBackend(host: host)
        let request = try Self.request("""
            {"model":"local","messages":[{"role":"user","content":"Count"}],"temperature":0.8,"seed":7,"max_tokens":16,
             "stream":true,"stream_options":{"include_usage":true}}
            """)
        var text = ""
        var usage: Usage?
        var usageChunk: ChatCompletionChunk?
        var finish: String?
        var first: ChatCompletionChunk?
        for try await event in backend.stream(request, upstreamModel: "local", logger: LocalFixtures.logger) {
            switch event {
            case .chunk(let chunk):
                if first == nil { first = chunk }
                if chunk.isUsageOnly { usageChunk = chunk; continue }
                text += chunk.choices[0].delta.content ?? ""
                if let reason = chunk.choices[0].finishReason { finish = reason }
            case .usage(let reported):
                usage = reported
            }
        }
        #expect(first?.choices.first?.delta.role == "assistant")
        var plain = request
        plain.stream = false
        let response = try await backend.complete(plain, upstreamModel: "local", logger: LocalFixtures.logger)
        #expect(text == response.choices[0].message.content, "same seed, same tokens")
        #expect(finish == response.choices[0].finishReason)
        #expect(usage == response.usage)
        #expect(usageChunk?.usage == usage)
    }

    @Test func nChoicesAreIndependentSequences() async throws {
        let host = try await LocalFixtures.host()
        defer { host.shutdown() }
        let backend = LocalChatBackend(host: host)
        let request = try Self.request(#"{"model":"local","messages":[{"role":"user","content":"Hi"}],"n":3,"seed":1,"max_tokens":10}"#)
        let response = try await backend.complete(request, upstreamModel: "local", logger: LocalFixtures.logger)
        #expect(response.choices.map(\.index) == [0, 1, 2])
        #expect(Set(response.choices.map { $0.message.content ?? "" }).count > 1, "different seeds per choice")
        #expect(response.choices.allSatisfy { $0.finishReason != nil })
        #expect((response.usage?.completionTokens ?? 0) >= 3, "completion tokens are summed over the choices")
        // Prompt counted once, as OpenAI does.
        #expect(response.usage?.promptTokens == (try host.runtime().translator.plan(for: request).promptTokens.count))
    }

    @Test func logprobsHaveOpenAIShape() async throws {
        let host = try await LocalFixtures.host()
        defer { host.shutdown() }
        let backend = LocalChatBackend(host: host)
        let request = try Self.request(#"{"model":"local","messages":[{"role":"user","content":"Hi"}],"temperature":0,"max_tokens":4,"logprobs":true,"top_logprobs":2}"#)
        let response = try await backend.complete(request, upstreamModel: "local", logger: LocalFixtures.logger)
        let content = try #require(response.choices[0].logprobs?["content"])
        guard case .array(let entries) = content else { Issue.record("content is not an array"); return }
        #expect(entries.count == response.usage?.completionTokens)
        for entry in entries {
            guard case .number(let logprob)? = entry["logprob"], case .array(let top)? = entry["top_logprobs"] else {
                Issue.record("entry without logprob/top_logprobs: \(entry)"); continue
            }
            #expect(logprob <= 0)
            #expect(top.count == 2)
            // Greedy: the chosen token is the most likely one.
            if case .number(let best)? = top.first?["logprob"] { #expect(abs(best - logprob) < 1e-5) }
            #expect(entry["token"]?.stringValue != nil)
        }
    }

    @Test func unloadedHostAnswers503() async throws {
        let host = LocalModelHost(backendName: "local", modelName: "local", config: LocalModelConfig(modelPath: ""))
        let backend = LocalChatBackend(host: host)
        let request = try Self.request(#"{"model":"local","messages":[{"role":"user","content":"Hi"}]}"#)
        let error = await #expect(throws: OpenAIError.self) { try await backend.complete(request, upstreamModel: "local", logger: LocalFixtures.logger) }
        #expect(error?.status == 503 && error?.code == "backend_unavailable")
        #expect(host.status == .disabled)
    }

    @Test func brokenModelFileFailsToLoadWithTheReason() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("broken-\(UUID().uuidString).gguf").path
        try Data("GGUF but not really".utf8).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let host = LocalModelHost(backendName: "local", modelName: "local", config: LocalModelConfig(modelPath: path))
        let error = await #expect(throws: LocalModelLoadError.self) { try await host.load(logger: LocalFixtures.logger) }
        #expect(error?.description.contains(path) == true)
        guard case .failed = host.status else { Issue.record("status \(host.status)"); return }
        #expect(throws: LocalModelLoadError.self) {
            try LocalModelHost(backendName: "l", modelName: "l", config: LocalModelConfig(modelPath: "/nonexistent/model.gguf")).precheck()
        }
    }
}
