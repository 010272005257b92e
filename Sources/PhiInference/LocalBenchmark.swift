// `phigate bench local`: prefill and decode speed of a GGUF model on this machine, against the decode roofline
// (memory read bandwidth ÷ weight bytes per token) measured in the same run with the same threads.

import Foundation
public import PhiKernels

/// What to measure.
public struct LocalBenchmarkOptions: Sendable {
    public var threads: Int?
    public var promptTokens: [Int]
    public var generatedTokens: Int
    /// Positions already cached when each decode repetition starts (filled by an untimed prefill; 0: decode from
    /// the first token, as the roofline assumes). Long contexts show attention's share of a token.
    public var decodeContext: Int
    public var repetitions: Int
    public var quantization: ActivationQuantization
    /// Bytes of the bandwidth probe's buffer (well above the last-level cache).
    public var bandwidthProbeBytes: Int
    /// Pack Q4_0 / Q8_0 / Q4_K / Q5_K / Q6_K weights at load as the gateway does (false: the file's layout, for comparison).
    public var packWeights: Bool
    /// Prompt tokens per forward call while prefilling, as the engine feeds a served prompt (nil: the whole prompt
    /// in one call).
    public var prefillChunkTokens: Int?

    public init(
        threads: Int? = nil, promptTokens: [Int] = [128, 512], generatedTokens: Int = 64, decodeContext: Int = 0,
        repetitions: Int = 3, quantization: ActivationQuantization = .llamaCpp, bandwidthProbeBytes: Int = 512 << 20,
        packWeights: Bool = true, prefillChunkTokens: Int? = SequenceDecoder.defaultPrefillChunkTokens
    ) {
        self.prefillChunkTokens = prefillChunkTokens
        self.decodeContext = decodeContext
        self.packWeights = packWeights
        self.threads = threads
        self.promptTokens = promptTokens
        self.generatedTokens = generatedTokens
        self.repetitions = repetitions
        self.quantization = quantization
        self.bandwidthProbeBytes = bandwidthProbeBytes
    }
}

/// Measured numbers (rates are medians over repetitions).
public struct LocalBenchmarkResult: Sendable, Codable {
    public struct Prefill: Sendable, Codable {
        public var tokens: Int
        public var tokensPerSecond: Double
        public var samples: [Double]
    }

    public var model: String
    public var fileBytes: Int
    public var tensorTypes: [String: Int]
    public var threads: Int
    public var kernelLevel: String
    /// Linear weights the load packed into the 8-row layout (0: the file's layout throughout).
    public var packedMatrices: Int = 0
    public var activationQuantization: Bool
    public var prefill: [Prefill]
    /// Prompt tokens per forward call (nil: each prompt in one call).
    public var prefillChunkTokens: Int?
    public var decodeTokens: Int
    /// Positions cached before each decode repetition (`LocalBenchmarkOptions.decodeContext`).
    public var decodeContext: Int = 0
    /// KV cache bytes attention reads per decoded token, averaged over a repetition's positions (not in the
    /// roofline, which counts weight bytes).
    public var kvBytesPerDecodedToken: Int = 0
    public var decodeTokensPerSecond: Double
    public var decodeSamples: [Double]
    public var weightBytesPerToken: Int
    /// The highest probe of the run (`readBandwidthSamples`, `decodeProbeBandwidths`): what the machine showed it can read.
    public var readBandwidthBytesPerSecond: Double
    /// Read bandwidth measured before loading the model and again after decoding (a shared host's memory
    /// bandwidth drifts during a run; one probe alone can make the decode look faster than its roofline).
    public var readBandwidthSamples: [Double]
    /// The same probe over the model's own mapped weights: where their pages happen to sit can be slower memory
    /// than the probe's fresh buffer on a virtual machine; decode can read no faster than this.
    public var weightsReadBandwidthBytesPerSecond: Double
    public var decodeRooflineTokensPerSecond: Double
    /// Median decode rate ÷ the roofline at the highest probe of the whole run (the conservative figure).
    public var rooflineFraction: Double
    /// Read bandwidth probed right before each decode repetition, and once more after the last one.
    public var decodeProbeBandwidths: [Double]
    /// Each decode repetition against the roofline at the higher of the probes right before and after it: the
    /// host's memory bandwidth drifts over seconds (a shared VM's two regimes differ ~1.8×), so a rep is compared
    /// with what the machine could read while it ran.
    public var decodeRepFractions: [Double]
    /// Median of `decodeRepFractions`.
    public var pairedRooflineFraction: Double
    public var barrierNanoseconds: Double
    /// Per decoded token (medians over repetitions): time outside the worker pool's dispatches (the serial share:
    /// norms, RoPE, KV appends, small attention, activation quantization, sampling), the dispatches, and the time
    /// the dispatching thread waited in them for the last worker.
    public var decodeSerialNanosecondsPerToken: Double = 0
    public var decodeDispatchesPerToken: Double = 0
    public var decodeWaitNanosecondsPerToken: Double = 0
    /// Shares split in flight per decoded token (`PoolCounters.steals`).
    public var decodeStealsPerToken: Double = 0
    public var peakRSSBytes: Int
    public var weightBytes: Int
    public var kvCacheBytes: Int
    /// peak RSS ÷ (weights + KV cache).
    public var rssRatio: Double
}

