// One download: HEAD, existing-file check, resumable GET with retries, verification, rename.

import AsyncHTTPClient
import Crypto
import Foundation
import Logging
import NIOCore
import NIOHTTP1

/// A transfer that broke off in a way worth resuming (connection reset, read timeout, 5xx).
struct TransferInterruption: Error {
    var reason: String
}

struct FileTransfer {
    let client: HTTPClient
    let reference: ModelReference
    let url: String
    let destination: String
    let options: ModelDownloadOptions
    let logger: Logger

    var partPath: String { destination + ".part" }

    static let maxRedirects = 10

    func run(progress: (DownloadEvent) -> Void) async throws -> DownloadResult {
        let info = try await remoteInfo()
        progress(.resolved(url: url, info: info))
        logger.debug(
            "Resolved remote file",
            metadata: [
                "hub.url": "\(url)", "hub.size": "\(info.size.map(String.init) ?? "unknown")",
                "hub.sha256": "\(info.sha256 ?? "unknown")",
            ])
        if let present = try existingFile(info: info, progress: progress) {
            return present
        }

        let part = try PartFile(path: partPath)
        defer { part.close() }
        do {
            return try await fill(part, info: info, progress: progress)
        } catch let error as ModelHubError {
            switch error {
            case .sizeMismatch, .checksumMismatch:
                PartFile.remove(partPath)
            default:
                if part.size == 0 { PartFile.remove(partPath) }
            }
            throw error
        } catch {
            if part.size == 0 { PartFile.remove(partPath) }
            throw error
        }
    }

    /// The finished file when it is already in place and matches what the server published.
    private func existingFile(info: RemoteFileInfo, progress: (DownloadEvent) -> Void) throws -> DownloadResult? {
        guard let existingSize = PartFile.size(ofFileAt: destination) else { return nil }
        if let size = info.size, existingSize != size {
            progress(.replacingExisting(path: destination, reason: "it has \(existingSize) bytes, the remote file \(size)"))
            return nil
        }
        guard let expected = info.sha256 else {
            if info.size == nil {
                progress(.replacingExisting(path: destination, reason: "the server published no size or SHA-256 to check it against"))
                return nil
            }
            return DownloadResult(
                path: destination, bytes: existingSize, sha256: nil, isChecksumVerified: false, outcome: .alreadyPresent)
        }
        progress(.checkingExisting(path: destination))
        let (digest, size) = try PartFile.sha256(ofFileAt: destination)
        if digest == expected {
            return DownloadResult(path: destination, bytes: size, sha256: digest, isChecksumVerified: true, outcome: .alreadyPresent)
        }
        progress(.replacingExisting(path: destination, reason: "its SHA-256 is \(digest), the remote file's \(expected)"))
        return nil
    }

    /// Brings `part` to the full file (resuming, retrying), verifies it and renames it into place.
    private func fill(_ part: PartFile, info: RemoteFileInfo, progress: (DownloadEvent) -> Void) async throws -> DownloadResult {
        var hasher = SHA256()
        if let size = info.size, part.size > size {
            progress(.restarting(reason: "the partial file is larger than the remote file"))
            try part.truncate()
        }
        let resumedFrom = part.size
        if part.size > 0 {
            progress(.hashingPartial(path: partPath, bytes: part.size))
            try part.hash(into: &hasher)
        }

        var expectedSize = info.size
        var attempt = 0
        while expectedSize.map({ part.size < $0 }) ?? true {
            do {
                expectedSize = try await fetch(into: part, hasher: &hasher, expectedSize: expectedSize, progress: progress)
                break
            } catch let interruption as TransferInterruption {
                attempt += 1
                guard attempt <= options.retries else {
                    throw ModelHubError.transferFailed(
                        url: url, reason: interruption.reason, partialFile: part.size > 0 ? partPath : nil,
                        partialBytes: part.size, totalBytes: expectedSize)
                }
                logger.info(
                    "Transfer broke off; resuming",
                    metadata: ["download.attempt": "\(attempt)", "download.offset": "\(part.size)"])
                progress(.retrying(attempt: attempt, of: options.retries, reason: interruption.reason, resumeFrom: part.size))
                try await Task.sleep(for: options.retryDelay * attempt)
            }
        }

        progress(.verifying)
        try part.sync()
        part.close()
        let digest = Hex.string(hasher.finalize())
        if let expectedSize, part.size != expectedSize {
            throw ModelHubError.sizeMismatch(file: reference.fileName, expected: expectedSize, actual: part.size)
        }
        if let expected = info.sha256, digest != expected {
            throw ModelHubError.checksumMismatch(file: reference.fileName, expected: expected, actual: digest)
        }
        try PartFile.rename(partPath, to: destination)
        logger.debug("Download complete", metadata: ["hub.url": "\(url)", "download.bytes": "\(part.size)"])
        return DownloadResult(
            path: destination, bytes: part.size, sha256: digest, isChecksumVerified: info.sha256 != nil,
            outcome: .downloaded(resumedFrom: resumedFrom))
    }

