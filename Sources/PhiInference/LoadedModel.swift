// Loading a Phi model from a GGUF file or a Hugging Face folder (config.json, generation_config.json,
// model.safetensors or its sharded index).

import Foundation
public import GGUF

/// Where a model came from.
public enum ModelFormat: String, Sendable {
    case gguf
    case huggingFace = "hf"
}

/// Progress of `LoadedModel.load`: a fraction in 0…1 and what is being done.
public struct LoadProgress: Sendable, Equatable {
    public var fraction: Double
    public var stage: String
}

/// Token ids from `generation_config.json` / GGUF `tokenizer.ggml.*` metadata.
public struct SpecialTokenIDs: Sendable, Equatable {
    public var bos: Int?
    /// End-of-sequence and end-of-turn ids: generation stops at any of them.
    public var eos: [Int]

    public init(bos: Int? = nil, eos: [Int] = []) {
        self.bos = bos
        self.eos = eos
    }
}

/// A model ready to run: configuration, weights (in place in their mapped files) and the forward pass.
public final class LoadedModel: Sendable {
    public let path: String
    public let format: ModelFormat
    public let config: PhiModelConfig
    public let model: any CausalLanguageModel
    public let specialTokens: SpecialTokenIDs
    /// The GGUF file (tokenizer metadata, inspection), for GGUF models.
    public let gguf: GGUFFile?
    /// The safetensors checkpoint, for Hugging Face folders.
    public let checkpoint: SafetensorsCheckpoint?
    /// Linear weights given the packed 8-row copy at load (0 when none was: another type or shape, `packWeights`
    /// false, or a CPU without the AVX2 kernels).
    public let packedMatrices: Int

    init(
        path: String, format: ModelFormat, config: PhiModelConfig, model: any CausalLanguageModel,
        specialTokens: SpecialTokenIDs, gguf: GGUFFile?, checkpoint: SafetensorsCheckpoint?, packedMatrices: Int = 0
    ) {
        self.path = path
        self.format = format
        self.config = config
        self.model = model
        self.specialTokens = specialTokens
        self.gguf = gguf
        self.checkpoint = checkpoint
        self.packedMatrices = packedMatrices
    }

