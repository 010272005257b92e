// `phigate bench local`: prefill / decode speed against the decode roofline measured in the same run.

import ArgumentParser
import Foundation
import PhiInference
import PhiKernels
import GGUF

/// `phigate bench …`
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench", abstract: "Benchmarks.", subcommands: [Local.self, Batch.self, Kernels.self, Sampler.self])

    /// `phigate bench kernels`: per-core matmul throughput on the Phi shapes (thread CPU time).
    struct Kernels: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Per-core quantized matmul throughput (thread CPU time).")

        @Option(help: "Weight types, comma-separated.")
        var types: String = "q4_0,q8_0,q4_K,q5_K,q6_K"

        @Option(help: "Token counts, comma-separated.")
        var tokens: String = "1,128"

        @Option(help: "Rows×columns shapes, comma-separated.")
        var shapes: String = "2560x2560,2560x10240"

        @Flag(help: "Exact path (dequantized tiles + OpenBLAS) instead of the quantized kernels.")
        var exact = false

        func run() throws {
            for typeName in types.split(separator: ",") {
                guard let type = GGMLType.allCases.first(where: { $0.name.lowercased() == typeName.lowercased() }) else {
                    throw ValidationError("unknown type \(typeName)")
                }
                for shape in shapes.split(separator: ",") {
                    let dims = shape.split(separator: "x").compactMap { Int($0) }
                    guard dims.count == 2 else { throw ValidationError("bad shape \(shape)") }
                    // Types with an 8-row layout (`WeightMatrix.packable8Types`) are measured in both layouts.
                    let packable = !exact && WeightMatrix.packable8Types.contains(type)
                    for n in tokens.split(separator: ",").compactMap({ Int($0) }) {
                        for packed in packable ? [false, true] : [false] {
                            let r = try KernelBenchmark.run(
                                type: type, rows: dims[0], columns: dims[1], tokens: n,
                                quantization: exact ? .off : .llamaCpp, packed: packed)
                            Standard.output("\(type.name)\(packed ? " packed×8" : "") \(dims[0])x\(dims[1]) n=\(n): \(String(format: "%.2f", r.macsPerSecond / 1e9)) GMAC/s, \(String(format: "%.2f", r.weightBytesPerSecond / 1e9)) GB/s weights (1 core)\n")
                        }
                    }
                }
            }
        }
    }

    /// `phigate bench sampler`: time per sampled token against sorting the whole vocabulary, same run.
    struct Sampler: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Time per sampled token (temperature, top-k, top-p, min-p) against sorting the whole vocabulary.")

        @Option(help: "Vocabulary sizes, comma-separated (phi-3-mini, phi-2, phi-4-mini).")
        var vocabularies: String = "32064,51200,200064"

        @Option(help: "Tokens sampled per measurement.")
        var tokens: Int = 50

        func run() throws {
            guard tokens > 0 else { throw ValidationError("--tokens must be positive") }
            let settings: [(String, GenerationParameters)] = [
                ("temperature 1", GenerationParameters(temperature: 1, seed: 1)),
                ("temperature 0.7, top_p 0.9", GenerationParameters(temperature: 0.7, topP: 0.9, seed: 1)),
                ("temperature 1, top_k 50", GenerationParameters(temperature: 1, topK: 50, seed: 1)),
                ("temperature 1, min_p 0.05", GenerationParameters(temperature: 1, minP: 0.05, seed: 1)),
                ("temperature 3, top_p 0.99 (flat)", GenerationParameters(temperature: 3, topP: 0.99, seed: 1)),
            ]
            func padded(_ text: String, _ width: Int) -> String { text + String(repeating: " ", count: max(0, width - text.count)) }
            Standard.output("vocabulary \(padded("setting", 34))  whole sort ms   sampler ms  speedup\n")
            for vocabulary in vocabularies.split(separator: ",").compactMap({ Int($0) }) where vocabulary > 0 {
                for (name, parameters) in settings {
                    let r = SamplerBenchmark.run(vocabulary: vocabulary, parameters: parameters, tokens: tokens)
                    Standard.output(
                        padded(String(vocabulary), 10) + " " + padded(name, 34)
                            + String(format: " %14.3f %12.3f %7.1fx\n", r.wholeVocabularySort * 1e3, r.sampler * 1e3, r.speedup))
                }
            }
        }
    }

    /// `phigate bench local --model FILE [--threads N] [--prompt-tokens 128,512] [--gen-tokens 64] [--context 0]
    /// [--reps 3] [--json]`
    struct Local: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Prefill and decode tokens/s of a GGUF model, weight bytes per token, read bandwidth, roofline, peak RSS.")

        @Option(help: "A .gguf model.")
        var model: String

        @Option(help: "Worker threads (default: physical cores).")
        var threads: Int?

        @Option(help: "Prompt lengths to time, comma-separated.")
        var promptTokens: String = "128,512"

        @Option(help: "Tokens to decode per repetition.")
        var genTokens: Int = 64

        @Option(help: "Positions cached before each decode repetition (an untimed prefill): decode at that context.")
        var context: Int = 0

        @Option(help: "Repetitions (medians are reported).")
        var reps: Int = 3

        @Option(help: ArgumentHelp(
            "Prompt tokens per forward call while prefilling (0: each prompt in one call).",
            discussion: "Defaults to the chunk the engine feeds a served prompt in, so prefill rates are what a request sees."))
        var prefillChunk: Int = SequenceDecoder.defaultPrefillChunkTokens

        @Flag(help: "Exact float32 products (no activation quantization).")
        var exact = false
        @Flag(help: "Keep Q4_0, Q8_0, Q4_K, Q5_K and Q6_K weights in the file's layout instead of packing them in 8-row groups (for comparison).")
        var noPack = false
        @Option(help: "Highest kernel level: scalar, avx2 or avx512 (default: the best this CPU enables; for comparison).")
        var kernelLevel: String?

        @Option(name: .customLong("probe-mib"), help: "Bandwidth probe buffer in MiB.")
        var probeMiB: Int = 512

        @Flag(help: "Print one JSON object.")
        var json = false

        func validate() throws {
            if promptSizes == nil { throw ValidationError("--prompt-tokens: expected integers like 128,512") }
            if genTokens < 1 || reps < 1 || (threads ?? 1) < 1 { throw ValidationError("counts must be positive") }
            if prefillChunk < 0 { throw ValidationError("--prefill-chunk: expected 0 or more tokens, got \(prefillChunk)") }
            if context < 0 { throw ValidationError("--context: expected 0 or more positions, got \(context)") }
            if let kernelLevel, levelCap(kernelLevel) == nil {
                throw ValidationError("--kernel-level: expected scalar, avx2 or avx512, got '\(kernelLevel)'")
            }
        }

        func levelCap(_ name: String) -> KernelLevel? {
            [KernelLevel.scalar, .avx2, .avx512].first { $0.name == name }
        }

        var promptSizes: [Int]? {
            let parts = promptTokens.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
            return parts.contains(nil) ? nil : parts.compactMap { $0 }
        }

        func run() throws {
            if let kernelLevel, let cap = levelCap(kernelLevel) { ComputeSettings.levelCap = cap }
            let options = LocalBenchmarkOptions(
                threads: threads, promptTokens: promptSizes ?? [], generatedTokens: genTokens, decodeContext: context,
                repetitions: reps,
                quantization: exact ? .off : .llamaCpp, bandwidthProbeBytes: max(16, probeMiB) << 20, packWeights: !noPack,
                prefillChunkTokens: prefillChunk > 0 ? prefillChunk : nil)
            let r = try LocalBenchmark.run(path: model, options: options, log: { if !json { Standard.error($0 + "\n") } })
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys]
                Standard.output(String(decoding: try encoder.encode(r), as: UTF8.self) + "\n")
                return
            }
            func f(_ v: Double, _ digits: Int = 2) -> String { String(format: "%.\(digits)f", v) }
            var lines = [
                "model          \(r.model) (\(r.fileBytes) bytes; \(r.tensorTypes.sorted { $0.key < $1.key }.map { "\($0.key)×\($0.value)" }.joined(separator: " ")))",
                "threads        \(r.threads) (\(r.kernelLevel), activation quantization \(r.activationQuantization ? "on" : "off"))",
                "barrier        \(f(r.barrierNanoseconds / 1000, 2)) µs per dispatch",
            ]
            if r.packedMatrices > 0 {
                lines.append("layout         \(r.packedMatrices) matrices (Q4_0, Q8_0, Q4_K, Q5_K, Q6_K) packed in groups of 8 rows at load")
            }
            let chunking = r.prefillChunkTokens.map { "in chunks of \($0), " } ?? "in one call, "
            for p in r.prefill {
                lines.append("prefill \(p.tokens)    \(f(p.tokensPerSecond)) tok/s  (\(chunking)reps \(p.samples.map { f($0) }.joined(separator: ", ")))")
            }
            lines += [
                "decode         \(f(r.decodeTokensPerSecond)) tok/s over \(r.decodeTokens) tokens"
                    + (r.decodeContext > 0 ? " after \(r.decodeContext) cached positions" : "")
                    + " (reps \(r.decodeSamples.map { f($0) }.joined(separator: ", ")))",
                "bytes/token    \(r.weightBytesPerToken) (\(f(Double(r.weightBytesPerToken) / 1e9, 3)) GB)"
                    + (r.decodeContext > 0
                        ? "; the KV cache adds \(f(Double(r.kvBytesPerDecodedToken) / 1e9, 3)) GB (not in the roofline)" : ""),
                "bandwidth      \(f(r.readBandwidthBytesPerSecond / 1e9)) GB/s read, \(r.threads) threads (highest probe: "
                    + "\(f(r.readBandwidthSamples[0] / 1e9)) before loading; "
                    + r.decodeProbeBandwidths.map { f($0 / 1e9) }.joined(separator: ", ") + " around the decode reps)",
                "roofline       \(f(r.decodeRooflineTokensPerSecond)) tok/s at the highest probe; median decode reached "
                    + "\(f(100 * r.rooflineFraction, 1))%",
                "per rep        \(r.decodeRepFractions.map { f(100 * $0, 1) + "%" }.joined(separator: ", ")) of the roofline "
                    + "at the probes right before and after each rep; median \(f(100 * r.pairedRooflineFraction, 1))%",
            ]
            if r.decodeContext > 0 {
                // With a long context attention's reads are part of a token too: the same reps against weights + KV.
                let withKV = Double(r.weightBytesPerToken + r.kvBytesPerDecodedToken) / Double(r.weightBytesPerToken)
                lines.append(
                    "with KV        \(f(r.decodeRooflineTokensPerSecond / withKV)) tok/s roofline counting the KV reads; per rep "
                        + r.decodeRepFractions.map { f(100 * $0 * withKV, 1) + "%" }.joined(separator: ", "))
            }
            // The share of a token no other thread can help with: what keeps decode under the roofline besides the stream.
            let tokenNanoseconds = 1e9 / max(1e-9, r.decodeTokensPerSecond)
            lines.append(
                "serial         \(f(r.decodeSerialNanosecondsPerToken / 1e6, 3)) ms per token outside the worker pool's dispatches "
                    + "(\(f(100 * r.decodeSerialNanosecondsPerToken / tokenNanoseconds, 1))% of a token); "
                    + "\(f(r.decodeDispatchesPerToken, 1)) dispatches per token, \(f(r.decodeWaitNanosecondsPerToken / 1e6, 3)) ms "
                    + "of them waiting for the last thread, \(f(r.decodeStealsPerToken, 1)) shares split")
            lines += [
                "weights read   \(f(r.weightsReadBandwidthBytesPerSecond / 1e9)) GB/s (the probe over the mapped weights; decode "
                    + "reached \(f(100 * r.decodeTokensPerSecond * Double(r.weightBytesPerToken) / max(1, r.weightsReadBandwidthBytesPerSecond), 1))% of it)",
                "peak RSS       \(f(Double(r.peakRSSBytes) / 1e9, 3)) GB = \(f(r.rssRatio, 3)) × (weights \(f(Double(r.weightBytes) / 1e9, 3)) GB + KV \(f(Double(r.kvCacheBytes) / 1e9, 3)) GB)",
            ]
            Standard.output(lines.joined(separator: "\n") + "\n")
        }
    }
}
