// `phigate generate`: run the embedded model on a prompt and stream the text.

import ArgumentParser
import Foundation
import PhiInference
import PhiKernels
import PhiTokenizer

/// `phigate generate --model FILE (--prompt TEXT | --tokens IDS) [--chat] [--system TEXT] [--max-tokens N]
/// [--temperature T] [--top-p P] [--top-k K] [--seed S] [--stop S]… [--ignore-eos] [--threads N] [--json]`
struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Generate text with the embedded model: streams to stdout, usage and tokens/s to stderr.")

    @Option(help: "A .gguf file or a Hugging Face folder.")
    var model: String

    @Option(help: "Prompt text (tokenized with the model's tokenizer, BOS added as it does).")
    var prompt: String?

    @Option(help: "Prompt as comma-separated token ids, used exactly as given.")
    var tokens: String?

    @Flag(help: "Wrap --prompt in the model's chat template as a user turn.")
    var chat = false

    @Option(help: "System message for --chat.")
    var system: String?

    @Option(help: "Maximum number of generated tokens.")
    var maxTokens: Int = 256

    @Option(help: "Sampling temperature; 0 is greedy.")
    var temperature: Float = 0.8

    @Option(help: "Nucleus sampling threshold.")
    var topP: Float = 0.95

    @Option(help: "Keep the K most likely tokens (0 disables).")
    var topK: Int = 40

    @Option(help: "Seed for reproducible sampling.")
    var seed: UInt64?

    @Option(help: "Stop string (repeatable).")
    var stop: [String] = []

    @Flag(help: "Keep generating past end-of-sequence tokens.")
    var ignoreEos = false

    @Option(help: "Compute threads (default: one per physical core).")
    var threads: Int?

    @Option(help: "llama_cpp (activations quantized like ggml, fast; what `phigate serve` uses by default) or exact.")
    var numerics: String = "llama_cpp"

    @Option(help: "Key/value cache element type: f32 (exact) or f16.")
    var kvCacheType: String = "f32"

    @Flag(help: "Print one JSON object {\"tokens\",\"text\",\"finish_reason\",\"usage\"} instead of streaming.")
    var json = false

    func validate() throws {
        if (prompt == nil) == (tokens == nil) { throw ValidationError("give exactly one of --prompt or --tokens") }
        if chat, prompt == nil { throw ValidationError("--chat needs --prompt") }
        if system != nil, !chat { throw ValidationError("--system needs --chat") }
        if let tokens { _ = try TokenList.parse(tokens) }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
        if !["llama_cpp", "exact"].contains(numerics) { throw ValidationError("--numerics: expected llama_cpp or exact, found '\(numerics)'") }
        if !["f32", "f16"].contains(kvCacheType) { throw ValidationError("--kv-cache-type: expected f32 or f16, found '\(kvCacheType)'") }
        if maxTokens < 0 { throw ValidationError("--max-tokens must be ≥ 0") }
    }

    var parameters: GenerationParameters {
        GenerationParameters(
            maxTokens: maxTokens, temperature: temperature, topK: topK, topP: topP, seed: seed,
            stopStrings: stop, ignoreEOS: ignoreEos)
    }

    func run() throws {
        if let threads { ComputeSettings.threadCount = threads }
        try ComputeSettings.withActivationQuantization(numerics == "exact" ? .off : .llamaCpp) { try generate() }
    }

    private func generate() throws {
        try parameters.validate()
        let loaded = try ModelLoading.load(model)
        let tokenizer = try loaded.loadTokenizer()
        let promptIDs: [Int]
        if let tokens {
            promptIDs = try TokenList.parse(tokens)
        } else if chat {
            var messages: [ChatMessage] = []
            if let system { messages.append(.system(system)) }
            messages.append(.user(prompt ?? ""))
            let template = try tokenizer.chatTemplate(architecture: loaded.config.architecture.rawValue)
            promptIDs = template.encode(messages, with: tokenizer).map(Int.init)
        } else {
            promptIDs = tokenizer.encode(prompt ?? "").map(Int.init)
        }
        let cache = loaded.model.makeCache(precision: kvCacheType == "f16" ? .f16 : .f32)
        let generator = try Generator(
            model: loaded, tokenizer: tokenizer, promptTokens: promptIDs, parameters: parameters, cache: cache)
        var ids: [Int] = []
        var text = ""
        var finish: (FinishReason, GenerationUsage)?
        try generator.run { event in
            switch event {
            case .token(let token):
                ids.append(token.id)
                text += token.text
                if !json { Standard.output(token.text) }
            case .text(let tail):
                text += tail
                if !json { Standard.output(tail) }
            case .finished(let reason, let usage):
                finish = (reason, usage)
            }
        }
        guard let (reason, usage) = finish else { return }
        if json {
            let object: [String: Any] = [
                "tokens": ids, "text": text, "finish_reason": reason.rawValue,
                "usage": [
                    "prompt_tokens": usage.promptTokens, "completion_tokens": usage.completionTokens,
                    "total_tokens": usage.totalTokens,
                ],
            ]
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
            print(String(decoding: data, as: UTF8.self))
        } else {
            Standard.output("\n")
        }
        let promptRate = usage.promptSeconds > 0 ? Double(usage.promptTokens) / usage.promptSeconds : 0
        let generationRate = usage.generationSeconds > 0 ? Double(usage.completionTokens) / usage.generationSeconds : 0
        Standard.error(String(
            format: "[usage] prompt %d tokens (%.1f tok/s), generated %d tokens (%.1f tok/s), finish_reason %@\n",
            usage.promptTokens, promptRate, usage.completionTokens, generationRate, reason.rawValue))
    }
}
