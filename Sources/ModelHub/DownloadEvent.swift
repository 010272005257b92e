// What a download reports while it runs.

/// What a download reports while it runs, in order.
public enum DownloadEvent: Sendable, Equatable {
    /// The HEAD answered: where the file is and what the server published about it.
    case resolved(url: String, info: RemoteFileInfo)
    /// The target file exists; it is being checked against the published size and SHA-256.
    case checkingExisting(path: String)
    /// The target file exists but differs from the remote one; it will be replaced.
    case replacingExisting(path: String, reason: String)
    /// A partial file from an earlier run is being hashed before the transfer resumes after it.
    case hashingPartial(path: String, bytes: Int64)
    /// The partial file was dropped and the transfer starts from byte 0.
    case restarting(reason: String)
    /// Bytes start to flow; `offset` bytes were already there (a resumed download).
    case started(offset: Int64, total: Int64?)
    /// `bytes` of `total` are on disk (cumulative, including the resumed offset).
    case received(bytes: Int64, total: Int64?)
    /// The transfer broke off; it resumes at `resumeFrom` after a short wait.
    case retrying(attempt: Int, of: Int, reason: String, resumeFrom: Int64)
    /// All bytes are in; size and SHA-256 are being checked.
    case verifying
}
