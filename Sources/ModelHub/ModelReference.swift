// A file in a Hugging Face style repository (`owner/name/path/in/repo.gguf` at a revision) and its URL.

/// `owner/name/path/in/repo.gguf` at a revision: the repository is the first two components.
public struct ModelReference: Sendable, Hashable, CustomStringConvertible {
    /// `owner/name`.
    public var repository: String
    /// The path inside the repository, e.g. `Phi-3-mini-4k-instruct-q4.gguf` or `gguf/model.Q4_0.gguf`.
    public var file: String
    /// A branch, tag or commit; `main` unless told.
    public var revision: String

    public init(repository: String, file: String, revision: String = "main") {
        self.repository = repository
        self.file = file
        self.revision = revision
    }

    /// Parses `REPO/FILE` (`owner/name/path/in/repo.gguf`).
    public init(parsing spec: String, revision: String = "main") throws(ModelHubError) {
        let shape = "expected REPO/FILE like owner/name/file.gguf (the first two components name the repository)"
        if spec.contains("://") {
            throw .invalidReference(spec, reason: "\(shape), not a URL (use --base-url for another server)")
        }
        let components = spec.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard components.count >= 3 else {
            throw .invalidReference(spec, reason: "\(shape); found \(components.count) component\(components.count == 1 ? "" : "s")")
        }
        for component in components {
            if component.isEmpty {
                throw .invalidReference(spec, reason: "\(shape); found an empty component")
            }
            if component == "." || component == ".." {
                throw .invalidReference(spec, reason: "\(shape); '\(component)' is not allowed")
            }
            if component.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
                throw .invalidReference(spec, reason: "\(shape); found a control character")
            }
        }
        let trimmedRevision = revision
        if trimmedRevision.isEmpty || trimmedRevision.split(separator: "/").contains(where: { $0 == ".." })
            || trimmedRevision.unicodeScalars.contains(where: { $0.properties.generalCategory == .control || $0 == " " })
        {
            throw .invalidRevision(revision)
        }
        self.init(
            repository: components[0...1].joined(separator: "/"),
            file: components[2...].joined(separator: "/"),
            revision: trimmedRevision
        )
    }

    /// The file's base name, which is what lands in the target directory.
    public var fileName: String {
        String(file.split(separator: "/").last ?? Substring(file))
    }

    /// `owner/name/revision/path`, as error messages name it.
    public var description: String { "\(repository)/\(revision)/\(file)" }

    /// `{base}/{repo}/resolve/{revision}/{file}`, percent-encoded (the revision as one segment, as
    /// huggingface_hub does, so `refs/pr/1` works).
    public func url(base: String) throws(ModelHubError) -> String {
        let base = try HubEndpoint.validatedBaseURL(base)
        let repo = repository.split(separator: "/").map { PercentEncoding.segment(String($0)) }.joined(separator: "/")
        let path = file.split(separator: "/").map { PercentEncoding.segment(String($0)) }.joined(separator: "/")
        return "\(base)/\(repo)/resolve/\(PercentEncoding.segment(revision))/\(path)"
    }
}

/// RFC 3986 percent-encoding of one path segment: everything but unreserved characters is escaped.
enum PercentEncoding {
    static func segment(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                out += "%" + Hex.byte(byte).uppercased()
            }
        }
        return out
    }
}

/// Lowercase hex.
enum Hex {
    private static let digits = Array("0123456789abcdef".unicodeScalars)

    static func byte(_ value: UInt8) -> String {
        var text = ""
        text.unicodeScalars.append(digits[Int(value >> 4)])
        text.unicodeScalars.append(digits[Int(value & 0x0F)])
        return text
    }

    static func string<Bytes: Sequence<UInt8>>(_ bytes: Bytes) -> String {
        var text = ""
        for value in bytes {
            text.unicodeScalars.append(digits[Int(value >> 4)])
            text.unicodeScalars.append(digits[Int(value & 0x0F)])
        }
        return text
    }

    /// True for exactly `count` hex digits (either case).
    static func isDigest(_ text: String, count: Int = 64) -> Bool {
        text.utf8.count == count && text.utf8.allSatisfy { byte in
            (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte)
                || (UInt8(ascii: "A")...UInt8(ascii: "F")).contains(byte)
        }
    }
}
