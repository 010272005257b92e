// Bounds-checked reader of GGUF v2/v3 headers (metadata and tensor infos) over a byte buffer.

/// What parsing a GGUF header yields; tensors are validated against the buffer's size.
struct GGUFHeader {
    var version: UInt32
    var metadata: [String: GGUFValue]
    var metadataKeys: [String]
    var tensors: [GGUFTensorInfo]
    var alignment: Int
    var dataOffset: Int
}

/// Parses a GGUF header with every read bounds-checked: hostile input throws `GGUFError`, never traps.
struct GGUFParser {
    static let magic: UInt32 = 0x4655_4747  // "GGUF" little-endian
    static let maxArrayNesting = 8
    static let maxDimensions = 4  // GGML_MAX_DIMS
    static let defaultAlignment = 32

    let buffer: UnsafeRawBufferPointer
    let file: String
    private var position = 0

    init(buffer: UnsafeRawBufferPointer, file: String) {
        self.buffer = buffer
        self.file = file
    }

    private var remaining: Int { buffer.count - position }

    private func error(_ kind: GGUFError.Kind, _ subject: String?, _ detail: String) -> GGUFError {
        GGUFError(kind, file: file, subject: subject, detail)
    }

    private mutating func read<T: FixedWidthInteger>(_: T.Type, _ what: String, _ subject: String?) throws -> T {
        let size = MemoryLayout<T>.size
        guard remaining >= size else {
            throw error(
                .truncated, subject,
                "truncated: expected \(size) bytes of \(what) at offset \(position), found \(remaining)")
        }
        let value = buffer.loadUnaligned(fromByteOffset: position, as: T.self)
        position += size
        return T(littleEndian: value)
    }

    private mutating func readString(_ what: String, _ subject: String?) throws -> String {
        let length = try read(UInt64.self, "\(what) length", subject)
        guard length <= UInt64(remaining) else {
            throw error(
                .truncated, subject,
                "truncated: \(what) length \(length) at offset \(position - 8) exceeds the \(remaining) bytes left")
        }
        let count = Int(length)
        let bytes = UnsafeRawBufferPointer(rebasing: buffer[position..<position + count])
        position += count
        return String(decoding: bytes, as: UTF8.self)
    }

