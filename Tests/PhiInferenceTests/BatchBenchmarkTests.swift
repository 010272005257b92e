import Foundation
import GGUF
import PhiInference
import PhiKernels
import Testing

@Suite("BatchBenchmark")
struct BatchBenchmarkTests {
    @Test("reports one row per concurrency level with every request's tokens, and formats a table")
    func rowsAndTable() async throws {
        let model = try LoadedModel.load(path: Fixtures.path("phi3-tiny-gqa/phi3-tiny-gqa-Q4_0.gguf"))
        let result = try await BatchBenchmark.run(
            model: model, promptTokens: [1, 450, 4996, 17354],
            options: BatchBenchmarkOptions(concurrency: [1, 3], generatedTokens: 6, repetitions: 2))
        #expect(result.rows.map(\.concurrency) == [1, 3])
        #expect(result.rows.map(\.requests) == [2, 6])
        #expect(result.rows.allSatisfy { $0.generatedTokens == 6 && $0.decodeTokensPerSecond > 0 })
        #expect(result.rows.allSatisfy { $0.timeToFirstToken.p50 <= $0.timeToFirstToken.p99 })
        let table = BatchBenchmark.table(result)
        #expect(table.split(separator: "\n").count == 4)
        #expect(table.contains("1.00x"))
    }

    /// Measurement, not a test: `PHIGATE_BATCH_BENCH=/path/model.gguf` (a synthetic phi-2 Q4_0 is written there
    /// when missing) prints the table. Skipped otherwise.
    @Test("batch benchmark on a Phi-2-sized model", .enabled(if: ProcessInfo.processInfo.environment["PHIGATE_BATCH_BENCH"] != nil))
    func phi2Sized() async throws {
        let path = try #require(ProcessInfo.processInfo.environment["PHIGATE_BATCH_BENCH"])
        if !FileManager.default.fileExists(atPath: path) {
            let spec = try SyntheticModelSpec(architecture: "phi2", preset: .phi2, type: .q4_0)
            let vocabulary = try GGUFFile(url: URL(fileURLWithPath: Fixtures.path("phi2-tiny/phi2-tiny-Q4_0.gguf")))
            try SyntheticModelWriter.write(spec, to: URL(fileURLWithPath: path), vocabulary: vocabulary, seed: 7)
        }
        let model = try LoadedModel.load(path: path)
        let environment = ProcessInfo.processInfo.environment
        let generated = environment["PHIGATE_BATCH_BENCH_TOKENS"].flatMap(Int.init) ?? 32
        let promptLength = environment["PHIGATE_BATCH_BENCH_PROMPT"].flatMap(Int.init) ?? 32
        let prompt = (0..<promptLength).map { 100 + 37 * $0 % 50000 }
        let result = try await BatchBenchmark.run(
            model: model, promptTokens: prompt, options: BatchBenchmarkOptions(generatedTokens: generated),
            log: { print($0) })
        print(BatchBenchmark.table(result))
    }

    /// Measurement, not a test: `PHIGATE_BATCH_CPU_BENCH=/path/model.gguf` times batched decode steps (N sequences,
    /// one token each, `forward(batch:)`) in thread CPU time on one worker thread, so that other processes on a
    /// shared machine do not distort the ratio: decode tokens per CPU-second per N, and the ratio to N=1.
    @Test("batched decode steps in thread CPU time", .enabled(if: ProcessInfo.processInfo.environment["PHIGATE_BATCH_CPU_BENCH"] != nil))
    func decodeStepCPUTime() throws {
        let path = try #require(ProcessInfo.processInfo.environment["PHIGATE_BATCH_CPU_BENCH"])
        let model = try LoadedModel.load(path: path)
        let previous = ComputeSettings.threadCount
        ComputeSettings.threadCount = 1
        defer { ComputeSettings.threadCount = previous }
        func cpu() -> Double {
            var ts = timespec()
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
            return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
        }
        let steps = ProcessInfo.processInfo.environment["PHIGATE_BATCH_CPU_STEPS"].flatMap(Int.init) ?? 6
        var base = 0.0
        try ComputeSettings.withActivationQuantization(.llamaCpp) {
            for n in [1, 2, 4, 8] {
                let caches = (0..<n).map { _ in model.model.makeCache(capacity: 64) }
                for (i, cache) in caches.enumerated() { _ = try model.model.forward([100 + i, 200, 300, 400], cache: cache, logits: .last) }
                var best = Double.infinity
                for step in 0..<steps {
                    let inputs = caches.enumerated().map { BatchedSequenceInput(tokens: [500 + 7 * $0.offset + step], cache: $0.element) }
                    let t0 = cpu()
                    _ = try model.model.forward(batch: inputs)
                    best = min(best, cpu() - t0)
                }
                let rate = Double(n) / best
                if n == 1 { base = rate }
                print(String(format: "cpu N=%d  step %.1f ms  %.2f decode tok per CPU-s  %.2fx", n, best * 1e3, rate, rate / base))
            }
        }
    }
}