    /// Loads a `.gguf` file or a Hugging Face folder. `progress` is called from the loading thread. `packWeights`:
    /// give Q4_0, Q8_0, Q4_K, Q5_K and Q6_K linear weights the packed 8-row copy that the quantized kernels run faster on (AVX2
    /// and AVX-512 CPUs; the file's pages are released, so resident memory still holds the weights once, but no longer in the
    /// shared page cache); pass false for exact numerics, which read the file's layout.
    public static func load(
        path: String, packWeights: Bool = true, progress: (@Sendable (LoadProgress) -> Void)? = nil
    ) throws(PhiInferenceError) -> LoadedModel {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw .invalidFile(file: path, reason: "no such file or folder")
        }
        progress?(LoadProgress(fraction: 0, stage: "opening"))
        let loaded = isDirectory.boolValue
            ? try loadHuggingFace(folder: path, progress: progress) : try loadGGUF(path: path, packWeights: packWeights, progress: progress)
        progress?(LoadProgress(fraction: 1, stage: "ready"))
        return loaded
    }

    private static func loadGGUF(
        path: String, packWeights: Bool, progress: (@Sendable (LoadProgress) -> Void)?
    ) throws(PhiInferenceError) -> LoadedModel {
        let file: GGUFFile
        do {
            file = try GGUFFile(url: URL(fileURLWithPath: path))
        } catch let error as GGUFError {
            throw .invalidFile(file: path, reason: error.description)
        } catch {
            throw .invalidFile(file: path, reason: "\(error)")
        }
        let config = try PhiModelConfig(gguf: file)
        let tensors = GGUFTensorSource(file: file, packsWeights: packWeights)
        let model = try makeModel(config: config, tensors: tensors, progress: progress)
        // Reading the small float tensors after a matrix was packed maps the 2 MB huge page around each of them again,
        // tails of packed matrices included: release the packed matrices' pages once more now that nothing else
        // will be read from them (measured on a Q4_K_M phi-2: 165 → 34 MB of the file resident after loading; peak 1.109 → 1.090 × weights + KV).
        let packed = tensors.packedTally?.all ?? []
        for name in packed { tensors.releasePages(of: name) }
        var special = SpecialTokenIDs(bos: file.int("tokenizer.ggml.bos_token_id"))
        for key in ["tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id"] {
            if let id = file.int(key), !special.eos.contains(id) { special.eos.append(id) }
        }
        return LoadedModel(
            path: path, format: .gguf, config: config, model: model, specialTokens: special, gguf: file, checkpoint: nil,
            packedMatrices: packed.count
        )
    }

    private static func loadHuggingFace(
        folder: String, progress: (@Sendable (LoadProgress) -> Void)?
    ) throws(PhiInferenceError) -> LoadedModel {
        let configPath = folder + "/config.json"
        guard let configData = FileManager.default.contents(atPath: configPath) else {
            throw .invalidFile(file: configPath, reason: "missing or unreadable")
        }
        let config = try PhiModelConfig(huggingFaceConfig: configData, source: configPath)
        let checkpoint = try SafetensorsCheckpoint(folder: folder)
        let source = SafetensorsTensorSource(checkpoint: checkpoint, architecture: config.architecture, sourceName: folder)
        let model = try makeModel(config: config, tensors: source, progress: progress)
        var special = try specialTokenIDs(json: configData, source: configPath)
        let generationPath = folder + "/generation_config.json"
        if let data = FileManager.default.contents(atPath: generationPath) {
            let generation = try specialTokenIDs(json: data, source: generationPath)
            special.bos = generation.bos ?? special.bos
            if !generation.eos.isEmpty { special.eos = generation.eos }
        }
        return LoadedModel(
            path: folder, format: .huggingFace, config: config, model: model, specialTokens: special, gguf: nil,
            checkpoint: checkpoint
        )
    }

    /// Builds the model; reports one progress step per layer (after touching the layer's weight pages, so a
    /// cold file is read from disk here rather than during the first request).
    static func makeModel(
        config: PhiModelConfig, tensors: some ModelTensorSource, progress: (@Sendable (LoadProgress) -> Void)? = nil
    ) throws(PhiInferenceError) -> any CausalLanguageModel {
        progress?(LoadProgress(fraction: 0.05, stage: "configuration"))
        let onLayer: (Int) -> Void = { layer in
            guard let progress else { return }
            for suffix in ["attn_qkv", "attn_q", "attn_k", "attn_v", "attn_output", "ffn_up", "ffn_down"] {
                // (Packed weights were read in full while packing, and their mapped pages released.)
                let name = "blk.\(layer).\(suffix).weight"
                if let tensor = tensors.tensor(name), tensors.packedTally?.contains(name) != true {
                    tensor.touchPages()
                }
            }
            let fraction = 0.05 + 0.9 * Double(layer + 1) / Double(config.layerCount)
            progress(LoadProgress(fraction: fraction, stage: "layer \(layer + 1)/\(config.layerCount)"))
        }
        switch config.architecture {
        case .phi2: return try Phi2Model(config: config, tensors: tensors, onLayer: onLayer)
        case .phi3: return try Phi3Model(config: config, tensors: tensors, onLayer: onLayer)
        }
    }

    /// `bos_token_id` and `eos_token_id` (an integer or a list) of a config or generation config.
    static func specialTokenIDs(json data: Data, source: String) throws(PhiInferenceError) -> SpecialTokenIDs {
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw .invalidFile(file: source, reason: "not a JSON object")
        }
        var result = SpecialTokenIDs(bos: (object["bos_token_id"] as? NSNumber)?.intValue)
        if let eos = object["eos_token_id"] as? NSNumber {
            result.eos = [eos.intValue]
        } else if let list = object["eos_token_id"] as? [NSNumber] {
            result.eos = list.map(\.intValue)
        }
        return result
    }
}