    mutating func parse() throws -> GGUFHeader {
        guard buffer.count >= 4 else {
            throw error(.truncated, nil, "truncated: expected the 4-byte magic 'GGUF', file has \(buffer.count) bytes")
        }
        let magic = try read(UInt32.self, "magic", nil)
        guard magic == Self.magic else {
            let found = withUnsafeBytes(of: magic.littleEndian) { bytes in
                bytes.map { (0x20..<0x7f).contains($0) ? String(UnicodeScalar($0)) : "\\x" + hex($0) }.joined()
            }
            throw error(.badMagic, nil, "bad magic: expected 'GGUF', found '\(found)' (not a GGUF file)")
        }
        let version = try read(UInt32.self, "version", nil)
        guard version == 2 || version == 3 else {
            let hint = version == 1 ? " (GGUF v1 is obsolete)" : (version.byteSwapped <= 3 ? " (big-endian file)" : "")
            throw error(.unsupportedVersion, nil, "unsupported GGUF version: expected 2 or 3, found \(version)\(hint)")
        }
        let tensorCount = try read(UInt64.self, "tensor count", nil)
        let kvCount = try read(UInt64.self, "metadata count", nil)
        // Each metadata entry takes at least 13 bytes, each tensor info at least 32: bound counts by the file.
        guard kvCount <= UInt64(remaining / 13) else {
            throw error(
                .truncated, nil,
                "truncated: metadata count \(kvCount) cannot fit in the \(remaining) bytes left (at most \(remaining / 13))")
        }
        var metadata: [String: GGUFValue] = [:]
        var keys: [String] = []
        keys.reserveCapacity(Int(kvCount))
        for index in 0..<Int(kvCount) {
            let key = try readString("metadata key #\(index)", nil)
            let subject = GGUFError.key(key)
            let rawType = try read(UInt32.self, "value type", subject)
            guard let type = GGUFValueType(rawValue: rawType) else {
                throw error(.unknownValueType, subject, "unknown metadata value type \(rawType): expected 0...12")
            }
            let value = try readValue(type, subject: subject, depth: 0)
            guard metadata.updateValue(value, forKey: key) == nil else {
                throw error(.duplicateName, subject, "duplicate metadata key")
            }
            keys.append(key)
        }

        var alignment = Self.defaultAlignment
        if let value = metadata["general.alignment"] {
            let subject = GGUFError.key("general.alignment")
            guard let a = value.intValue else {
                throw error(.typeMismatch, subject, "expected an unsigned integer, found \(value.type)")
            }
            guard a > 0, a & (a - 1) == 0, a <= 1 << 20 else {
                throw error(.invalidValue, subject, "expected a power of two, found \(a)")
            }
            alignment = a
        }

        guard tensorCount <= UInt64(remaining / 32) else {
            throw error(
                .truncated, nil,
                "truncated: tensor count \(tensorCount) cannot fit in the \(remaining) bytes left (at most \(remaining / 32))")
        }
        var tensors: [GGUFTensorInfo] = []
        tensors.reserveCapacity(Int(tensorCount))
        var relativeOffsets: [UInt64] = []
        var names: Set<String> = []
        for index in 0..<Int(tensorCount) {
            let name = try readString("tensor #\(index) name", nil)
            let subject = GGUFError.tensor(name)
            guard names.insert(name).inserted else {
                throw error(.duplicateName, subject, "duplicate tensor name")
            }
            let dimensionCount = try read(UInt32.self, "dimension count", subject)
            guard (1...UInt32(Self.maxDimensions)).contains(dimensionCount) else {
                throw error(.badShape, subject, "expected 1...\(Self.maxDimensions) dimensions, found \(dimensionCount)")
            }
            var shape: [Int] = []
            var elements = 1
            for d in 0..<Int(dimensionCount) {
                let ne = try read(UInt64.self, "dimension \(d)", subject)
                guard ne <= UInt64(Int32.max) else {
                    throw error(.badShape, subject, "dimension \(d) is \(ne): expected at most \(Int32.max)")
                }
                shape.append(Int(ne))
                let (product, overflow) = elements.multipliedReportingOverflow(by: Int(ne))
                guard !overflow, product <= Int(Int64.max / 8) else {
                    throw error(.badShape, subject, "shape \(shape) has too many elements")
                }
                elements = product
            }
            let rawType = try read(UInt32.self, "tensor type", subject)
            guard let type = GGMLType(rawValue: rawType) else {
                throw error(.unknownTensorType, subject, "unknown ggml tensor type \(rawType)")
            }
            let offset = try read(UInt64.self, "data offset", subject)
            guard shape[0] % type.blockSize == 0 else {
                throw error(
                    .badShape, subject,
                    "row length ne0 = \(shape[0]) is not a multiple of the \(type.name) block size \(type.blockSize)")
            }
            guard let bytes = type.byteCount(forElements: elements) else {
                throw error(.badShape, subject, "shape \(shape) of \(type.name) overflows")
            }
            relativeOffsets.append(offset)
            tensors.append(
                GGUFTensorInfo(name: name, shape: shape, type: type, offset: 0, byteCount: bytes, elementCount: elements))
        }

        let (padded, _) = position.addingReportingOverflow(alignment - 1)
        let dataOffset = padded / alignment * alignment
        if !tensors.isEmpty && dataOffset > buffer.count {
            throw error(
                .truncated, nil,
                "truncated: tensor data should start at offset \(dataOffset), file size is \(buffer.count)")
        }
        for i in tensors.indices {
            let t = tensors[i]
            let subject = GGUFError.tensor(t.name)
            let relative = relativeOffsets[i]
            guard relative % UInt64(alignment) == 0 else {
                throw error(
                    .badDataRange, subject,
                    "data offset \(relative) is not a multiple of the alignment \(alignment)")
            }
            guard relative <= UInt64(buffer.count), dataOffset + Int(relative) <= buffer.count - t.byteCount else {
                let start = UInt64(dataOffset).addingReportingOverflow(relative).partialValue
                let end = start.addingReportingOverflow(UInt64(t.byteCount)).partialValue
                throw error(
                    .badDataRange, subject,
                    "data range \(start)..<\(end) (\(t.type.name) \(t.shape)) exceeds file size \(buffer.count)")
            }
            tensors[i] = GGUFTensorInfo(
                name: t.name, shape: t.shape, type: t.type, offset: dataOffset + Int(relative),
                byteCount: t.byteCount, elementCount: t.elementCount)
        }
        let byOffset = tensors.sorted { $0.offset < $1.offset }
        for (previous, next) in zip(byOffset, byOffset.dropFirst()) where next.offset < previous.offset + previous.byteCount {
            throw error(
                .badDataRange, GGUFError.tensor(next.name),
                "data range \(next.offset)..<\(next.offset + next.byteCount) overlaps tensor '\(previous.name)' "
                    + "(\(previous.offset)..<\(previous.offset + previous.byteCount))")
        }
        return GGUFHeader(
            version: version, metadata: metadata, metadataKeys: keys, tensors: tensors, alignment: alignment,
            dataOffset: dataOffset)
    }

