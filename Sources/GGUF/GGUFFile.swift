public import Foundation
import Glibc

/// A GGUF v2/v3 model or vocabulary file, memory-mapped read-only and parsed; tensor data is used in place.
///
/// Opening validates the whole header (metadata, tensor shapes, types, alignment and data ranges), so every
/// `GGUFTensorInfo` it returns lies inside the mapping. `bytes(of:)` points into the mapping: valid for as long
/// as this object lives (hold a reference; `WeightMatrix` does).
///
/// `@unchecked Sendable`: every stored property is a constant set in `init`, and the mapping is `PROT_READ`,
/// never written and unmapped only in `deinit`. (As with any mmap, truncating the file on disk while it is open
/// is outside this contract.)
public final class GGUFFile: @unchecked Sendable {
    public let url: URL
    /// The file's last path component, used in error messages.
    public let name: String
    public let version: UInt32
    public let metadata: [String: GGUFValue]
    /// Metadata keys in file order.
    public let metadataKeys: [String]
    /// Tensor infos in file order.
    public let tensors: [GGUFTensorInfo]
    /// `general.alignment`, 32 when absent.
    public let alignment: Int
    /// Absolute offset of the tensor data section.
    public let dataOffset: Int
    public let fileSize: Int

    private let tensorIndex: [String: Int]
    private let mapping: UnsafeRawPointer?

    public init(url: URL) throws {
        self.url = url
        let name = url.lastPathComponent
        self.name = name
        let fd = open(url.path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw GGUFError(.io, file: name, "cannot open \(url.path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            throw GGUFError(.io, file: name, "cannot stat \(url.path): \(String(cString: strerror(errno)))")
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw GGUFError(.io, file: name, "expected a regular file at \(url.path)")
        }
        let size = Int(info.st_size)
        fileSize = size
        var base: UnsafeRawPointer? = nil
        if size > 0 {
            let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0)
            guard let p, p != MAP_FAILED else {
                throw GGUFError(.io, file: name, "cannot map \(url.path): \(String(cString: strerror(errno)))")
            }
            #if os(Linux)
            // Ask for 2 MB pages: where the filesystem supports large folios (ext4, xfs), pages read through this
            // mapping come in 2 MB folios mapped by one TLB entry, which decode's streaming reads need (with 4 KB
            // pages every 4 KB of weights costs a page walk). Only advice: without THP nothing changes.
            _ = madvise(p, size, MADV_HUGEPAGE)
            #endif
            base = UnsafeRawPointer(p)
        }
        do {
            var parser = GGUFParser(buffer: UnsafeRawBufferPointer(start: base, count: size), file: name)
            let header = try parser.parse()
            version = header.version
            metadata = header.metadata
            metadataKeys = header.metadataKeys
            tensors = header.tensors
            alignment = header.alignment
            dataOffset = header.dataOffset
        } catch {
            if let base { munmap(UnsafeMutableRawPointer(mutating: base), size) }
            throw error
        }
        mapping = base
        var index: [String: Int] = [:]
        for (i, t) in tensors.enumerated() { index[t.name] = i }
        tensorIndex = index
    }

    deinit {
        if let mapping { munmap(UnsafeMutableRawPointer(mutating: mapping), fileSize) }
    }

    // MARK: - Tensors

    public func tensor(named name: String) -> GGUFTensorInfo? {
        tensorIndex[name].map { tensors[$0] }
    }

    /// The tensor, or a `missingKey` error naming the file and tensor.
    public func requiredTensor(named name: String) throws -> GGUFTensorInfo {
        guard let t = tensor(named: name) else {
            throw GGUFError(.missingKey, file: self.name, subject: GGUFError.tensor(name), "tensor not found")
        }
        return t
    }

    /// Drops this process's resident pages of `tensor`'s data, e.g. once it has been copied into another layout. The
    /// mapping is read-only, so the pages stay in the page cache and a later read maps them again. The range is
    /// rounded out to 2 MB within the mapping and loses the huge-page advice first: otherwise a read of a neighbour
    /// maps the whole 2 MB page again, tail of this tensor included (measured: 60–140 MB of released weights back in
    /// the resident set); the neighbours' pages that go with it are simply read again, in small pages, when used.
    public func releaseResidentPages(of tensor: GGUFTensorInfo) {
        #if os(Linux)
        guard let mapping, tensor.byteCount > 0 else { return }
        let huge = 2 << 20
        let base = Int(bitPattern: mapping)
        let start = max(base, (base + tensor.offset) / huge * huge)
        let end = min(base + fileSize, (base + tensor.offset + tensor.byteCount + huge - 1) / huge * huge)
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let alignedStart = (start + page - 1) / page * page
        guard end > alignedStart, let pointer = UnsafeMutableRawPointer(bitPattern: alignedStart) else { return }
        _ = madvise(pointer, end - alignedStart, MADV_NOHUGEPAGE)
        _ = madvise(pointer, end - alignedStart, MADV_DONTNEED)
        #endif
    }

