import Foundation
import GGUF
import PhiInference
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
}