    /// One GET from `part.size` on; returns the total size when it became known.
    private func fetch(
        into part: PartFile, hasher: inout SHA256, expectedSize: Int64?, progress: (DownloadEvent) -> Void
    ) async throws -> Int64? {
        let offset = part.size
        let exchange = try await send(.GET, range: offset > 0 ? offset : nil, followsCrossOrigin: true)
        let response = exchange.response
        var total = expectedSize
        logger.debug("GET answered", metadata: ["http.status": "\(response.status.code)", "download.offset": "\(offset)"])
        switch response.status.code {
        case 206:
            guard let range = ContentRange(response.headers.first(name: "content-range")), range.start == offset else {
                await Self.drain(response)
                try part.truncate()
                hasher = SHA256()
                progress(.restarting(reason: "the server answered another range than bytes=\(offset)-"))
                throw TransferInterruption(reason: "unexpected Content-Range")
            }
            total = total ?? range.total
        case 200:
            if offset > 0 {
                progress(.restarting(reason: "the server does not resume (it answered 200 to a Range request)"))
                try part.truncate()
                hasher = SHA256()
            }
            total = total ?? response.headers.first(name: "content-length").flatMap { Int64($0) }
        case 416:
            await Self.drain(response)
            try part.truncate()
            hasher = SHA256()
            progress(.restarting(reason: "the server refused to resume at byte \(offset) (HTTP 416)"))
            throw TransferInterruption(reason: "HTTP 416")
        case 408, 429, 500..<600:
            await Self.drain(response)
            throw TransferInterruption(reason: "HTTP \(response.status.code) from \(exchange.url)")
        default:
            await Self.drain(response)
            throw failure(status: response.status.code, headers: response.headers, url: exchange.url)
        }

        progress(.started(offset: part.size, total: total))
        do {
            for try await chunk in response.body {
                let received = part.size + Int64(chunk.readableBytes)
                if let total, received > total {
                    throw ModelHubError.sizeMismatch(file: reference.fileName, expected: total, actual: received)
                }
                try part.write(chunk)
                chunk.withUnsafeReadableBytes { hasher.update(bufferPointer: $0) }
                progress(.received(bytes: part.size, total: total))
            }
        } catch let error as ModelHubError {
            throw error
        } catch {
            if Task.isCancelled || error is CancellationError { throw CancellationError() }
            throw TransferInterruption(reason: Self.describe(error))
        }
        if let total, part.size < total {
            throw TransferInterruption(reason: "the connection closed after \(part.size) of \(total) bytes")
        }
        return total
    }

    /// HEAD `url`: size and SHA-256 from the first answer that carries them. Same-origin redirects (a
    /// renamed repository) are followed; a redirect to another host (the CDN) is where it stops.
    private func remoteInfo() async throws -> RemoteFileInfo {
        let exchange: Exchange
        do {
            exchange = try await send(.HEAD, range: nil, followsCrossOrigin: false)
        } catch let interruption as TransferInterruption {
            throw ModelHubError.requestFailed(url: url, reason: interruption.reason)
        }
        let response = exchange.response
        await Self.drain(response)
        logger.debug("HEAD answered", metadata: ["http.status": "\(response.status.code)", "hub.url": "\(exchange.url)"])
        let headers = response.headers.map { (name: $0.name, value: $0.value) }
        switch response.status.code {
        case 200..<300:
            return exchange.linked.merged(over: RemoteFileInfo(headers: headers, includeEntityHeaders: true))
        case 300..<400:
            return exchange.linked
        case 405, 501:
            return exchange.linked  // no HEAD here: the GET will tell the size
        default:
            throw failure(status: response.status.code, headers: response.headers, url: exchange.url)
        }
    }

    /// A final answer and what the redirects on the way said about the file.
    struct Exchange {
        var response: HTTPClientResponse
        var url: String
        var linked: RemoteFileInfo
    }

