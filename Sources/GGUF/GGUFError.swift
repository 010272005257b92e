/// The one error type of the GGUF module: a file that cannot be opened, parsed or used.
///
/// `description` names the file, the metadata key or tensor concerned, and what was expected versus found,
/// e.g. `model.gguf: tensor 'blk.3.attn_qkv.weight': data range 1200..<5000 exceeds file size 3000`.
public struct GGUFError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What went wrong, for callers that branch on it (tests, CLI exit codes).
    public enum Kind: String, Sendable, Equatable {
        case io
        case badMagic
        case unsupportedVersion
        case truncated
        case invalidValue
        case unknownValueType
        case unknownTensorType
        case unsupportedTensorType
        case badShape
        case badDataRange
        case duplicateName
        case missingKey
        case typeMismatch
    }

    public let kind: Kind
    /// Last path component of the file (or a caller-given label for in-memory data).
    public let file: String
    /// `key 'general.architecture'`, `tensor 'blk.0.attn_qkv.weight'`, or nil for the header.
    public let subject: String?
    /// What was expected and what was found.
    public let detail: String

    public init(_ kind: Kind, file: String, subject: String? = nil, _ detail: String) {
        self.kind = kind
        self.file = file
        self.subject = subject
        self.detail = detail
    }

    public var description: String {
        if let subject { return "\(file): \(subject): \(detail)" }
        return "\(file): \(detail)"
    }

    static func key(_ name: String) -> String { "key '\(name)'" }
    static func tensor(_ name: String) -> String { "tensor '\(name)'" }
}