    /// The tensor's data inside the mapping (valid while `self` is alive).
    /// - Precondition: `tensor` comes from this file's `tensors`.
    public func bytes(of tensor: GGUFTensorInfo) -> UnsafeRawBufferPointer {
        precondition(
            tensor.offset >= 0 && tensor.byteCount >= 0 && tensor.offset <= fileSize - tensor.byteCount,
            "tensor '\(tensor.name)' is not inside \(name)")
        guard let mapping else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        return UnsafeRawBufferPointer(start: mapping + tensor.offset, count: tensor.byteCount)
    }

    /// Everything after the header: the tensors' data, as mapped (valid while `self` is alive).
    public var tensorData: UnsafeRawBufferPointer {
        guard let mapping else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        return UnsafeRawBufferPointer(start: mapping + dataOffset, count: fileSize - dataOffset)
    }

    // MARK: - Metadata

    /// `general.architecture` (`phi2`, `phi3`, ...).
    public var architecture: String? { string("general.architecture") }

    public func value(_ key: String) -> GGUFValue? { metadata[key] }
    public func string(_ key: String) -> String? { metadata[key]?.stringValue }
    /// Any integer type, converted to `Int`.
    public func int(_ key: String) -> Int? { metadata[key]?.intValue }
    /// float32, float64 or an integer, converted to `Float`.
    public func float(_ key: String) -> Float? { metadata[key]?.doubleValue.map(Float.init) }
    public func double(_ key: String) -> Double? { metadata[key]?.doubleValue }
    public func bool(_ key: String) -> Bool? { metadata[key]?.boolValue }
    public func array(_ key: String) -> [GGUFValue]? { metadata[key]?.arrayValue }

    /// An array of strings; nil when absent or when any element is not a string.
    public func stringArray(_ key: String) -> [String]? {
        guard let values = array(key) else { return nil }
        var out: [String] = []
        out.reserveCapacity(values.count)
        for v in values {
            guard case .string(let s) = v else { return nil }
            out.append(s)
        }
        return out
    }

    /// An array of numbers as `Float`; nil when absent or not numeric.
    public func floatArray(_ key: String) -> [Float]? {
        guard let values = array(key) else { return nil }
        var out: [Float] = []
        out.reserveCapacity(values.count)
        for v in values {
            guard let d = v.doubleValue else { return nil }
            out.append(Float(d))
        }
        return out
    }

    /// An array of integers as `Int`; nil when absent or not integers.
    public func intArray(_ key: String) -> [Int]? {
        guard let values = array(key) else { return nil }
        var out: [Int] = []
        out.reserveCapacity(values.count)
        for v in values {
            guard let i = v.intValue else { return nil }
            out.append(i)
        }
        return out
    }

    public func requiredString(_ key: String) throws -> String {
        try required(key, "a string") { $0.stringValue }
    }

    public func requiredInt(_ key: String) throws -> Int {
        try required(key, "an integer") { $0.intValue }
    }

    public func requiredFloat(_ key: String) throws -> Float {
        try required(key, "a number") { $0.doubleValue.map(Float.init) }
    }

    public func requiredStringArray(_ key: String) throws -> [String] {
        _ = try required(key, "an array of strings") { $0.arrayValue }
        guard let a = stringArray(key) else {
            throw GGUFError(.typeMismatch, file: name, subject: GGUFError.key(key), "expected an array of strings")
        }
        return a
    }

    private func required<T>(_ key: String, _ expected: String, _ convert: (GGUFValue) -> T?) throws -> T {
        guard let value = metadata[key] else {
            throw GGUFError(.missingKey, file: name, subject: GGUFError.key(key), "missing: expected \(expected)")
        }
        guard let converted = convert(value) else {
            throw GGUFError(
                .typeMismatch, file: name, subject: GGUFError.key(key), "expected \(expected), found \(value.type)")
        }
        return converted
    }
}
