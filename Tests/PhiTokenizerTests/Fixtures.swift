import Foundation
import GGUF
import PhiTokenizer

/// Paths of the shared fixtures and the tokenizers built from them (loaded once per process).
enum Fixtures {
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures")
    static let tokenizerDirectory = root.appendingPathComponent("tokenizer")

    static func url(_ relative: String) -> URL { root.appendingPathComponent(relative) }

    /// The test strings and expected ids of a llama.cpp `.inp`/`.out` pair.
    static func vectors(_ inp: String, _ out: String) throws -> [(text: String, ids: [Int32])] {
        let input = try String(contentsOf: tokenizerDirectory.appendingPathComponent(inp), encoding: .utf8)
        let output = try String(contentsOf: tokenizerDirectory.appendingPathComponent(out), encoding: .utf8)
        var texts = input.components(separatedBy: "\n__ggml_vocab_test__\n")
        if texts.last == "" { texts.removeLast() }
        var lines = output.components(separatedBy: "\n")
        if lines.last == "" { lines.removeLast() }
        precondition(texts.count == lines.count, "\(inp): \(texts.count) texts, \(out): \(lines.count) lines")
        return zip(texts, lines).map { text, line in
            (text, line.split(separator: " ").map { Int32($0)! })
        }
    }

    static func gguf(_ relative: String) throws -> BPETokenizer {
        try BPETokenizer(gguf: GGUFFile(url: url(relative)))
    }

    static let phi2GGUF: Result<BPETokenizer, any Error> = Result { try gguf("phi/phi2-tiny/phi2-tiny-Q4_0.gguf") }
    static let gpt2GGUF: Result<BPETokenizer, any Error> = Result { try gguf("tokenizer/ggml-vocab-gpt-2.gguf") }
    static let phi3GGUF: Result<BPETokenizer, any Error> = Result { try gguf("tokenizer/ggml-vocab-phi-3.gguf") }
    static let phi2JSON: Result<BPETokenizer, any Error> = Result {
        try BPETokenizer(directory: tokenizerDirectory.appendingPathComponent("hf-phi2"))
    }
    static let phi3JSON: Result<BPETokenizer, any Error> = Result {
        try BPETokenizer(directory: tokenizerDirectory.appendingPathComponent("hf-phi3"))
    }

    static func tokenizer(_ name: String) throws -> BPETokenizer {
        switch name {
        case "phi2-gguf": try phi2GGUF.get()
        case "gpt2-gguf": try gpt2GGUF.get()
        case "phi3-gguf": try phi3GGUF.get()
        case "phi2-json": try phi2JSON.get()
        case "phi3-json": try phi3JSON.get()
        default: throw CocoaError(.fileNoSuchFile)
        }
    }

    /// `inputs` of a `*.reference.json`: name → (text, ids).
    static func referenceInputs(_ relative: String) throws -> [String: (text: String, ids: [Int32])] {
        let data = try Data(contentsOf: url(relative))
        let json = try JSONSerialization.jsonObject(with: data) as! [String: Any]
        let inputs = json["inputs"] as! [String: [String: Any]]
        return inputs.mapValues { ($0["text"] as! String, ($0["ids"] as! [NSNumber]).map { $0.int32Value }) }
    }
}
