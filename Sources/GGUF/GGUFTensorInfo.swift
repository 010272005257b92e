/// One tensor of a GGUF file, validated against the file: its data lies inside the mapping, is aligned, and its
/// byte count matches its type and shape.
public struct GGUFTensorInfo: Sendable, Equatable {
    public let name: String
    /// Dimensions in ggml `ne` order: `shape[0]` (ne0) is the row length (a linear layer's input size), and the
    /// data is row-major `[shape[n-1]]...[shape[1]][shape[0]]`.
    public let shape: [Int]
    public let type: GGMLType
    /// Absolute byte offset of the data in the file.
    public let offset: Int
    public let byteCount: Int
    public let elementCount: Int

    public init(name: String, shape: [Int], type: GGMLType, offset: Int, byteCount: Int, elementCount: Int) {
        self.name = name
        self.shape = shape
        self.type = type
        self.offset = offset
        self.byteCount = byteCount
        self.elementCount = elementCount
    }

    /// `shape[0]`: elements per row (1 for a scalar).
    public var rowLength: Int { shape.first ?? 1 }
    /// Number of rows: the product of `shape[1...]` (1 for a 1-D tensor).
    public var rowCount: Int { shape.dropFirst().reduce(1, *) }
    /// Bytes per row.
    public var rowByteCount: Int { rowLength / type.blockSize * type.bytesPerBlock }
}