/// Runs the benchmark.
public enum LocalBenchmark {
    public static func run(
        path: String, options: LocalBenchmarkOptions, log: (String) -> Void = { _ in }
    ) throws -> LocalBenchmarkResult {
        if let threads = options.threads { ComputeSettings.threadCount = threads }
        let previousMode = ComputeSettings.activationQuantization
        ComputeSettings.activationQuantization = options.quantization
        defer { ComputeSettings.activationQuantization = previousMode }
        let threads = ComputeSettings.threadCount

        log("measuring read bandwidth (\(threads) threads)…")
        let bandwidthBefore = ComputeSettings.readBandwidth(bytes: options.bandwidthProbeBytes, repetitions: 5)
        resetPeakRSS()

        log("loading \(path)…")
        let loaded = try LoadedModel.load(path: path, packWeights: options.packWeights && options.quantization == .llamaCpp)
        let model = loaded.model
        let config = loaded.config
        guard let gguf = loaded.gguf else {
            throw PhiInferenceError.invalidFile(file: path, reason: "bench local needs a GGUF file")
        }
        var types: [String: Int] = [:]
        var weightBytes = 0
        var perToken = 0
        let tied = gguf.tensor(named: "output.weight") == nil
        for t in gguf.tensors {
            let bytes = gguf.bytes(of: t).count
            types[t.type.name, default: 0] += 1
            weightBytes += bytes
            if t.name == "token_embd.weight" && !tied {
                perToken += bytes / max(1, t.rowCount)  // one embedding row
            } else {
                perToken += bytes
            }
        }
        var rng = Xoshiro256(seed: 42)
        func randomTokens(_ n: Int) -> [Int] { (0..<n).map { _ in Int(rng.next() % UInt64(config.vocabularySize)) } }
        let reps = max(1, options.repetitions)
        let maxPrompt = options.promptTokens.max() ?? 0

        // Warm-up: page the weights in and start the workers.
        log("warming up…")
        do {
            let cache = model.makeCache(capacity: 8)
            _ = try model.forward(randomTokens(4), cache: cache, logits: .last)
        }
        // Timed after the load, not at start-up: OpenBLAS's own threads spin on sched_yield for ~0.1 s after the
        // library loads, and a dispatch measured then read 30-50 µs instead of 0.2-0.8 (OPENBLAS_NUM_THREADS=1: never).
        let barrier = ComputeSettings.barrierNanoseconds(iterations: 2000)

        var prefill: [LocalBenchmarkResult.Prefill] = []
        for n in options.promptTokens where n > 0 {
            var samples: [Double] = []
            for rep in 0..<reps {
                let cache = model.makeCache(capacity: n)
                let tokens = randomTokens(n)
                let t0 = DispatchTime.now().uptimeNanoseconds
                try prefillPrompt(tokens, model: model, cache: cache, chunk: options.prefillChunkTokens)
                let dt = Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
                samples.append(Double(n) / dt)
                log("prefill \(n) rep \(rep + 1): \(String(format: "%.2f", Double(n) / dt)) tok/s")
            }
            prefill.append(.init(tokens: n, tokensPerSecond: median(samples), samples: samples))
        }

        var decodeSamples: [Double] = []
        var decodeProbes: [Double] = []
        var serialPerToken: [Double] = [], dispatchesPerToken: [Double] = [], waitPerToken: [Double] = []
        var stealsPerToken: [Double] = []
        let gen = max(1, options.generatedTokens)
        let context = max(1, options.decodeContext)
        var peakBeforeProbes = 0
        for rep in 0..<reps {
            // The probe's buffer must not count as the model's memory: take the peak so far, probe, restart the peak.
            peakBeforeProbes = max(peakBeforeProbes, peakRSS())
            decodeProbes.append(ComputeSettings.readBandwidth(bytes: options.bandwidthProbeBytes, repetitions: 3))
            resetPeakRSS()
            let cache = model.makeCache(capacity: context + gen)
            var logits = try prefillPrompt(randomTokens(context), model: model, cache: cache, chunk: options.prefillChunkTokens)
            let pool0 = ComputeSettings.poolCounters
            let t0 = DispatchTime.now().uptimeNanoseconds
            for _ in 0..<gen {
                let next = logits.indices.max { logits[$0] < logits[$1] } ?? 0
                logits = try model.forward([next], cache: cache, logits: .last)
            }
            let elapsed = DispatchTime.now().uptimeNanoseconds - t0
            let dt = Double(elapsed) * 1e-9
            let pool1 = ComputeSettings.poolCounters
            serialPerToken.append(Double(Int(elapsed) - (pool1.insideNanoseconds - pool0.insideNanoseconds)) / Double(gen))
            dispatchesPerToken.append(Double(pool1.dispatches - pool0.dispatches) / Double(gen))
            waitPerToken.append(Double(pool1.waitNanoseconds - pool0.waitNanoseconds) / Double(gen))
            stealsPerToken.append(Double(pool1.steals - pool0.steals) / Double(gen))
            decodeSamples.append(Double(gen) / dt)
            log("decode \(gen) rep \(rep + 1): \(String(format: "%.2f", Double(gen) / dt)) tok/s")
        }
        let decode = median(decodeSamples)
        let kvBytes = KVCache.byteCount(config: config, positions: max(maxPrompt, context + gen), precision: .f32)
        // Token j of a rep attends over context + j + 1 positions.
        let kvPerToken = KVCache.byteCount(config: config, positions: 1, precision: .f32) * (2 * context + gen + 1) / 2
        let peak = max(peakBeforeProbes, peakRSS())  // before the last probe's buffer
        log("measuring read bandwidth again…")
        let bandwidthAfter = ComputeSettings.readBandwidth(bytes: options.bandwidthProbeBytes, repetitions: 5)
        decodeProbes.append(bandwidthAfter)
        let bandwidth = ([bandwidthBefore] + decodeProbes).max() ?? 0
        let weightsBandwidth = ComputeSettings.readBandwidth(of: gguf.tensorData, repetitions: 3)
        let roofline = bandwidth / Double(max(1, perToken))
        let repFractions = decodeSamples.indices.map { i in
            decodeSamples[i] * Double(perToken) / max(1, max(decodeProbes[i], decodeProbes[i + 1]))
        }
        return LocalBenchmarkResult(
            model: path, fileBytes: gguf.fileSize, tensorTypes: types, threads: threads,
            kernelLevel: ComputeSettings.level.description
                + (ComputeSettings.level == .avx512 && !ComputeSettings.extensions.isEmpty
                    ? " + " + ComputeSettings.extensions.description : ""),
            packedMatrices: loaded.packedMatrices,
            activationQuantization: options.quantization == .llamaCpp, prefill: prefill,
            prefillChunkTokens: options.prefillChunkTokens, decodeTokens: gen,
            decodeContext: options.decodeContext, kvBytesPerDecodedToken: kvPerToken,
            decodeTokensPerSecond: decode, decodeSamples: decodeSamples, weightBytesPerToken: perToken,
            readBandwidthBytesPerSecond: bandwidth, readBandwidthSamples: [bandwidthBefore, bandwidthAfter],
            weightsReadBandwidthBytesPerSecond: weightsBandwidth,
            decodeRooflineTokensPerSecond: roofline,
            rooflineFraction: decode / roofline, decodeProbeBandwidths: decodeProbes, decodeRepFractions: repFractions,
            pairedRooflineFraction: median(repFractions), barrierNanoseconds: barrier,
            decodeSerialNanosecondsPerToken: median(serialPerToken), decodeDispatchesPerToken: median(dispatchesPerToken),
            decodeWaitNanosecondsPerToken: median(waitPerToken), decodeStealsPerToken: median(stealsPerToken),
            peakRSSBytes: peak,
            weightBytes: weightBytes, kvCacheBytes: kvBytes,
            rssRatio: Double(peak) / Double(max(1, weightBytes + kvBytes)))
    }

