// The `.part` file a download streams into: POSIX writes, resumable, hashed as it grows.

import Crypto
import NIOCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// An open file that bytes are appended to. Owned by one download task; never shared.
final class PartFile {
    let path: String
    private var descriptor: Int32
    /// Bytes in the file (the write position).
    private(set) var size: Int64

    /// Opens (creating if needed) `path` for appending after what is already there.
    init(path: String) throws(ModelHubError) {
        self.path = path
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw Self.failure(path, "open", errno) }
        let end = lseek(fd, 0, SEEK_END)
        guard end >= 0 else {
            let code = errno
            _ = posixClose(fd)
            throw Self.failure(path, "seek", code)
        }
        descriptor = fd
        size = Int64(end)
    }

    deinit { close() }

    /// Drops everything written so far.
    func truncate() throws(ModelHubError) {
        guard ftruncate(descriptor, 0) == 0 else { throw Self.failure(path, "truncate", errno) }
        guard lseek(descriptor, 0, SEEK_SET) == 0 else { throw Self.failure(path, "seek", errno) }
        size = 0
    }

    func write(_ buffer: ByteBuffer) throws(ModelHubError) {
        let code: Int32? = buffer.withUnsafeReadableBytes { bytes in
            guard let base = bytes.baseAddress else { return nil }
            var offset = 0
            while offset < bytes.count {
                let written = posixWrite(descriptor, base + offset, bytes.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    return errno
                }
                offset += written
            }
            return nil
        }
        if let code { throw Self.failure(path, "write", code) }
        size += Int64(buffer.readableBytes)
    }

    /// Flushes to the disk, so that a rename afterwards cannot publish a file with holes.
    func sync() throws(ModelHubError) {
        guard fsync(descriptor) == 0 else { throw Self.failure(path, "fsync", errno) }
    }

    func close() {
        if descriptor >= 0 {
            _ = posixClose(descriptor)
            descriptor = -1
        }
    }

    /// Feeds the file's current contents to `hasher`.
    func hash(into hasher: inout SHA256) throws(ModelHubError) {
        try Self.hash(descriptor: descriptor, path: path, length: size, into: &hasher)
    }

    /// SHA-256 and size of a whole file.
    static func sha256(ofFileAt path: String) throws(ModelHubError) -> (digest: String, size: Int64) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw failure(path, "open", errno) }
        defer { _ = posixClose(fd) }
        var hasher = SHA256()
        let size = try hash(descriptor: fd, path: path, length: nil, into: &hasher)
        return (Hex.string(hasher.finalize()), size)
    }

    /// Size of the file at `path`, or nil when there is none.
    static func size(ofFileAt path: String) -> Int64? {
        var info = stat()
        guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
        return Int64(info.st_size)
    }

    static func remove(_ path: String) {
        _ = unlink(path)
    }

    /// `rename(2)`: atomic on one file system, replaces an existing destination.
    static func rename(_ source: String, to destination: String) throws(ModelHubError) {
        guard posixRename(source, destination) == 0 else { throw failure(destination, "rename from \(source)", errno) }
    }

    /// Reads from offset 0 up to `length` bytes (or to the end) into `hasher`; returns the bytes read.
    @discardableResult
    private static func hash(descriptor: Int32, path: String, length: Int64?, into hasher: inout SHA256) throws(ModelHubError) -> Int64 {
        let chunk = 4 << 20
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: 16)
        defer { buffer.deallocate() }
        var offset: Int64 = 0
        while length.map({ offset < $0 }) ?? true {
            let wanted = length.map { Int(min(Int64(chunk), $0 - offset)) } ?? chunk
            let count = pread(descriptor, buffer.baseAddress, wanted, off_t(offset))
            if count < 0 {
                if errno == EINTR { continue }
                throw failure(path, "read", errno)
            }
            if count == 0 { break }
            hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
            offset += Int64(count)
        }
        return offset
    }

    private static func failure(_ path: String, _ operation: String, _ code: Int32) -> ModelHubError {
        .fileSystem(path: path, operation: operation, reason: String(cString: strerror(code)))
    }
}

// File-scope spellings of the C calls whose names `PartFile`'s methods shadow.
private func posixWrite(_ descriptor: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> Int {
    write(descriptor, bytes, count)
}

private func posixClose(_ descriptor: Int32) -> Int32 {
    close(descriptor)
}

private func posixRename(_ source: String, _ destination: String) -> Int32 {
    rename(source, destination)
}
