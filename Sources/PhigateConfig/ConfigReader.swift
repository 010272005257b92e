import Foundation
internal import Yams

/// Walks a composed YAML document, reading typed values and recording every problem with its key path.
/// Readers return `nil` after recording an issue so decoding goes on and reports all problems at once.
final class ConfigReader {
    let environment: [String: String]
    private(set) var issues: [ConfigError.Issue] = []

    init(environment: [String: String]) {
        self.environment = environment
    }

    /// A node and where it sits.
    struct Value {
        var node: Node
        var path: String
        var line: Int? { node.mark.map { $0.line } }

        func child(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }
        func element(_ index: Int) -> String { "\(path)[\(index)]" }
    }

    func report(_ path: String, line: Int?, _ message: String) {
        issues.append(.init(path: path, line: line, message: message))
    }

    func report(_ value: Value, _ message: String) {
        report(value.path, line: value.line, message)
    }

    // MARK: Shapes

    /// A mapping's members; `finish()` reports keys nobody asked for.
    final class Fields {
        let owner: Value
        private var members: [(key: String, value: Value)] = []
        private var used: Set<String> = []
        private let reader: ConfigReader

        init(owner: Value, reader: ConfigReader, mapping: Node.Mapping) {
            self.owner = owner
            self.reader = reader
            var seen: Set<String> = []
            for (keyNode, valueNode) in mapping {
                guard let key = keyNode.scalar?.string else {
                    reader.report(owner.path, line: keyNode.mark?.line, "expected string keys")
                    continue
                }
                if !seen.insert(key).inserted {
                    reader.report(owner.child(key), line: keyNode.mark?.line, "duplicate key")
                    continue
                }
                members.append((key, Value(node: valueNode, path: owner.child(key))))
            }
        }

        /// The member `key`, or nil when absent or null.
        func optional(_ key: String) -> Value? {
            used.insert(key)
            guard let member = members.first(where: { $0.key == key }) else { return nil }
            return ConfigReader.isNull(member.value.node) ? nil : member.value
        }

        /// The member `key`; a missing one is reported with the expected form.
        func required(_ key: String, expected: String) -> Value? {
            if let value = optional(key) { return value }
            reader.report(owner.child(key), line: owner.line, "missing required key (expected \(expected))")
            return nil
        }

        var keys: [String] { members.map(\.key) }

        /// Every member, for free-form mappings (aliases, headers).
        var all: [(key: String, value: Value)] {
            for member in members { used.insert(member.key) }
            return members
        }

        func finish(allowed: [String]) {
            for member in members where !used.contains(member.key) {
                reader.report(
                    member.value.path, line: member.value.line,
                    "unknown key (expected one of \(allowed.joined(separator: ", ")))")
            }
        }
    }

    static func isNull(_ node: Node) -> Bool {
        guard let scalar = node.scalar, scalar.style == .plain else { return false }
        return ["", "~", "null", "Null", "NULL"].contains(scalar.string)
    }

    private static func shapeName(_ node: Node) -> String {
        switch node {
        case .scalar(let scalar): "\"\(scalar.string.prefix(60))\""
        case .mapping: "a mapping"
        case .sequence: "a list"
        case .alias: "an alias"
        }
    }

    func mapping(_ value: Value, allowed: [String]) -> Fields? {
        guard let mapping = value.node.mapping else {
            report(value, "expected a mapping with keys \(allowed.joined(separator: ", ")), found \(Self.shapeName(value.node))")
            return nil
        }
        return Fields(owner: value, reader: self, mapping: mapping)
    }

    func sequence(_ value: Value, expected: String) -> [Value]? {
        guard let sequence = value.node.sequence else {
            report(value, "expected a list of \(expected), found \(Self.shapeName(value.node))")
            return nil
        }
        return sequence.enumerated().map { Value(node: $1, path: value.element($0)) }
    }

    // MARK: Scalars

    /// The scalar text with `${…}` references expanded.
    func string(_ value: Value, expected: String = "a string") -> String? {
        guard let scalar = value.node.scalar else {
            report(value, "expected \(expected), found \(Self.shapeName(value.node))")
            return nil
        }
        switch EnvironmentSubstitution.expand(scalar.string, environment: environment) {
        case .success(let text):
            return text
        case .failure(.unset(let name)):
            report(value, "environment variable \(name) is not set (write ${\(name):-default} to give a default)")
        case .failure(.malformed(let message)):
            report(value, message)
        }
        return nil
    }

    func nonEmptyString(_ value: Value, expected: String = "a non-empty string") -> String? {
        guard let text = string(value, expected: expected) else { return nil }
        if text.isEmpty {
            report(value, "expected \(expected), found an empty string")
            return nil
        }
        return text
    }

    func int(_ value: Value, in range: ClosedRange<Int>, expected: String) -> Int? {
        guard let text = string(value, expected: expected) else { return nil }
        guard let number = Int(text.replacingOccurrences(of: "_", with: "")), range.contains(number) else {
            report(value, "expected \(expected), found \"\(text.prefix(60))\"")
            return nil
        }
        return number
    }

    func double(_ value: Value, in range: ClosedRange<Double>, expected: String) -> Double? {
        guard let text = string(value, expected: expected) else { return nil }
        guard let number = Double(text.trimmingCharacters(in: .whitespaces)), number.isFinite, range.contains(number) else {
            report(value, "expected \(expected), found \"\(text.prefix(60))\"")
            return nil
        }
        return number
    }

