// Reader for the Hugging Face safetensors format (`model.safetensors`, and shards listed in
// `model.safetensors.index.json`): an 8-byte little-endian header length, a JSON header, then raw tensor data.

import Foundation

/// Element types of safetensors tensors that Phi checkpoints use.
public enum SafetensorsDType: String, Sendable, CaseIterable {
    case f32 = "F32"
    case f16 = "F16"
    case bf16 = "BF16"

    public var byteSize: Int {
        switch self {
        case .f32: 4
        case .f16, .bf16: 2
        }
    }
}

/// One tensor of a safetensors file: shape in the file's (row-major, PyTorch) order and its bytes, in place in
/// the mapped file.
///
/// `@unchecked Sendable`: `bytes` points into a read-only mapping that `file` keeps alive.
public struct SafetensorsTensor: @unchecked Sendable {
    public let name: String
    public let dtype: SafetensorsDType
    public let shape: [Int]
    /// The bytes of the tensor inside the mapping (valid while `file` is alive).
    let bytes: UnsafeRawBufferPointer
    let file: MappedFile

    public var elementCount: Int { shape.reduce(1, *) }

    /// The values converted to Float32.
    public func floats() -> [Float] {
        let n = elementCount
        return [Float](unsafeUninitializedCapacity: n) { out, count in
            switch dtype {
            case .f32:
                for i in 0..<n { out[i] = Float(bitPattern: bytes.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self).littleEndian) }
            case .f16:
                for i in 0..<n {
                    let bits = bytes.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self).littleEndian
                    out[i] = Float(halfBits: bits)
                }
            case .bf16:
                for i in 0..<n {
                    let bits = bytes.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self).littleEndian
                    out[i] = Float(bitPattern: UInt32(bits) << 16)
                }
            }
            count = n
        }
    }
}

/// A memory-mapped safetensors file with a validated header.
public final class SafetensorsFile: Sendable {
    public let path: String
    public let tensors: [String: SafetensorsTensor]
    public let metadata: [String: String]

    /// Maps and validates `path`: header length and JSON, every tensor's dtype, shape and byte range.
    public init(path: String) throws(PhiInferenceError) {
        self.path = path
        let file = try MappedFile(path: path)
        guard file.byteCount >= 8, let lengthBytes = file.bytes(0..<8) else {
            throw .invalidFile(file: path, reason: "too short for a safetensors header (\(file.byteCount) bytes)")
        }
        let headerLength = lengthBytes.loadUnaligned(as: UInt64.self).littleEndian
        guard headerLength >= 2, headerLength <= UInt64(file.byteCount - 8), headerLength <= 100_000_000 else {
            throw .invalidFile(
                file: path,
                reason: "header length \(headerLength) does not fit the file size \(file.byteCount)"
            )
        }
        let dataStart = 8 + Int(headerLength)
        guard let headerBytes = file.bytes(8..<dataStart) else {
            throw .invalidFile(file: path, reason: "header out of range")
        }
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: Data(headerBytes))
        } catch {
            throw .invalidFile(file: path, reason: "header is not valid JSON")
        }
        guard let header = object as? [String: Any] else {
            throw .invalidFile(file: path, reason: "header is not a JSON object")
        }
        let dataLength = file.byteCount - dataStart
        var tensors: [String: SafetensorsTensor] = [:]
        var metadata: [String: String] = [:]
        for (name, value) in header {
            if name == "__metadata__" {
                if let dictionary = value as? [String: Any] {
                    for (key, item) in dictionary { metadata[key] = item as? String ?? "\(item)" }
                }
                continue
            }
            guard let entry = value as? [String: Any] else {
                throw .invalidTensor(file: path, tensor: name, reason: "header entry is not an object")
            }
            guard let dtypeName = entry["dtype"] as? String else {
                throw .invalidTensor(file: path, tensor: name, reason: "missing dtype")
            }
            guard let dtype = SafetensorsDType(rawValue: dtypeName) else {
                throw .invalidTensor(
                    file: path, tensor: name,
                    reason: "unsupported dtype \(dtypeName) (expected F32, F16 or BF16)"
                )
            }
            guard let shapeValues = entry["shape"] as? [Any],
                let shape = Self.integers(shapeValues), shape.allSatisfy({ $0 >= 0 }), shape.count <= 8
            else {
                throw .invalidTensor(file: path, tensor: name, reason: "shape is not a list of non-negative integers")
            }
            guard let offsetValues = entry["data_offsets"] as? [Any], let offsets = Self.integers(offsetValues),
                offsets.count == 2
            else {
                throw .invalidTensor(file: path, tensor: name, reason: "data_offsets is not a pair of integers")
            }
            var elementCount = 1
            for dimension in shape {
                let (product, overflow) = elementCount.multipliedReportingOverflow(by: dimension)
                guard !overflow else { throw .invalidTensor(file: path, tensor: name, reason: "shape \(shape) overflows") }
                elementCount = product
            }
            let (begin, end) = (offsets[0], offsets[1])
            guard begin >= 0, begin <= end, end <= dataLength else {
                throw .invalidTensor(
                    file: path, tensor: name,
                    reason: "data_offsets [\(begin), \(end)] outside the data section of \(dataLength) bytes"
                )
            }
            let (expectedBytes, overflow) = elementCount.multipliedReportingOverflow(by: dtype.byteSize)
            guard !overflow, end - begin == expectedBytes else {
                throw .invalidTensor(
                    file: path, tensor: name,
                    reason: "shape \(shape) \(dtypeName) needs \(expectedBytes) bytes, data_offsets give \(end - begin)"
                )
            }
            guard let bytes = file.bytes((dataStart + begin)..<(dataStart + end)) else {
                throw .invalidTensor(file: path, tensor: name, reason: "byte range outside the file")
            }
            tensors[name] = SafetensorsTensor(name: name, dtype: dtype, shape: shape, bytes: bytes, file: file)
        }
        self.tensors = tensors
        self.metadata = metadata
    }

    private static func integers(_ values: [Any]) -> [Int]? {
        var result: [Int] = []
        for value in values {
            guard let number = value as? NSNumber else { return nil }
            let double = number.doubleValue
            guard double >= 0, double < 9.0e15, double == double.rounded() else { return nil }
            result.append(Int(double))
        }
        return result
    }
}

