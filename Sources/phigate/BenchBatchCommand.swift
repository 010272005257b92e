// `phigate bench batch`: continuous batching of the local engine — N concurrent streamed generations on one model
// file, aggregate decode tokens/s and time-to-first-token / per-token latency percentiles for each N.

import ArgumentParser
import Foundation
import PhiInference
import PhiKernels

extension BenchCommand {
    /// `phigate bench batch --model FILE [--concurrency 1,2,4,8] [--prompt-tokens 32] [--gen-tokens 64] [--reps 2]`
    struct Batch: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Aggregate decode tokens/s, TTFT and per-token latency of N concurrent streamed local requests.",
            discussion: """
                For each N an engine with N sequence slots (the local backend's InferenceEngine) runs N greedy requests \
                at once, end-of-sequence ignored, and every consumer timestamps its tokens. Decode tokens/s counts the \
                tokens produced while all N requests were decoding. Progress goes to stderr, the table to stdout.
                """)

        @Option(help: "A .gguf model or Hugging Face folder.")
        var model: String

        @Option(help: "Concurrent requests to measure, comma-separated.")
        var concurrency: String = "1,2,4,8"

        @Option(help: "Prompt length in tokens (fixed pseudo-random ids).")
        var promptTokens: Int = 32

        @Option(help: "Tokens each request generates.")
        var genTokens: Int = 64

        @Option(help: "Rounds per N (samples pooled).")
        var reps: Int = 2

        @Option(help: "Worker threads (default: physical cores).")
        var threads: Int?

        @Flag(help: "Exact float32 products instead of llama.cpp-style quantized activations.")
        var exact = false

        @Flag(help: "Print the result as JSON.")
        var json = false

        func validate() throws {
            if levels.isEmpty || levels.contains(where: { $0 < 1 }) {
                throw ValidationError("--concurrency: expected positive numbers like 1,2,4,8")
            }
            if promptTokens < 1 || genTokens < 2 || reps < 1 {
                throw ValidationError("--prompt-tokens ≥ 1, --gen-tokens ≥ 2 and --reps ≥ 1")
            }
        }

        var levels: [Int] { concurrency.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) } }

        func run() async throws {
            if let threads { ComputeSettings.threadCount = threads }
            let loaded = try ModelLoading.load(model)
            var generator = Xoshiro256(seed: 42)
            let vocabulary = UInt64(max(2, min(loaded.config.vocabularySize, 32000)))
            let prompt = (0..<promptTokens).map { _ in Int(generator.next() % vocabulary) }
            let options = BatchBenchmarkOptions(
                concurrency: levels, generatedTokens: genTokens, repetitions: reps,
                compute: EngineComputeOptions(activationQuantization: exact ? .off : .llamaCpp))
            Standard.error("threads \(ComputeSettings.threadCount), kernels \(ComputeSettings.level)\n")
            let result = try await BatchBenchmark.run(model: loaded, promptTokens: prompt, options: options) { line in
                Standard.error(line + "\n")
            }
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                print(String(decoding: try encoder.encode(result), as: UTF8.self))
            } else {
                print(BatchBenchmark.table(result))
            }
        }
    }
}
