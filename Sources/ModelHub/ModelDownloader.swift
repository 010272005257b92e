// Fetches one file from a Hugging Face style server: HEAD for size and SHA-256, a resumable GET into
// `FILE.part` hashed as it streams, then a size and SHA-256 check and an atomic rename.

public import Logging
import AsyncHTTPClient
import Crypto
import Foundation
import NIOCore
import NIOHTTP1

/// Where to fetch from, where to put the file, and how hard to try.
public struct ModelDownloadOptions: Sendable {
    /// `https://huggingface.co` or a mirror (`HubEndpoint.baseURL(option:environment:)` picks it).
    public var baseURL: String
    /// The folder the file lands in (created if missing).
    public var directory: String
    /// Sent as `Authorization: Bearer …` to the base URL's origin only, never after a redirect elsewhere.
    public var token: HubToken?
    /// How many times a broken-off transfer is resumed automatically before giving up.
    public var retries: Int
    /// Wait before retry n is n × this.
    public var retryDelay: Duration
    public var connectTimeout: Duration
    /// How long the connection may stay silent before the transfer counts as broken off.
    public var readTimeout: Duration
    public var userAgent: String

    public init(
        baseURL: String = HubEndpoint.defaultBaseURL,
        directory: String = "models",
        token: HubToken? = nil,
        retries: Int = 3,
        retryDelay: Duration = .seconds(2),
        connectTimeout: Duration = .seconds(30),
        readTimeout: Duration = .seconds(60),
        userAgent: String = "phigate"
    ) {
        self.baseURL = baseURL
        self.directory = directory
        self.token = token
        self.retries = retries
        self.retryDelay = retryDelay
        self.connectTimeout = connectTimeout
        self.readTimeout = readTimeout
        self.userAgent = userAgent
    }
}

/// A file that is on disk and checked.
public struct DownloadResult: Sendable, Equatable {
    public enum Outcome: Sendable, Equatable {
        /// Fetched now; `resumedFrom` bytes came from an earlier partial file.
        case downloaded(resumedFrom: Int64)
        /// The file was already there with the published size (and SHA-256, when there is one).
        case alreadyPresent
    }

    public var path: String
    public var bytes: Int64
    /// Lowercase hex SHA-256 of the file, when it was computed.
    public var sha256: String?
    /// True when the server published a SHA-256 and the file matches it.
    public var isChecksumVerified: Bool
    public var outcome: Outcome

    public init(path: String, bytes: Int64, sha256: String?, isChecksumVerified: Bool, outcome: Outcome) {
        self.path = path
        self.bytes = bytes
        self.sha256 = sha256
        self.isChecksumVerified = isChecksumVerified
        self.outcome = outcome
    }
}

/// Downloads model files with resume, retries and verification. One HTTP client per `download` call.
public struct ModelDownloader: Sendable {
    public var options: ModelDownloadOptions
    public var logger: Logger

    public init(options: ModelDownloadOptions, logger: Logger) {
        self.options = options
        self.logger = logger
    }

    /// The path the file for `reference` lands at.
    public func destination(for reference: ModelReference) -> String {
        var directory = options.directory
        while directory.count > 1, directory.hasSuffix("/") { directory.removeLast() }
        return directory.isEmpty ? reference.fileName : "\(directory)/\(reference.fileName)"
    }

    /// Fetches `reference` into the target directory (or finds it there already) and returns where it is.
    /// Throws `ModelHubError` (or `CancellationError`).
    public func download(
        _ reference: ModelReference, progress: (DownloadEvent) -> Void = { _ in }
    ) async throws -> DownloadResult {
        let url = try reference.url(base: options.baseURL)
        do {
            try FileManager.default.createDirectory(atPath: options.directory, withIntermediateDirectories: true)
        } catch {
            throw ModelHubError.fileSystem(path: options.directory, operation: "create directory", reason: "\(error)")
        }
        var configuration = HTTPClient.Configuration()
        configuration.redirectConfiguration = .disallow  // followed by hand, to keep the token on its origin
        configuration.timeout = .init(connect: .init(options.connectTimeout), read: .init(options.readTimeout))
        configuration.decompression = .disabled
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        let transfer = FileTransfer(
            client: client, reference: reference, url: url, destination: destination(for: reference),
            options: options, logger: logger)
        do {
            let result = try await transfer.run(progress: progress)
            try? await client.shutdown()
            return result
        } catch {
            try? await client.shutdown()
            throw error
        }
    }
}

extension TimeAmount {
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
