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

    /// A tensor whose bytes are produced while streaming (see `writeStreaming`).
    public struct StreamedTensor: Sendable {
        public var name: String
        public var type: GGMLType
        /// `ne` order: row length first.
        public var shape: [Int]

        public init(name: String, type: GGMLType, shape: [Int]) {
            self.name = name
            self.type = type
            self.shape = shape
        }

        /// Bytes of the tensor's data (nil when the row length is not a whole number of blocks).
        public var byteCount: Int? {
            guard let first = shape.first, let row = type.byteCount(forElements: first) else { return nil }
            return shape.dropFirst().reduce(row, *)
        }
    }

    /// Writes the metadata set on this writer and `tensors` to `url` without holding the tensor data in memory:
    /// `fill(tensorIndex, byteOffsetInTensor, chunk)` fills each chunk (at most `chunkBytes`, a multiple of the
    /// type's block bytes) in order; `progress(bytesWritten, totalBytes)` is called after each chunk.
    public func writeStreaming(
        to url: URL, tensors: [StreamedTensor], chunkBytes: Int = 8 << 20,
        fill: (Int, Int, UnsafeMutableRawBufferPointer) -> Void, progress: ((Int, Int) -> Void)? = nil
    ) throws {
        let alignment = alignment
        var header: [UInt8] = []
        header.appendLittleEndian(UInt32(0x4655_4747))
        header.appendLittleEndian(version)
        header.appendLittleEndian(UInt64(tensors.count))
        header.appendLittleEndian(UInt64(metadata.count))
        for (key, value) in metadata {
            header.appendString(key)
            header.appendLittleEndian(value.type.rawValue)
            header.appendValue(value)
        }
        var sizes: [Int] = []
        for t in tensors {
            guard let n = t.byteCount else {
                throw CocoaError(.fileWriteUnknown, userInfo: [NSLocalizedDescriptionKey: "tensor '\(t.name)': shape \(t.shape) is not whole \(t.type.name) blocks"])
            }
            sizes.append(n)
        }
        var running = 0
        for (t, size) in zip(tensors, sizes) {
            header.appendString(t.name)
            header.appendLittleEndian(UInt32(t.shape.count))
            for ne in t.shape { header.appendLittleEndian(UInt64(ne)) }
            header.appendLittleEndian(t.type.rawValue)
            header.appendLittleEndian(UInt64(running))
            running = (running + size + alignment - 1) / alignment * alignment
        }
        header.padTo(alignment)
        let total = header.count + running
        guard FileManager.default.createFile(atPath: url.path, contents: nil) else {
            throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: url.path])
        }
        let handle = try FileHandle(forWritingTo: url)
        defer { try? handle.close() }
        try handle.write(contentsOf: header)
        var written = header.count
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(chunkBytes, 1 << 16) + alignment, alignment: 64)
        defer { buffer.deallocate() }
        for (index, (t, size)) in zip(tensors, sizes).enumerated() {
            let unit = t.type.bytesPerBlock
            let step = max(unit, max(chunkBytes, 1 << 16) / unit * unit)
            var offset = 0
            while offset < size {
                let count = min(step, size - offset)
                let chunk = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<count])
                fill(index, offset, chunk)
                try handle.write(contentsOf: UnsafeRawBufferPointer(chunk))
                offset += count
                written += count
                progress?(written, total)
            }
            let padded = (size + alignment - 1) / alignment * alignment
            if padded > size { try handle.write(contentsOf: [UInt8](repeating: 0, count: padded - size)) }
            written += padded - size
        }
        progress?(written, total)
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
