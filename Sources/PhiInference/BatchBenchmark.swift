// `phigate bench batch`: throughput and latency of continuous batching. N concurrent streamed generations go
// through an InferenceEngine for each N; we report aggregate decode tokens/s and the TTFT / per-token latency
// percentiles their consumers saw.

import Foundation

/// What to measure.
public struct BatchBenchmarkOptions: Sendable {
    /// Concurrent requests per measurement (each gets an engine with that many slots).
    public var concurrency: [Int]
    /// Tokens each request generates (greedy, end-of-sequence ignored).
    public var generatedTokens: Int
    /// Rounds per concurrency level; samples are pooled.
    public var repetitions: Int
    public var compute: EngineComputeOptions
    public var prefillChunkTokens: Int

    public init(
        concurrency: [Int] = [1, 2, 4, 8], generatedTokens: Int = 64, repetitions: Int = 1,
        compute: EngineComputeOptions = EngineComputeOptions(),
        prefillChunkTokens: Int = SequenceDecoder.defaultPrefillChunkTokens
    ) {
        self.concurrency = concurrency
        self.generatedTokens = generatedTokens
        self.repetitions = repetitions
        self.compute = compute
        self.prefillChunkTokens = prefillChunkTokens
    }
}

/// Measured numbers, one row per concurrency level.
public struct BatchBenchmarkResult: Sendable, Codable {
    /// Median and 99th percentile, in milliseconds.
    public struct Percentiles: Sendable, Codable {
        public var p50: Double
        public var p99: Double
    }

    public struct Row: Sendable, Codable {
        public var concurrency: Int
        public var requests: Int
        public var generatedTokens: Int
        /// Tokens produced while all of a round's requests were decoding ÷ that time, averaged over rounds.
        public var decodeTokensPerSecond: Double
        /// From `generate` to the first token, as the consumer saw it.
        public var timeToFirstToken: Percentiles
        /// Between consecutive tokens of one request.
        public var perTokenLatency: Percentiles
    }

    public var model: String
    public var promptTokens: Int
    public var generatedTokensPerRequest: Int
    public var rows: [Row]
}

/// Runs the benchmark (compute on each engine's thread; this only awaits streams).
public enum BatchBenchmark {
    public static func run(
        model: LoadedModel, promptTokens: [Int], options: BatchBenchmarkOptions = BatchBenchmarkOptions(),
        log: @Sendable (String) -> Void = { _ in }
    ) async throws -> BatchBenchmarkResult {
        var parameters = GenerationParameters.greedy
        parameters.maxTokens = max(1, options.generatedTokens)
        parameters.ignoreEOS = true
        var rows: [BatchBenchmarkResult.Row] = []
        for n in options.concurrency where n > 0 {
            let engine = InferenceEngine(
                model: model, tokenizer: nil,
                batching: EngineBatchingOptions(maxSequences: n, queueCapacity: n, prefillChunkTokens: options.prefillChunkTokens),
                compute: options.compute)
            defer { engine.shutdown() }
            var warmUp = parameters
            warmUp.maxTokens = 2
            _ = try await timestamps(of: engine.generate(promptTokens: promptTokens, parameters: warmUp))
            var rates: [Double] = []
            var firstTokens: [Double] = []
            var gaps: [Double] = []
            for round in 0..<max(1, options.repetitions) {
                let start = DispatchTime.now().uptimeNanoseconds
                let streams = try (0..<n).map { _ in try engine.generate(promptTokens: promptTokens, parameters: parameters) }
                let times = try await withThrowingTaskGroup(of: [UInt64].self) { group in
                    for stream in streams { group.addTask { try await timestamps(of: stream) } }
                    return try await group.reduce(into: [[UInt64]]()) { $0.append($1) }
                }
                // The decode window: from the moment every request has its first token to the last token.
                let windowStart = times.compactMap(\.first).max() ?? start
                let windowEnd = times.compactMap(\.last).max() ?? start
                let decoded = times.reduce(0) { $0 + $1.filter { $0 > windowStart }.count }
                if windowEnd > windowStart { rates.append(Double(decoded) / (Double(windowEnd - windowStart) / 1e9)) }
                for request in times {
                    if let first = request.first { firstTokens.append(Double(first - start) / 1e6) }
                    for (a, b) in zip(request, request.dropFirst()) { gaps.append(Double(b - a) / 1e6) }
                }
                log("N=\(n) round \(round + 1): \(String(format: "%.2f", rates.last ?? 0)) tok/s decode")
            }
            rows.append(.init(
                concurrency: n, requests: n * max(1, options.repetitions), generatedTokens: parameters.maxTokens ?? 0,
                decodeTokensPerSecond: rates.isEmpty ? 0 : rates.reduce(0, +) / Double(rates.count),
                timeToFirstToken: percentiles(firstTokens), perTokenLatency: percentiles(gaps)))
        }
        return BatchBenchmarkResult(
            model: model.path, promptTokens: promptTokens.count, generatedTokensPerRequest: parameters.maxTokens ?? 0,
            rows: rows)
    }

    /// A fixed-width text table of `result`, speedups relative to the first row.
    public static func table(_ result: BatchBenchmarkResult) -> String {
        var lines = [
            "prompt \(result.promptTokens) tokens, \(result.generatedTokensPerRequest) generated per request",
            "    N   decode tok/s  speedup   TTFT p50 ms   TTFT p99 ms   token p50 ms   token p99 ms",
        ]
        let base = result.rows.first?.decodeTokensPerSecond ?? 0
        for row in result.rows {
            let speedup = base > 0 ? row.decodeTokensPerSecond / base : 0
            lines.append(String(
                format: "%5d %14.2f %7.2fx %13.1f %13.1f %14.1f %14.1f", row.concurrency, row.decodeTokensPerSecond,
                speedup, row.timeToFirstToken.p50, row.timeToFirstToken.p99, row.perTokenLatency.p50,
                row.perTokenLatency.p99))
        }
        return lines.joined(separator: "\n")
    }

    /// Uptime nanoseconds at which each token arrived.
    static func timestamps(of stream: AsyncThrowingStream<GenerationEvent, any Error>) async throws -> [UInt64] {
        var times: [UInt64] = []
        for try await event in stream {
            if case .token = event { times.append(DispatchTime.now().uptimeNanoseconds) }
        }
        return times
    }

    /// Nearest-rank percentiles; zeros without samples.
    static func percentiles(_ values: [Double]) -> BatchBenchmarkResult.Percentiles {
        let sorted = values.sorted()
        guard !sorted.isEmpty else { return .init(p50: 0, p99: 0) }
        func rank(_ p: Double) -> Double { sorted[min(sorted.count - 1, max(0, Int((p * Double(sorted.count)).rounded(.up)) - 1))] }
        return .init(p50: rank(0.5), p99: rank(0.99))
    }
}
