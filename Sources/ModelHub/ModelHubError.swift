// What can go wrong while fetching a model file, with messages that name the file, the values and what to do.

/// Every failure of `ModelDownloader`, each with a message meant for the person at the terminal.
public enum ModelHubError: Error, Sendable, Equatable, CustomStringConvertible {
    /// `REPO/FILE` is not `owner/name/path`.
    case invalidReference(String, reason: String)
    case invalidRevision(String)
    case invalidBaseURL(String)
    /// HTTP 404; `code` is the server's `X-Error-Code` when it sent one (`RepoNotFound`, `EntryNotFound`, …).
    case notFound(ModelReference, code: String?)
    /// HTTP 401.
    case unauthorized(ModelReference, isTokenSent: Bool)
    /// HTTP 403.
    case forbidden(ModelReference, isTokenSent: Bool)
    /// Any other status that is not worth retrying.
    case httpStatus(Int, url: String)
    case redirectWithoutLocation(status: Int, url: String)
    case tooManyRedirects(url: String)
    /// The server could not be reached or the request failed before any answer.
    case requestFailed(url: String, reason: String)
    /// The transfer broke off (and retries ran out); the partial file is kept when it has bytes.
    case transferFailed(url: String, reason: String, partialFile: String?, partialBytes: Int64, totalBytes: Int64?)
    /// The finished file does not have the published size; the partial file was deleted.
    case sizeMismatch(file: String, expected: Int64, actual: Int64)
    /// The finished file does not have the published SHA-256; the partial file was deleted.
    case checksumMismatch(file: String, expected: String, actual: String)
    case fileSystem(path: String, operation: String, reason: String)

    public var description: String {
        switch self {
        case .invalidReference(let spec, let reason):
            return "'\(spec)': \(reason)"
        case .invalidRevision(let revision):
            return "--revision '\(revision)': expected a branch, tag or commit (no spaces, no '..')"
        case .invalidBaseURL(let base):
            return "base URL '\(base)': expected http(s)://host[:port][/path] (from --base-url or HF_ENDPOINT)"
        case .notFound(let reference, let code):
            return "not found: \(reference)" + (code.map { " (\($0))" } ?? "")
        case .unauthorized(let reference, let isTokenSent):
            return isTokenSent
                ? "unauthorized (HTTP 401) for \(reference): the token in HF_TOKEN was refused (expired or mistyped?); the repository may also not exist"
                : "unauthorized (HTTP 401) for \(reference): the repository is private or gated, or does not exist; set HF_TOKEN to a token with access"
        case .forbidden(let reference, let isTokenSent):
            return isTokenSent
                ? "forbidden (HTTP 403) for \(reference): the token in HF_TOKEN has no access; gated models need their terms accepted on the model page first"
                : "forbidden (HTTP 403) for \(reference): access is restricted; set HF_TOKEN to a token with access (gated models need their terms accepted first)"
        case .httpStatus(let status, let url):
            return "HTTP \(status) from \(url)"
        case .redirectWithoutLocation(let status, let url):
            return "HTTP \(status) redirect without a Location header from \(url)"
        case .tooManyRedirects(let url):
            return "too many redirects starting at \(url)"
        case .requestFailed(let url, let reason):
            return "could not fetch \(url): \(reason)"
        case .transferFailed(let url, let reason, let partialFile, let partialBytes, let totalBytes):
            guard let partialFile, partialBytes > 0 else {
                return "download of \(url) failed: \(reason)"
            }
            let of = totalBytes.map { " of \(ByteCount.mib($0))" } ?? ""
            return "download interrupted after \(ByteCount.mib(partialBytes))\(of) (\(reason)); "
                + "the partial file is kept at \(partialFile): run the same command again to resume"
        case .sizeMismatch(let file, let expected, let actual):
            return "size mismatch for \(file): expected \(expected) bytes, got \(actual); the partial file was deleted"
        case .checksumMismatch(let file, let expected, let actual):
            return "SHA-256 mismatch for \(file): expected \(expected), got \(actual); the partial file was deleted"
        case .fileSystem(let path, let operation, let reason):
            return "\(path): \(operation) failed: \(reason)"
        }
    }
}

/// Byte counts as people read them.
public enum ByteCount {
    /// `1234.5 MiB`, one decimal, no rounding up past what was received.
    public static func mib(_ bytes: Int64) -> String {
        let tenths = max(bytes, 0) * 10 / 1_048_576
        return "\(tenths / 10).\(tenths % 10) MiB"
    }
}
