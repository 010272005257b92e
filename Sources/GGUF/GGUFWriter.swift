public import Foundation

/// Builds a GGUF v3 (or v2) file from metadata and raw tensor data, with correct alignment and padding.
///
/// It writes what it is given without validating it (tests use it to build broken files): `addTensor(name:rawType:...)`
/// accepts any type number, and `Tensor.offsetOverride` any data offset.
public struct GGUFWriter: Sendable {
    /// One tensor to write: raw bytes with a ggml type number and an `ne`-order shape.
    public struct Tensor: Sendable {
        public var name: String
        public var rawType: UInt32
        public var shape: [Int]
        public var data: [UInt8]
        /// Relative data offset to write instead of the computed one.
        public var offsetOverride: UInt64?

        public init(name: String, rawType: UInt32, shape: [Int], data: [UInt8], offsetOverride: UInt64? = nil) {
            self.name = name
            self.rawType = rawType
            self.shape = shape
            self.data = data
            self.offsetOverride = offsetOverride
        }
    }

    public var version: UInt32 = 3
    public private(set) var metadata: [(key: String, value: GGUFValue)] = []
    public var tensors: [Tensor] = []

    public init() {}

    /// Sets a metadata value, keeping the first insertion's position when the key already exists.
    public mutating func set(_ key: String, _ value: GGUFValue) {
        if let i = metadata.firstIndex(where: { $0.key == key }) {
            metadata[i].value = value
        } else {
            metadata.append((key, value))
        }
    }

    public mutating func addTensor(name: String, type: GGMLType, shape: [Int], data: [UInt8]) {
        tensors.append(Tensor(name: name, rawType: type.rawValue, shape: shape, data: data))
    }

    public mutating func addTensor(name: String, rawType: UInt32, shape: [Int], data: [UInt8]) {
        tensors.append(Tensor(name: name, rawType: rawType, shape: shape, data: data))
    }

    /// Convenience: an F32 tensor from floats.
    public mutating func addTensor(name: String, shape: [Int], floats: [Float]) {
        var data: [UInt8] = []
        data.reserveCapacity(floats.count * 4)
        for f in floats { data.appendLittleEndian(f.bitPattern) }
        addTensor(name: name, type: .f32, shape: shape, data: data)
    }

    /// `general.alignment` when set to an integer, else 32.
    public var alignment: Int {
        let value = metadata.first(where: { $0.key == "general.alignment" })?.value.intValue ?? 32
        return value > 0 ? value : 32
    }

    /// The complete file.
    public func serialized() -> [UInt8] {
        let alignment = alignment
        var out: [UInt8] = []
        out.appendLittleEndian(UInt32(0x4655_4747))
        out.appendLittleEndian(version)
        out.appendLittleEndian(UInt64(tensors.count))
        out.appendLittleEndian(UInt64(metadata.count))
        for (key, value) in metadata {
            out.appendString(key)
            out.appendLittleEndian(value.type.rawValue)
            out.appendValue(value)
        }
        var offsets: [Int] = []
        var running = 0
        for t in tensors {
            offsets.append(running)
            running = (running + t.data.count + alignment - 1) / alignment * alignment
        }
        for (t, offset) in zip(tensors, offsets) {
            out.appendString(t.name)
            out.appendLittleEndian(UInt32(t.shape.count))
            for ne in t.shape { out.appendLittleEndian(UInt64(ne)) }
            out.appendLittleEndian(t.rawType)
            out.appendLittleEndian(t.offsetOverride ?? UInt64(offset))
        }
        out.padTo(alignment)
        let dataStart = out.count
        for (t, offset) in zip(tensors, offsets) {
            out.append(contentsOf: [UInt8](repeating: 0, count: dataStart + offset - out.count))
            out.append(contentsOf: t.data)
        }
        if !tensors.isEmpty { out.padTo(alignment) }
        return out
    }

    public func write(to url: URL) throws {
        try Data(serialized()).write(to: url)
    }
}

extension [UInt8] {
    fileprivate mutating func appendLittleEndian<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }

    fileprivate mutating func appendString(_ s: String) {
        let utf8 = Array(s.utf8)
        appendLittleEndian(UInt64(utf8.count))
        append(contentsOf: utf8)
    }

    fileprivate mutating func padTo(_ alignment: Int) {
        let padded = (count + alignment - 1) / alignment * alignment
        append(contentsOf: [UInt8](repeating: 0, count: padded - count))
    }

    fileprivate mutating func appendValue(_ value: GGUFValue) {
        switch value {
        case .uint8(let v): appendLittleEndian(v)
        case .int8(let v): appendLittleEndian(v)
        case .uint16(let v): appendLittleEndian(v)
        case .int16(let v): appendLittleEndian(v)
        case .uint32(let v): appendLittleEndian(v)
        case .int32(let v): appendLittleEndian(v)
        case .uint64(let v): appendLittleEndian(v)
        case .int64(let v): appendLittleEndian(v)
        case .float32(let v): appendLittleEndian(v.bitPattern)
        case .float64(let v): appendLittleEndian(v.bitPattern)
        case .bool(let v): append(v ? 1 : 0)
        case .string(let s): appendString(s)
        case .array(let type, let values):
            appendLittleEndian(type.rawValue)
            appendLittleEndian(UInt64(values.count))
            for v in values { appendValue(v) }
        }
    }
}
