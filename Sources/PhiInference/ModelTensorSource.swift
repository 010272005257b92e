// Where weights come from: a GGUF file or a safetensors checkpoint, both seen through GGUF tensor names and
// ggml shapes (`[ne0 = input size, ne1 = output size]`), in place in the mapped files.

import GGUF
import PhiKernels
import Synchronization


/// One weight tensor in place in a mapped file.
///
/// `@unchecked Sendable`: `bytes` points into a read-only mapping kept alive by `owner`.
struct TensorView: @unchecked Sendable {
    /// GGUF name (`blk.0.attn_qkv.weight`).
    let name: String
    /// Name in the file (the Hugging Face name for safetensors).
    let fileName: String
    let type: GGMLType
    /// ggml order: `shape[0]` is the row length.
    let shape: [Int]
    let bytes: UnsafeRawBufferPointer
    let owner: any AnyObject & Sendable

    var rowLength: Int { shape.first ?? 1 }
    var rowCount: Int { shape.dropFirst().reduce(1, *) }
    var elementCount: Int { shape.reduce(1, *) }

    /// All values as Float32 (for small tensors: norms, biases).
    func floats() throws(PhiInferenceError) -> [Float] {
        do {
            return try Dequantizer.floats(type: type, from: bytes, count: elementCount)
        } catch {
            throw .invalidTensor(file: "", tensor: fileName, reason: "\(error)")
        }
    }

    /// Reads one byte per page so the mapping is resident (used while loading, for an honest progress line).
    func touchPages() {
        guard let base = bytes.baseAddress else { return }
        var sum: UInt8 = 0
        var offset = 0
        while offset < bytes.count {
            sum &+= base.load(fromByteOffset: offset, as: UInt8.self)
            offset += 4096
        }
        withExtendedLifetime(sum) {}
    }

    /// A `WeightMatrix` view (rows = `shape[1]`, columns = `shape[0]`) without copying.
    func matrix(source: String) throws(PhiInferenceError) -> WeightMatrix {
        do {
            return try WeightMatrix(name: name, type: type, rows: rowCount, columns: rowLength, bytes: bytes, owner: owner)
        } catch {
            throw .invalidTensor(file: source, tensor: fileName, reason: "\(error)")
        }
    }
}

/// A set of named weight tensors.
protocol ModelTensorSource: Sendable {
    /// The file or folder, for messages.
    var sourceName: String { get }
    func tensor(_ ggufName: String) -> TensorView?
    /// Whether linear layers' Q4_0, Q8_0, Q4_K, Q5_K and Q6_K weights get the packed 8-row copy the quantized kernels prefer (the mapped pages
    /// are then released, so the weights stay resident once).
    var packsWeights: Bool { get }
    /// Counts the matrices `linearWeight` packed (nil: not counted).
    var packedTally: PackedMatrixTally? { get }
    /// Where `linearWeight` puts the packed copies (one arena per load, so they share 2 MB pages).
    var packedArena: PackedArena? { get }
    /// Drops the process's resident pages of a tensor that has been packed (a no-op where they are not mapped).
    func releasePages(of ggufName: String)
}

/// The weight matrices a load packed (for `LoadedModel.packedMatrices`, and to release their pages once more at the
/// end of the load).
final class PackedMatrixTally: Sendable {
    private let names = Mutex<[String]>([])
    func add(_ name: String) { names.withLock { $0.append(name) } }
    var all: [String] { names.withLock { $0 } }
    func contains(_ name: String) -> Bool { names.withLock { $0.contains(name) } }
}

extension ModelTensorSource {
    /// The tensor, checked to have the ggml `shape` (`[input, output]` for matrices).
    func required(_ name: String, shape: [Int]) throws(PhiInferenceError) -> TensorView {
        guard let tensor = tensor(name) else {
            throw .invalidTensor(file: sourceName, tensor: name, reason: "missing (expected shape \(Self.format(shape)))")
        }
        guard tensor.shape == shape else {
            throw .invalidTensor(
                file: sourceName, tensor: tensor.fileName,
                reason: "expected \(Self.format(shape)) \(tensor.type), found \(Self.format(tensor.shape)) \(tensor.type)"
            )
        }
        guard tensor.type.isSupportedForCompute else {
            throw .invalidTensor(file: sourceName, tensor: tensor.fileName, reason: "unsupported tensor type \(tensor.type)")
        }
        guard tensor.rowLength % tensor.type.blockSize == 0 else {
            throw .invalidTensor(file: sourceName, tensor: tensor.fileName,
                                 reason: "row length \(tensor.rowLength) is not a multiple of the \(tensor.type) block size")
        }
        return tensor
    }

    var packsWeights: Bool { false }
    var packedTally: PackedMatrixTally? { nil }
    var packedArena: PackedArena? { nil }
    func releasePages(of ggufName: String) {}

    /// A matrix with `input` columns and `output` rows (ggml shape `[input, output]`).
    func matrix(_ name: String, input: Int, output: Int) throws(PhiInferenceError) -> WeightMatrix {
        try required(name, shape: [input, output]).matrix(source: sourceName)
    }

