/// Replaces PII with stable placeholders (`<<PHI:EMAIL:1>>`: the same value gets the same placeholder
/// throughout a request) and remembers them so the answer can be restored.
public struct RedactionMap: Sendable, Hashable {
    /// Placeholder → original value.
    public private(set) var originals: [String: String] = [:]
    private var byValue: [String: String] = [:]
    private var counters: [PIIType: Int] = [:]

    public init() {}

    public var isEmpty: Bool { originals.isEmpty }

    /// The placeholder for `value` of `type`, creating it on first use.
    public mutating func placeholder(for value: String, type: PIIType) -> String {
        if let existing = byValue[value] { return existing }
        let n = counters[type, default: 0] + 1
        counters[type] = n
        let label = type.rawValue.uppercased().map { $0.isLetter || $0.isNumber ? $0 : "_" }
        let placeholder = "\(PlaceholderRestorer.open)\(String(label)):\(n)\(PlaceholderRestorer.close)"
        byValue[value] = placeholder
        originals[placeholder] = value
        return placeholder
    }

    /// `text` with every finding of `types` replaced.
    public mutating func redact(_ text: String, scanner: PIIScanner, types: Set<PIIType>) -> String {
        let findings = scanner.findings(in: text).filter { types.contains($0.type) || (types.contains(.custom("*")) && $0.type.rawValue.hasPrefix("custom:")) }
        guard !findings.isEmpty else { return text }
        let bytes = Array(text.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var cursor = 0
        for f in findings {
            out += bytes[cursor..<f.range.lowerBound]
            let value = String(decoding: bytes[f.range], as: UTF8.self)
            out += Array(placeholder(for: value, type: f.type).utf8)
            cursor = f.range.upperBound
        }
        out += bytes[cursor...]
        return String(decoding: out, as: UTF8.self)
    }

    /// `text` with every known placeholder put back (whole text at once).
    public func restore(_ text: String) -> String {
        var restorer = PlaceholderRestorer(map: self)
        return restorer.feed(text) + restorer.finish()
    }
}

/// Restores placeholders in a streamed answer: a placeholder split across chunks is held back until it is
/// complete (or proven not to be one), so no chunk ever shows half a placeholder.
public struct PlaceholderRestorer: Sendable {
    static let open = "<<PHI:"
    static let close = ">>"
    /// Longest placeholder we would hold back for.
    static let maxLength = 64

    let map: RedactionMap
    private var pending = ""

    public init(map: RedactionMap) {
        self.map = map
    }

    /// The text that can be shown now for `chunk`.
    public mutating func feed(_ chunk: String) -> String {
        guard !map.isEmpty else { return chunk }
        pending += chunk
        var output = ""
        while true {
            guard let start = pending.range(of: Self.open) else {
                // Hold back a suffix that may start a placeholder ("<", "<<", "<<P", …).
                let keep = Self.partialOpenSuffixLength(pending)
                output += pending.dropLast(keep)
                pending = String(pending.suffix(keep))
                return output
            }
            output += pending[..<start.lowerBound]
            pending = String(pending[start.lowerBound...])
            guard let end = pending.range(of: Self.close) else {
                if pending.utf8.count > Self.maxLength {  // not a placeholder after all
                    output += pending.prefix(Self.open.count)
                    pending = String(pending.dropFirst(Self.open.count))
                    continue
                }
                return output
            }
            let candidate = String(pending[..<end.upperBound])
            output += map.originals[candidate] ?? candidate
            pending = String(pending[end.upperBound...])
        }
    }

    /// Whatever is still held back, at the end of the stream.
    public mutating func finish() -> String {
        defer { pending = "" }
        return pending
    }

    static func partialOpenSuffixLength(_ text: String) -> Int {
        let open = Array(Self.open)
        for length in stride(from: min(open.count - 1, text.count), through: 1, by: -1)
        where text.hasSuffix(String(open[0..<length])) {
            return length
        }
        return 0
    }
}