    /// Sends a request, following redirects by hand. The token goes only to the origin of the first URL.
    /// Network failures come out as `TransferInterruption`.
    private func send(_ method: HTTPMethod, range: Int64?, followsCrossOrigin: Bool) async throws -> Exchange {
        let origin = Origin(url)
        var current = url
        var linked = RemoteFileInfo()
        for _ in 0...Self.maxRedirects {
            var request = HTTPClientRequest(url: current)
            request.method = method
            request.headers.add(name: "User-Agent", value: options.userAgent)
            request.headers.add(name: "Accept-Encoding", value: "identity")
            if let range { request.headers.add(name: "Range", value: "bytes=\(range)-") }
            if let token = options.token, let origin, Origin(current) == origin {
                request.headers.add(name: "Authorization", value: "Bearer \(token.value)")
            }
            let response: HTTPClientResponse
            do {
                response = try await client.execute(request, deadline: .distantFuture)
            } catch {
                if Task.isCancelled || error is CancellationError { throw CancellationError() }
                throw TransferInterruption(reason: Self.describe(error))
            }
            let status = Int(response.status.code)
            guard (300..<400).contains(status), status != 304 else {
                return Exchange(response: response, url: current, linked: linked)
            }
            let hop = RemoteFileInfo(headers: response.headers.map { (name: $0.name, value: $0.value) }, includeEntityHeaders: false)
            linked = hop.merged(over: linked)
            guard let location = response.headers.first(name: "location"), !location.isEmpty else {
                await Self.drain(response)
                throw ModelHubError.redirectWithoutLocation(status: status, url: current)
            }
            guard let next = URL(string: location, relativeTo: URL(string: current))?.absoluteURL.absoluteString,
                let nextOrigin = Origin(next)
            else {
                await Self.drain(response)
                throw ModelHubError.requestFailed(url: current, reason: "redirect to an unusable Location '\(location)'")
            }
            if !followsCrossOrigin, Origin(current) != nextOrigin {
                return Exchange(response: response, url: current, linked: linked)
            }
            await Self.drain(response)
            logger.debug("Following redirect", metadata: ["http.status": "\(status)", "hub.url": "\(next)"])
            current = next
        }
        throw ModelHubError.tooManyRedirects(url: url)
    }

    private func failure(status: UInt, headers: HTTPHeaders, url: String) -> ModelHubError {
        let isTokenSent = options.token != nil
        switch status {
        case 401: return .unauthorized(reference, isTokenSent: isTokenSent)
        case 403: return .forbidden(reference, isTokenSent: isTokenSent)
        case 404: return .notFound(reference, code: headers.first(name: "x-error-code").flatMap { $0.isEmpty ? nil : $0 })
        default: return .httpStatus(Int(status), url: url)
        }
    }

    /// Reads and drops a small body so that the connection can be reused.
    private static func drain(_ response: HTTPClientResponse) async {
        _ = try? await response.body.collect(upTo: 1 << 20)
    }

    static func describe(_ error: any Error) -> String {
        if let error = error as? HTTPClientError {
            switch error {
            case .remoteConnectionClosed: return "the server closed the connection"
            case .readTimeout: return "no data arrived within the read timeout"
            case .connectTimeout: return "connecting timed out"
            default: return "\(error)"
            }
        }
        return "\(error)"
    }
}

extension RemoteFileInfo {
    /// This info, with gaps filled from `other`.
    func merged(over other: RemoteFileInfo) -> RemoteFileInfo {
        RemoteFileInfo(size: size ?? other.size, sha256: sha256 ?? other.sha256, commit: commit ?? other.commit)
    }
}

/// Scheme, host and port: where a token may be sent.
struct Origin: Equatable {
    var scheme: String
    var host: String
    var port: Int

    init?(_ text: String) {
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), let host = url.host?.lowercased() else {
            return nil
        }
        guard let port = url.port ?? (scheme == "https" ? 443 : scheme == "http" ? 80 : nil) else { return nil }
        self.scheme = scheme
        self.host = host
        self.port = port
    }
}

/// `Content-Range: bytes START-END/TOTAL` (TOTAL may be `*`).
struct ContentRange: Equatable {
    var start: Int64
    var end: Int64
    var total: Int64?

    init?(_ header: String?) {
        guard let header, header.hasPrefix("bytes ") else { return nil }
        let parts = header.dropFirst(6).split(separator: "/", maxSplits: 1)
        guard parts.count == 2 else { return nil }
        let bounds = parts[0].split(separator: "-", maxSplits: 1)
        guard bounds.count == 2, let start = Int64(bounds[0]), let end = Int64(bounds[1]), start <= end else { return nil }
        self.start = start
        self.end = end
        total = parts[1] == "*" ? nil : Int64(parts[1])
    }
}
