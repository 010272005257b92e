// A 2-D weight in any compute-supported ggml type, used in place (mmap) or from owned storage.
public import GGUF

/// A read-only 2-D weight: `rows` output features, each a row of `columns` input features stored in `type`
/// (the layout of a PyTorch `Linear.weight [out, in]` and of a GGUF tensor with `ne = [columns, rows]`).
///
/// The bytes are either inside a `GGUFFile` mapping or in storage owned by the matrix; `owner` keeps them alive.
/// `@unchecked Sendable`: the bytes are never written after init and `owner` (itself Sendable) outlives every use.
public struct WeightMatrix: @unchecked Sendable {
    public let name: String
    public let type: GGMLType
    /// Output features (GGUF `ne1`, or the product of `ne1...` for higher ranks).
    public let rows: Int
    /// Input features, the row length (GGUF `ne0`).
    public let columns: Int
    public let rowByteCount: Int
    private let base: UnsafeRawPointer?
    private let owner: (any AnyObject & Sendable)?
    /// The same weights (one of `packable8Types`) in the 8-row layout the quantized kernels prefer, when made (`packedInGroupsOf8()`).
    let packed8: PackedRows8?

    /// A view of a GGUF tensor in place. Throws `GGUFError(.unsupportedTensorType)` naming the file and tensor
    /// when its type cannot be computed with.
    public init(tensor: GGUFTensorInfo, in file: GGUFFile) throws {
        guard tensor.type.isSupportedForCompute else {
            throw GGUFError(
                .unsupportedTensorType, file: file.name, subject: "tensor '\(tensor.name)'",
                "type \(tensor.type.name) is not supported: expected one of \(Dequantizer.supportedTypeNames)")
        }
        try self.init(
            name: tensor.name, type: tensor.type, rows: tensor.rowCount, columns: tensor.rowLength,
            bytes: file.bytes(of: tensor), owner: file)
    }

    /// A view of the GGUF tensor `name`, checking its shape when `rows`/`columns` are given.
    public init(named name: String, in file: GGUFFile, rows: Int? = nil, columns: Int? = nil) throws {
        let tensor = try file.requiredTensor(named: name)
        if (rows.map { $0 != tensor.rowCount } ?? false) || (columns.map { $0 != tensor.rowLength } ?? false) {
            let expected = "\(columns.map(String.init) ?? "*")×\(rows.map(String.init) ?? "*")"
            throw GGUFError(
                .badShape, file: file.name, subject: "tensor '\(name)'",
                "expected \(expected) (ne0×ne1), found \(tensor.shape.map(String.init).joined(separator: "×"))")
        }
        try self.init(tensor: tensor, in: file)
    }

    /// A view of `bytes` without copying; `owner` must keep them alive and unchanged.
    public init(
        name: String = "", type: GGMLType, rows: Int, columns: Int, bytes: UnsafeRawBufferPointer,
        owner: (any AnyObject & Sendable)?
    ) throws {
        guard type.isSupportedForCompute else {
            throw KernelError("weight '\(name)': type \(type.name) is not supported for compute")
        }
        guard rows >= 0, columns >= 0, let rowBytes = type.byteCount(forElements: columns) else {
            throw KernelError(
                "weight '\(name)': \(rows)×\(columns) is not a valid shape for \(type.name) (block \(type.blockSize))")
        }
        let (total, overflow) = rowBytes.multipliedReportingOverflow(by: rows)
        guard !overflow, bytes.count >= total else {
            throw KernelError("weight '\(name)': \(rows)×\(columns) \(type.name) needs \(total) bytes, found \(bytes.count)")
        }
        self.name = name
        self.type = type
        self.rows = rows
        self.columns = columns
        self.rowByteCount = rowBytes
        self.base = bytes.baseAddress
        self.owner = owner
        self.packed8 = nil
    }

    /// `matrix` with its packed layout attached.
    init(_ matrix: WeightMatrix, packed: PackedRows8) {
        name = matrix.name
        type = matrix.type
        rows = matrix.rows
        columns = matrix.columns
        rowByteCount = matrix.rowByteCount
        base = matrix.base
        owner = matrix.owner
        packed8 = packed
    }

