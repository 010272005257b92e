// What the server says about a file before it is fetched: size and SHA-256 from Hugging Face's headers.

/// Size and SHA-256 of a remote file, when the server publishes them.
///
/// Hugging Face answers a HEAD on `resolve/` for an LFS file with a redirect to its CDN carrying
/// `X-Linked-Size` and `X-Linked-Etag` (the quoted SHA-256 of the content); a plain git file answers 200
/// with `Content-Length` and an `ETag` that is its git blob id (40 hex digits, so not a SHA-256).
public struct RemoteFileInfo: Sendable, Equatable {
    public var size: Int64?
    /// Lowercase hex, 64 digits.
    public var sha256: String?
    /// `X-Repo-Commit`: the commit the revision resolved to.
    public var commit: String?

    public init(size: Int64? = nil, sha256: String? = nil, commit: String? = nil) {
        self.size = size
        self.sha256 = sha256
        self.commit = commit
    }

    /// Reads one response's headers (names case-insensitive). `includeEntityHeaders` adds the plain
    /// `Content-Length` and `ETag`, which describe the file only on a 200.
    public init(headers: [(name: String, value: String)], includeEntityHeaders: Bool) {
        func value(_ name: String) -> String? {
            headers.first { $0.name.lowercased() == name }?.value.trimmingBlanks()
        }
        size = value("x-linked-size").flatMap { Int64($0) }.flatMap { $0 >= 0 ? $0 : nil }
        sha256 = value("x-linked-etag").flatMap(Self.sha256(fromETag:))
        commit = value("x-repo-commit")
        if includeEntityHeaders {
            if size == nil { size = value("content-length").flatMap { Int64($0) }.flatMap { $0 >= 0 ? $0 : nil } }
            if sha256 == nil { sha256 = value("etag").flatMap(Self.sha256(fromETag:)) }
        }
    }

    /// True when the response carried Hugging Face's LFS headers.
    var isLinked: Bool { size != nil || sha256 != nil }

    /// The SHA-256 in an entity tag (`"…"`, `W/"…"`), when it is 64 hex digits.
    public static func sha256(fromETag tag: String) -> String? {
        var text = Substring(tag.trimmingBlanks())
        if text.hasPrefix("W/") { text = text.dropFirst(2) }
        if text.count >= 2, text.hasPrefix("\""), text.hasSuffix("\"") { text = text.dropFirst().dropLast() }
        let digest = String(text)
        return Hex.isDigest(digest) ? digest.lowercased() : nil
    }
}

extension String {
    /// Without leading and trailing spaces and tabs (header values).
    func trimmingBlanks() -> String {
        var view = Substring(self).unicodeScalars
        while let first = view.first, first == " " || first == "\t" { view.removeFirst() }
        while let last = view.last, last == " " || last == "\t" { view.removeLast() }
        return String(view)
    }
}