    /// `matrix`, packed for the quantized kernels when the source packs (a linear layer's weight).
    func linearWeight(_ name: String, input: Int, output: Int) throws(PhiInferenceError) -> WeightMatrix {
        let weight = try matrix(name, input: input, output: output)
        guard packsWeights else { return weight }
        let packed = weight.packedInGroupsOf8(arena: packedArena)
        if packed.hasPacked8 {
            packedTally?.add(name)
            releasePages(of: name)
        }
        return packed
    }

    /// A 1-D tensor of `count` values as Float32.
    func vector(_ name: String, count: Int) throws(PhiInferenceError) -> [Float] {
        try required(name, shape: [count]).floats()
    }

    static func format(_ shape: [Int]) -> String { shape.map(String.init).joined(separator: "×") }
}

/// Tensors of a GGUF file.
struct GGUFTensorSource: ModelTensorSource {
    let file: GGUFFile
    var packsWeights = false
    let packedTally: PackedMatrixTally? = PackedMatrixTally()
    let packedArena: PackedArena? = PackedArena()
    var sourceName: String { file.name }

    func releasePages(of ggufName: String) {
        if let info = file.tensor(named: ggufName) { file.releaseResidentPages(of: info) }
    }

    func tensor(_ ggufName: String) -> TensorView? {
        guard let info = file.tensor(named: ggufName) else { return nil }
        return TensorView(
            name: ggufName, fileName: ggufName, type: info.type, shape: info.shape, bytes: file.bytes(of: info),
            owner: file
        )
    }
}

/// Tensors of a safetensors checkpoint under their GGUF names (shapes reversed to ggml order).
struct SafetensorsTensorSource: ModelTensorSource {
    let checkpoint: SafetensorsCheckpoint
    let architecture: PhiArchitecture
    let sourceName: String

    func tensor(_ ggufName: String) -> TensorView? {
        guard let hfName = TensorNames.huggingFaceName(forGGUF: ggufName, architecture: architecture),
            let tensor = checkpoint.tensors[hfName]
        else { return nil }
        let type: GGMLType =
            switch tensor.dtype {
            case .f32: .f32
            case .f16: .f16
            case .bf16: .bf16
            }
        return TensorView(
            name: ggufName, fileName: hfName, type: type, shape: tensor.shape.reversed(), bytes: tensor.bytes,
            owner: tensor.file
        )
    }
}

/// GGUF ↔ Hugging Face tensor names (llama.cpp's `convert_hf_to_gguf.py` mapping for phi2 and phi3).
public enum TensorNames {
    private static let phi2Global = [
        "token_embd": "model.embed_tokens", "output_norm": "model.final_layernorm", "output": "lm_head",
    ]
    private static let phi2Block = [
        "attn_norm": "input_layernorm", "attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj",
        "attn_v": "self_attn.v_proj", "attn_output": "self_attn.dense", "ffn_up": "mlp.fc1", "ffn_down": "mlp.fc2",
    ]
    private static let phi3Global = [
        "token_embd": "model.embed_tokens", "output_norm": "model.norm", "output": "lm_head",
    ]
    private static let phi3Block = [
        "attn_norm": "input_layernorm", "attn_qkv": "self_attn.qkv_proj", "attn_output": "self_attn.o_proj",
        "ffn_norm": "post_attention_layernorm", "ffn_up": "mlp.gate_up_proj", "ffn_down": "mlp.down_proj",
    ]

    /// `blk.3.attn_qkv.weight` → `model.layers.3.self_attn.qkv_proj.weight`; nil for names with no HF tensor.
    public static func huggingFaceName(forGGUF name: String, architecture: PhiArchitecture) -> String? {
        let parts = name.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard let suffix = parts.last, suffix == "weight" || suffix == "bias" else { return nil }
        let (global, block) = architecture == .phi2 ? (phi2Global, phi2Block) : (phi3Global, phi3Block)
        if parts.count == 2, let mapped = global[parts[0]] {
            return "\(mapped).\(suffix)"
        }
        if parts.count == 4, parts[0] == "blk", let layer = Int(parts[1]), layer >= 0, let mapped = block[parts[2]] {
            return "model.layers.\(layer).\(mapped).\(suffix)"
        }
        return nil
    }

    /// The inverse of `huggingFaceName(forGGUF:architecture:)`.
    public static func ggufName(forHuggingFace name: String, architecture: PhiArchitecture) -> String? {
        let (global, block) = architecture == .phi2 ? (phi2Global, phi2Block) : (phi3Global, phi3Block)
        for suffix in ["weight", "bias"] where name.hasSuffix("." + suffix) {
            let stem = String(name.dropLast(suffix.count + 1))
            if let key = global.first(where: { $0.value == stem })?.key { return "\(key).\(suffix)" }
            let prefix = "model.layers."
            guard stem.hasPrefix(prefix) else { return nil }
            let rest = stem.dropFirst(prefix.count)
            guard let dot = rest.firstIndex(of: "."), let layer = Int(rest[..<dot]) else { return nil }
            let component = String(rest[rest.index(after: dot)...])
            if let key = block.first(where: { $0.value == component })?.key { return "blk.\(layer).\(key).\(suffix)" }
        }
        return nil
    }
}
