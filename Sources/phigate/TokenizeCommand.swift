// `phigate tokenize`: token ids (and pieces) of a text with a model's tokenizer.

import ArgumentParser
import Foundation
import GGUF
import PhiTokenizer

/// `phigate tokenize --model FILE (--text TEXT | --file F) [--json]`
struct TokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize",
        abstract: "Token ids of a text, as the model's tokenizer produces them (BOS added when the tokenizer adds one).")

    @Option(help: "A .gguf file (model or vocabulary only) or a Hugging Face folder with tokenizer.json.")
    var model: String

    @Option(help: "The text to tokenize.")
    var text: String?

    @Option(help: "A file whose contents are tokenized.")
    var file: String?

    @Flag(help: "Print {\"tokens\":[…],\"pieces\":[…]}.")
    var json = false

    func validate() throws {
        if (text == nil) == (file == nil) { throw ValidationError("give exactly one of --text or --file") }
    }

    func run() throws {
        let input: String
        if let text {
            input = text
        } else {
            let path = file ?? ""
            guard let data = FileManager.default.contents(atPath: path) else {
                throw ValidationError("--file: cannot read \(path)")
            }
            input = String(decoding: data, as: UTF8.self)
        }
        let tokenizer = try Self.tokenizer(at: model)
        let ids = tokenizer.encode(input)
        let pieces = ids.map { tokenizer.tokenPiece($0) ?? "" }
        if json {
            let object: [String: Any] = ["tokens": ids.map(Int.init), "pieces": pieces]
            let data = try JSONSerialization.data(withJSONObject: object, options: [.withoutEscapingSlashes])
            print(String(decoding: data, as: UTF8.self))
        } else {
            for (id, piece) in zip(ids, pieces) { print("\(id)\t\(piece)") }
            FileHandle.standardError.write(Data("\(ids.count) tokens\n".utf8))
        }
    }

    /// The tokenizer of a GGUF file (no weights needed) or a Hugging Face folder.
    static func tokenizer(at path: String) throws -> BPETokenizer {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw ValidationError("--model: no such file or folder: \(path)")
        }
        if isDirectory.boolValue {
            return try BPETokenizer(directory: URL(fileURLWithPath: path))
        }
        return try BPETokenizer(gguf: GGUFFile(url: URL(fileURLWithPath: path)))
    }
}