    /// Copies `bytes` into storage owned by the matrix.
    public init(name: String = "", type: GGMLType, rows: Int, columns: Int, copying bytes: UnsafeRawBufferPointer) throws {
        let storage = OwnedBytes(copying: bytes)
        try self.init(
            name: name, type: type, rows: rows, columns: columns,
            bytes: UnsafeRawBufferPointer(start: storage.pointer, count: storage.count), owner: storage)
    }

    /// An F32 matrix owning `values` (row-major `[rows][columns]`).
    public init(name: String = "", rows: Int, columns: Int, floats values: [Float]) throws {
        try self.init(name: name, values, type: .f32, rows: rows, columns: columns)
    }

    /// An F16 (`type: .f16`) or BF16 (`type: .bf16`) matrix owning the bit patterns `bits`.
    public init(name: String = "", rows: Int, columns: Int, halfBits bits: [UInt16], type: GGMLType) throws {
        guard type == .f16 || type == .bf16 else {
            throw KernelError("weight '\(name)': halfBits needs type f16 or bf16, found \(type.name)")
        }
        try self.init(name: name, bits, type: type, rows: rows, columns: columns)
    }

    private init<T>(name: String, _ values: [T], type: GGMLType, rows: Int, columns: Int) throws {
        let (count, overflow) = rows.multipliedReportingOverflow(by: columns)
        guard !overflow, values.count == count else {
            throw KernelError("weight '\(name)': \(rows)×\(columns) needs \(count) values, found \(values.count)")
        }
        let bytesCopy = values.withUnsafeBytes { OwnedBytes(copying: $0) }
        try self.init(
            name: name, type: type, rows: rows, columns: columns,
            bytes: UnsafeRawBufferPointer(start: bytesCopy.pointer, count: bytesCopy.count), owner: bytesCopy)
    }

    /// All the matrix's bytes.
    public var bytes: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: base, count: rowByteCount * rows)
    }

    /// The raw bytes of row `r`.
    public func rowBytes(_ r: Int) -> UnsafeRawBufferPointer {
        precondition(r >= 0 && r < rows, "row \(r) out of range 0..<\(rows) of '\(name)'")
        return UnsafeRawBufferPointer(start: base.map { $0 + r * rowByteCount }, count: rowByteCount)
    }

    /// Dequantizes row `r` (e.g. one token embedding) into `destination[0..<columns]`.
    public func row(_ r: Int, into destination: UnsafeMutableBufferPointer<Float>) {
        precondition(r >= 0 && r < rows, "row \(r) out of range 0..<\(rows) of '\(name)'")
        precondition(destination.count >= columns, "destination holds \(destination.count) floats, \(columns) needed")
        dequantizeRows(r..<(r + 1), into: destination.baseAddress)
    }

    /// Row `r` as a new array.
    public func row(_ r: Int) -> [Float] {
        [Float](unsafeUninitializedCapacity: columns) { buffer, initialized in
            row(r, into: buffer)
            initialized = columns
        }
    }

    /// The whole matrix dequantized, row-major `[rows][columns]`.
    public func dequantized() -> [Float] {
        let count = rows * columns
        return [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            dequantizeRows(0..<rows, into: buffer.baseAddress)
            initialized = count
        }
    }

    /// Dequantizes `range` rows contiguously into `destination` (`range.count * columns` floats).
    func dequantizeRows(_ range: Range<Int>, into destination: UnsafeMutablePointer<Float>?) {
        guard columns > 0, let base, let destination else { return }
        for (i, r) in range.enumerated() {
            Dequantizer.dequantizeUnchecked(
                type: type, from: base + r * rowByteCount, count: columns, into: destination + i * columns)
        }
    }

    /// F32 data in place (no copy), when `type == .f32`.
    var f32Pointer: UnsafePointer<Float>? {
        guard type == .f32, let base else { return nil }
        return base.assumingMemoryBound(to: Float.self)
    }
}

/// Heap bytes owned by a `WeightMatrix` (64-byte aligned).
/// `@unchecked Sendable`: written once in init, read-only afterwards, freed in deinit.
final class OwnedBytes: @unchecked Sendable {
    let pointer: UnsafeMutableRawPointer
    let count: Int

    init(copying source: UnsafeRawBufferPointer) {
        count = source.count
        pointer = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1), alignment: 64)
        if let s = source.baseAddress, count > 0 { pointer.copyMemory(from: s, byteCount: count) }
    }

    deinit { pointer.deallocate() }
}
