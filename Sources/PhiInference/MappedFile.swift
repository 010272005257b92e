// A read-only memory mapping of a whole file (weights are used in place, never copied to the heap).

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A file mapped read-only into memory.
///
/// `@unchecked Sendable`: the mapping is created once with `PROT_READ`, never written, and unmapped only in
/// `deinit`, when no view of it can be alive (views hold a strong reference to the `MappedFile`).
final class MappedFile: @unchecked Sendable {
    let path: String
    let base: UnsafeRawPointer
    let byteCount: Int

    init(path: String) throws(PhiInferenceError) {
        self.path = path
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else {
            throw .invalidFile(file: path, reason: "cannot open (\(String(cString: strerror(errno))))")
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            throw .invalidFile(file: path, reason: "cannot stat (\(String(cString: strerror(errno))))")
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw .invalidFile(file: path, reason: "not a regular file")
        }
        let size = Int(info.st_size)
        guard size > 0 else { throw .invalidFile(file: path, reason: "empty file") }
        guard let mapped = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), mapped != MAP_FAILED else {
            throw .invalidFile(file: path, reason: "cannot map (\(String(cString: strerror(errno))))")
        }
        self.base = UnsafeRawPointer(mapped)
        self.byteCount = size
    }

    deinit {
        munmap(UnsafeMutableRawPointer(mutating: base), byteCount)
    }

    /// The bytes `range`, or nil when the range does not lie inside the file.
    func bytes(_ range: Range<Int>) -> UnsafeRawBufferPointer? {
        guard range.lowerBound >= 0, range.upperBound <= byteCount else { return nil }
        return UnsafeRawBufferPointer(start: base + range.lowerBound, count: range.count)
    }
}