    func choice<T: RawRepresentable & CaseIterable>(_ value: Value, of type: T.Type) -> T? where T.RawValue == String {
        let names = T.allCases.map(\.rawValue).joined(separator: ", ")
        guard let text = string(value, expected: "one of \(names)") else { return nil }
        guard let result = T(rawValue: text) else {
            report(value, "expected one of \(names), found \"\(text.prefix(60))\"")
            return nil
        }
        return result
    }

    static let durationForm = #"a duration like "30s", "800ms", "2m" or "1h""#

    func duration(_ value: Value) -> Duration? { duration(value, allowsZero: false) }

    /// A duration; zero only where it means "off" (`drain_delay: 0s`).
    func duration(_ value: Value, allowsZero: Bool) -> Duration? {
        guard let text = string(value, expected: Self.durationForm) else { return nil }
        guard let milliseconds = Self.parseMilliseconds(text), milliseconds > 0 || (allowsZero && milliseconds == 0) else {
            report(value, "expected \(Self.durationForm), found \"\(text.prefix(60))\"")
            return nil
        }
        return .milliseconds(milliseconds)
    }

    /// `800ms`, `30s`, `1.5s`, `2m`, `1h` → milliseconds.
    static func parseMilliseconds(_ text: String) -> Int64? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let units: [(String, Int64)] = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000)]
        for (suffix, scale) in units where trimmed.hasSuffix(suffix) {
            let number = trimmed.dropLast(suffix.count)
            if suffix == "s" && number.hasSuffix("m") { continue }
            return parseDecimal(number, scale: scale)
        }
        return nil
    }

    /// A non-negative decimal like `2.50` multiplied by `scale`, exactly (no floating point); nil when the
    /// result is not a whole number or overflows.
    static func parseDecimal(_ text: some StringProtocol, scale: Int64) -> Int64? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count <= 2, let wholeText = parts.first, !wholeText.isEmpty || parts.count == 2,
              wholeText.allSatisfy(\.isASCIIDigit), wholeText.count < 16
        else { return nil }
        var result = (Int64(wholeText) ?? 0).multipliedReportingOverflow(by: scale)
        guard !result.overflow else { return nil }
        if parts.count == 2 {
            let fraction = parts[1]
            guard !fraction.isEmpty, fraction.allSatisfy(\.isASCIIDigit), fraction.count <= 12 else { return nil }
            var denominator: Int64 = 1
            for _ in 0..<fraction.count { denominator *= 10 }
            let numerator = (Int64(fraction) ?? 0).multipliedReportingOverflow(by: scale)
            guard !numerator.overflow, numerator.partialValue % denominator == 0 else { return nil }
            result.partialValue += numerator.partialValue / denominator
        }
        return result.partialValue
    }

    static let byteSizeForm = #"a size like "4MiB", "512KiB", "1MB" or a number of bytes"#

    /// A byte size up to 2 GiB − 1 (body and file limits).
    func byteSize(_ value: Value) -> Int? { byteSize(value, limit: Int64(Int32.max)) }

    /// A byte size up to `limit`.
    func byteSize(_ value: Value, limit: Int64) -> Int? {
        guard let text = string(value, expected: Self.byteSizeForm) else { return nil }
        let units: [(String, Int64)] = [
            ("KiB", 1 << 10), ("MiB", 1 << 20), ("GiB", 1 << 30), ("KB", 1000), ("MB", 1_000_000),
            ("GB", 1_000_000_000), ("B", 1), ("", 1),
        ]
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        for (suffix, scale) in units where trimmed.hasSuffix(suffix) {
            let number = trimmed.dropLast(suffix.count).trimmingCharacters(in: .whitespaces)
            if let bytes = Self.parseDecimal(number, scale: scale), bytes > 0, bytes <= limit {
                return Int(bytes)
            }
            break
        }
        report(value, "expected \(Self.byteSizeForm), found \"\(text.prefix(60))\"")
        return nil
    }

    static let priceForm = #"a price in dollars per 1M tokens like 2.50 (at most 6 decimals)"#

    func priceMicros(_ value: Value) -> Int64? {
        guard let text = string(value, expected: Self.priceForm) else { return nil }
        guard let micros = Self.parseDecimal(text.trimmingCharacters(in: .whitespaces), scale: 1_000_000) else {
            report(value, "expected \(Self.priceForm), found \"\(text.prefix(60))\"")
            return nil
        }
        return micros
    }

    static let urlForm = #"an http(s) URL like "https://api.openai.com/v1""#

    func baseURL(_ value: Value) -> String? {
        guard let text = string(value, expected: Self.urlForm) else { return nil }
        var url = text.trimmingCharacters(in: .whitespaces)
        while url.hasSuffix("/") { url.removeLast() }
        let lower = url.lowercased()
        let scheme = lower.hasPrefix("https://") ? "https://" : lower.hasPrefix("http://") ? "http://" : nil
        let host = scheme.map { url.dropFirst($0.count).prefix { $0 != "/" && $0 != ":" } } ?? ""
        let hasBadCharacters = url.contains { $0 == " " || $0 == "?" || $0 == "#" }
        guard scheme != nil, !host.isEmpty, !hasBadCharacters else {
            report(value, "expected \(Self.urlForm), found \"\(text.prefix(80))\"")
            return nil
        }
        return url
    }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isWholeNumber }
}