/// The tensors of a Hugging Face checkpoint: one `model.safetensors` or the shards named by
/// `model.safetensors.index.json`.
public struct SafetensorsCheckpoint: Sendable {
    public let files: [SafetensorsFile]
    public let tensors: [String: SafetensorsTensor]

    /// Opens the checkpoint in `folder`.
    public init(folder: String) throws(PhiInferenceError) {
        let indexPath = folder + "/model.safetensors.index.json"
        let singlePath = folder + "/model.safetensors"
        if FileManager.default.fileExists(atPath: indexPath) {
            let data: Data
            do {
                data = try Data(contentsOf: URL(fileURLWithPath: indexPath))
            } catch {
                throw .invalidFile(file: indexPath, reason: "cannot read")
            }
            guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
                throw .invalidFile(file: indexPath, reason: "not a JSON object")
            }
            guard let weightMap = object["weight_map"] as? [String: String] else {
                throw .invalidConfig(source: indexPath, key: "weight_map", reason: "expected an object of tensor name → file name")
            }
            var shards: [String: SafetensorsFile] = [:]
            for shardName in Set(weightMap.values).sorted() {
                guard !shardName.contains("/"), !shardName.hasPrefix(".") else {
                    throw .invalidConfig(source: indexPath, key: "weight_map", reason: "shard name '\(shardName)' is not a plain file name")
                }
                shards[shardName] = try SafetensorsFile(path: folder + "/" + shardName)
            }
            var tensors: [String: SafetensorsTensor] = [:]
            for (name, shardName) in weightMap {
                guard let tensor = shards[shardName]?.tensors[name] else {
                    throw .invalidTensor(file: folder + "/" + shardName, tensor: name, reason: "listed in the index but not in the shard")
                }
                tensors[name] = tensor
            }
            self.files = shards.keys.sorted().compactMap { shards[$0] }
            self.tensors = tensors
        } else if FileManager.default.fileExists(atPath: singlePath) {
            let file = try SafetensorsFile(path: singlePath)
            self.files = [file]
            self.tensors = file.tensors
        } else {
            throw .invalidFile(file: folder, reason: "no model.safetensors or model.safetensors.index.json")
        }
    }
}

extension Float {
    /// IEEE 754 binary16 bits to Float.
    init(halfBits bits: UInt16) {
        let sign = UInt32(bits >> 15) << 31
        let exponent = Int((bits >> 10) & 0x1F)
        let mantissa = UInt32(bits & 0x3FF)
        if exponent == 0x1F {
            self = Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))
        } else if exponent == 0 {
            let magnitude = Float(mantissa) * 0x1p-24
            self = sign == 0 ? magnitude : -magnitude
        } else {
            self = Float(bitPattern: sign | (UInt32(exponent + 112) << 23) | (mantissa << 13))
        }
    }
}