    /// Runs a prompt as the engine does (`SequenceDecoder`): in forward calls of at most `chunk` tokens, each
    /// rotated for the whole prompt's length; returns the last position's logits.
    @discardableResult
    static func prefillPrompt(
        _ tokens: [Int], model: some CausalLanguageModel, cache: KVCache, chunk: Int?
    ) throws(PhiInferenceError) -> [Float] {
        let step = max(1, chunk ?? tokens.count)
        let end = cache.count + tokens.count
        cache.reserve(forPositions: end)
        var logits: [Float] = []
        for start in stride(from: 0, to: tokens.count, by: step) {
            let part = Array(tokens[start..<min(tokens.count, start + step)])
            logits = try model.forward(batch: [BatchedSequenceInput(tokens: part, cache: cache, scalingLength: end)])[0]
        }
        return logits
    }

    static func median(_ values: [Double]) -> Double {
        let s = values.sorted()
        guard !s.isEmpty else { return 0 }
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }

    /// Peak resident set size (VmHWM on Linux, ru_maxrss elsewhere), bytes.
    static func peakRSS() -> Int {
        if let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") })
        {
            let kb = line.split(separator: " ").compactMap { Int($0) }.first ?? 0
            return kb * 1024
        }
        var usage = rusage()
        #if os(Linux)
        getrusage(RUSAGE_SELF.rawValue, &usage)
        #else
        getrusage(RUSAGE_SELF, &usage)
        #endif
        return Int(usage.ru_maxrss) * 1024
    }

    /// Resets the peak RSS (Linux: `5` to /proc/self/clear_refs) so the bandwidth probe's buffer is not counted.
    static func resetPeakRSS() {
        try? "5".write(toFile: "/proc/self/clear_refs", atomically: false, encoding: .utf8)
    }
}
