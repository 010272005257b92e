// `phigate model synth`: a GGUF with random weights and the real model's tensor names, shapes, types and metadata.

import ArgumentParser
import Foundation
import GGUF
import PhiInference

#if canImport(Glibc)
import Glibc
#endif

extension ModelCommand {
    /// `phigate model synth --arch phi2|phi3 --preset … --type … --out FILE.gguf [--vocab-from GGUF] [--seed N]`
    struct Synth: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a GGUF with random weights and the exact tensor layout and metadata of a real Phi model.")

        @Option(help: "GGUF architecture: phi2 or phi3.")
        var arch: String

        @Option(help: "Model size: \(SyntheticPreset.allCases.map(\.rawValue).joined(separator: ", ")).")
        var preset: String

        @Option(help: "Weight type: \(SyntheticWeightType.allCases.map(\.rawValue).joined(separator: ", ")).")
        var type: String

        @Option(help: "Output .gguf file.")
        var out: String

        @Option(help: "GGUF whose tokenizer.* metadata is copied (default: the repository's phi-2 / phi-3 vocabularies).")
        var vocabFrom: String?

        @Option(help: "Random seed.")
        var seed: UInt64 = 1

        func validate() throws {
            guard SyntheticPreset(rawValue: preset) != nil else { throw ValidationError("--preset: expected one of \(SyntheticPreset.allCases.map(\.rawValue)), found \(preset)") }
            guard SyntheticWeightType(rawValue: type) != nil else { throw ValidationError("--type: expected one of \(SyntheticWeightType.allCases.map(\.rawValue)), found \(type)") }
            guard ["phi2", "phi3"].contains(arch) else { throw ValidationError("--arch: expected phi2 or phi3, found \(arch)") }
        }

        func run() throws {
            guard let preset = SyntheticPreset(rawValue: preset), let type = SyntheticWeightType(rawValue: type) else { return }
            let spec = try SyntheticModelSpec(architecture: arch, preset: preset, type: type)
            let candidates = vocabFrom.map { [$0] } ?? SyntheticModelWriter.defaultVocabularyCandidates(for: preset)
            guard let vocabPath = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }) else {
                throw ValidationError(
                    vocabFrom.map { "no such file: \($0)" }
                        ?? "no default vocabulary for \(preset.rawValue) here: give --vocab-from GGUF")
            }
            let vocabulary = try GGUFFile(url: URL(fileURLWithPath: vocabPath))
            let isTerminal = isatty(STDERR_FILENO) != 0
            var lastPercent = -1
            let name = URL(fileURLWithPath: out).lastPathComponent
            try SyntheticModelWriter.write(
                spec, to: URL(fileURLWithPath: out), vocabulary: vocabulary, seed: seed,
                progress: { written, total in
                    guard isTerminal else { return }
                    let percent = Int(Double(written) * 100 / Double(max(total, 1)))
                    if percent != lastPercent {
                        lastPercent = percent
                        Standard.error("\rWriting \(name): \(percent)% of \(total >> 20) MiB\u{1B}[K")
                    }
                })
            if isTerminal { Standard.error("\n") }
            Standard.output("wrote \(out): \(spec.preset.rawValue) \(spec.type.rawValue), \(spec.tensors.count) tensors, \(spec.weightBytes) weight bytes (vocabulary from \(vocabPath))\n")
        }
    }
}