    private mutating func readValue(_ type: GGUFValueType, subject: String, depth: Int) throws -> GGUFValue {
        switch type {
        case .uint8: return .uint8(try read(UInt8.self, "uint8", subject))
        case .int8: return .int8(try read(Int8.self, "int8", subject))
        case .uint16: return .uint16(try read(UInt16.self, "uint16", subject))
        case .int16: return .int16(try read(Int16.self, "int16", subject))
        case .uint32: return .uint32(try read(UInt32.self, "uint32", subject))
        case .int32: return .int32(try read(Int32.self, "int32", subject))
        case .uint64: return .uint64(try read(UInt64.self, "uint64", subject))
        case .int64: return .int64(try read(Int64.self, "int64", subject))
        case .float32: return .float32(Float(bitPattern: try read(UInt32.self, "float32", subject)))
        case .float64: return .float64(Double(bitPattern: try read(UInt64.self, "float64", subject)))
        case .bool:
            let byte = try read(UInt8.self, "bool", subject)
            guard byte <= 1 else { throw error(.invalidValue, subject, "expected a bool (0 or 1), found \(byte)") }
            return .bool(byte == 1)
        case .string: return .string(try readString("string", subject))
        case .array:
            guard depth < Self.maxArrayNesting else {
                throw error(.invalidValue, subject, "arrays nested deeper than \(Self.maxArrayNesting) levels")
            }
            let rawType = try read(UInt32.self, "array element type", subject)
            guard let elementType = GGUFValueType(rawValue: rawType) else {
                throw error(.unknownValueType, subject, "unknown array element type \(rawType): expected 0...12")
            }
            let count = try read(UInt64.self, "array count", subject)
            let limit = remaining / elementType.minimumSize
            guard count <= UInt64(limit) else {
                throw error(
                    .truncated, subject,
                    "truncated: array of \(count) \(elementType) cannot fit in the \(remaining) bytes left")
            }
            var values: [GGUFValue] = []
            values.reserveCapacity(Int(count))
            for _ in 0..<Int(count) {
                values.append(try readValue(elementType, subject: subject, depth: depth + 1))
            }
            return .array(elementType, values)
        }
    }
}

private func hex(_ byte: UInt8) -> String {
    let digits = Array("0123456789abcdef")
    return String([digits[Int(byte >> 4)], digits[Int(byte & 15)]])
}
