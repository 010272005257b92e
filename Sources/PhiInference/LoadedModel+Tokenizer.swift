// The tokenizer that goes with a loaded model: GGUF `tokenizer.ggml.*` metadata or the folder's tokenizer.json.

import Foundation
public import PhiTokenizer

extension LoadedModel {
    /// Loads the model's tokenizer (from the GGUF metadata, or `tokenizer.json` in the Hugging Face folder).
    public func loadTokenizer() throws(PhiInferenceError) -> BPETokenizer {
        do {
            if let gguf {
                return try BPETokenizer(gguf: gguf)
            }
            return try BPETokenizer(directory: URL(fileURLWithPath: path))
        } catch {
            throw .invalidFile(file: path, reason: "tokenizer: \(error)")
        }
    }
}
