// `phigate model inspect` and `phigate model logits`: look inside a model file and run it on token ids.

import ArgumentParser
import Foundation
import GGUF
import PhiInference
import PhiTokenizer

#if canImport(Glibc)
import Glibc
#endif

/// `phigate model …`
struct ModelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model",
        abstract: "Inspect a Phi model file or run it on token ids.",
        subcommands: [Inspect.self, Logits.self, Synth.self, ModelPullCommand.self]
    )

    /// `phigate model inspect FILE [--json]`
    struct Inspect: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Architecture, dimensions, parameter count, tensor types, tokenizer and chat template of a model.")

        @Argument(help: "A .gguf file or a Hugging Face folder (config.json + safetensors).")
        var file: String

        @Flag(help: "Print one JSON object.")
        var json = false

        func run() throws {
            let model = try ModelLoading.load(file)
            let info = ModelInspection(model: model)
            if json {
                print(try info.jsonText())
            } else {
                print(info.text)
            }
        }
    }

    /// `phigate model logits --model FILE --tokens 1,2,3 [--all-positions] [--json]`
    struct Logits: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Logits after the given token ids (used exactly as given: no BOS is added).")

        @Option(help: "A .gguf file or a Hugging Face folder.")
        var model: String

        @Option(help: "Comma-separated token ids, e.g. 1,450,4996.")
        var tokens: String

        @Flag(help: "One row of logits per position instead of the last one only.")
        var allPositions = false

        @Flag(help: "Print {\"tokens\":[…],\"logits\":[[…]]}.")
        var json = false

        func validate() throws {
            _ = try TokenList.parse(tokens)
        }

        func run() throws {
            let ids = try TokenList.parse(tokens)
            let loaded = try ModelLoading.load(model)
            let logits = try loaded.model.forward(
                ids, cache: loaded.model.makeCache(), logits: allPositions ? .all : .last)
            let vocabulary = loaded.config.vocabularySize
            let rows = logits.count / vocabulary
            if json {
                var out = "{\"tokens\":[" + ids.map(String.init).joined(separator: ",") + "],\"logits\":["
                for r in 0..<rows {
                    if r > 0 { out += "," }
                    out += "[" + logits[(r * vocabulary)..<((r + 1) * vocabulary)].map { "\($0)" }.joined(separator: ",") + "]"
                }
                out += "]}"
                print(out)
            } else {
                for r in 0..<rows {
                    let row = Array(logits[(r * vocabulary)..<((r + 1) * vocabulary)])
                    let best = row.indices.sorted { row[$0] > row[$1] }.prefix(5)
                    let position = allPositions ? r : ids.count - 1
                    print("position \(position) (token \(ids[position])): " + best.map { "\($0)=\(row[$0])" }.joined(separator: " "))
                }
            }
        }
    }
}

/// Token ids written as `1,2,3`.
enum TokenList {
    static func parse(_ text: String) throws -> [Int] {
        let parts = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        guard !parts.isEmpty else { throw ValidationError("--tokens: expected comma-separated token ids, e.g. 1,2,3") }
        return try parts.map { part in
            guard let id = Int(part), id >= 0 else {
                throw ValidationError("--tokens: '\(part)' is not a non-negative integer")
            }
            return id
        }
    }
}

/// Loading with a progress line on stderr when it is a terminal.
enum ModelLoading {
    static func load(_ path: String) throws -> LoadedModel {
        let isTerminal = isatty(STDERR_FILENO) != 0
        let name = URL(fileURLWithPath: path).lastPathComponent
        let start = Date()
        var report: (@Sendable (LoadProgress) -> Void)?
        if isTerminal {
            report = { progress in
                let percent = Int((progress.fraction * 100).rounded())
                Standard.error("\rLoading \(name): \(percent)% \(progress.stage)\u{1B}[K")
            }
        }
        let model = try LoadedModel.load(path: path, progress: report)
        if isTerminal {
            Standard.error(String(format: "\rLoaded %@ in %.2f s\u{1B}[K\n", name, Date().timeIntervalSince(start)))
        }
        return model
    }
}

enum Standard {
    static func error(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }

    static func output(_ text: String) {
        FileHandle.standardOutput.write(Data(text.utf8))
    }
}

/// What `model inspect` reports.
struct ModelInspection {
    let model: LoadedModel

    var parameterCount: Int {
        if let gguf = model.gguf {
            return gguf.tensors.filter { !$0.name.hasPrefix("rope_factors") }.reduce(0) { $0 + $1.elementCount }
        }
        return model.checkpoint?.tensors.values.reduce(0) { $0 + $1.elementCount } ?? 0
    }

    /// Tensor count per type (`q4_K: 11`, `f32: 5`, or safetensors dtypes).
    var tensorTypes: [String: Int] {
        var counts: [String: Int] = [:]
        if let gguf = model.gguf {
            for tensor in gguf.tensors { counts[tensor.type.name, default: 0] += 1 }
        } else if let checkpoint = model.checkpoint {
            for tensor in checkpoint.tensors.values { counts[tensor.dtype.rawValue, default: 0] += 1 }
        }
        return counts
    }

    var fileSize: Int {
        if let gguf = model.gguf { return gguf.fileSize }
        return model.checkpoint?.files.reduce(0) { total, file in
            let size = (try? FileManager.default.attributesOfItem(atPath: file.path)[.size] as? Int) ?? 0
            return total + size
        } ?? 0
    }

    var tokenizerSummary: String {
        (try? model.loadTokenizer().summary) ?? "unavailable"
    }

    var chatTemplate: String {
        guard let tokenizer = try? model.loadTokenizer(),
            let template = try? tokenizer.chatTemplate(architecture: model.config.architecture.rawValue)
        else { return "unknown" }
        let shipped = tokenizer.definition.chatTemplate != nil ? "shipped template recognised" : "architecture default"
        return "\(template.rawValue) (\(shipped))"
    }

    var text: String {
        let c = model.config
        var lines = [
            "file:            \(model.path)",
            "format:          \(model.format == .gguf ? "GGUF v\(model.gguf?.version ?? 0)" : "Hugging Face safetensors")",
            "architecture:    \(c.architecture.rawValue)",
            "vocabulary:      \(c.vocabularySize)",
            "hidden size:     \(c.hiddenSize)",
            "layers:          \(c.layerCount)",
            "heads:           \(c.headCount) (kv \(c.kvHeadCount), head dim \(c.headDimension))",
            "intermediate:    \(c.intermediateSize)",
            "rope:            \(c.ropeDimension) dims, theta \(c.ropeTheta)",
            "context length:  \(c.contextLength)",
            "tied embeddings: \(c.tieWordEmbeddings)",
        ]
        if let rope = c.longRoPE {
            lines.append("longrope:        original context \(rope.originalContextLength), attention factor \(rope.attentionFactor)")
        }
        lines += [
            "parameters:      \(parameterCount) (\(String(format: "%.2f", Double(parameterCount) / 1e6)) M)",
            "tensor types:    " + tensorTypes.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", "),
            "file size:       \(fileSize) bytes (\(String(format: "%.1f", Double(fileSize) / 1_048_576)) MiB)",
            "tokenizer:       \(tokenizerSummary)",
            "chat template:   \(chatTemplate)",
            "bos / eos:       \(model.specialTokens.bos.map(String.init) ?? "none") / \(model.specialTokens.eos.map(String.init).joined(separator: ","))",
        ]
        return lines.joined(separator: "\n")
    }

    func jsonText() throws -> String {
        let c = model.config
        var object: [String: Any] = [
            "file": model.path,
            "format": model.format.rawValue,
            "architecture": c.architecture.rawValue,
            "vocab_size": c.vocabularySize,
            "hidden_size": c.hiddenSize,
            "num_hidden_layers": c.layerCount,
            "num_attention_heads": c.headCount,
            "num_key_value_heads": c.kvHeadCount,
            "head_dim": c.headDimension,
            "intermediate_size": c.intermediateSize,
            "rope_dimension": c.ropeDimension,
            "rope_theta": Double(c.ropeTheta),
            "context_length": c.contextLength,
            "tie_word_embeddings": c.tieWordEmbeddings,
            "parameter_count": parameterCount,
            "tensor_types": tensorTypes,
            "file_size": fileSize,
            "tokenizer": tokenizerSummary,
            "chat_template": chatTemplate,
            "bos_token_id": model.specialTokens.bos as Any,
            "eos_token_ids": model.specialTokens.eos,
        ]
        if let rope = c.longRoPE {
            object["longrope"] = [
                "original_max_position_embeddings": rope.originalContextLength,
                "attention_factor": Double(rope.attentionFactor),
            ]
        }
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .prettyPrinted])
        return String(decoding: data, as: UTF8.self)
    }
}
