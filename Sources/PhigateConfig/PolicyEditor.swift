import Foundation
internal import Yams

/// Targeted edits of a policy file's text: one value changes, every comment, blank line and indentation stays as
/// written. Positions come from Yams' node marks (1-based lines, columns in Unicode scalars, as libYAML counts).
public enum PolicyEditor {
    /// `yaml` with the `auto` routing threshold set to `threshold`:
    /// - an existing `auto.threshold` value is replaced in place (its comment kept);
    /// - an operating target (`quality`, `max_cost_per_1k_requests`, `lambda`) is replaced by `threshold`, with a
    ///   comment naming the target it replaces (a policy has one or the other);
    /// - otherwise `threshold` is added to `auto` (or an `auto` section is appended).
    /// The caller re-loads the result with `PolicyLoader` before using it.
    public static func settingThreshold(_ threshold: Double, in yaml: String, file: String) throws(ConfigError) -> String {
        guard threshold.isFinite, (0...1).contains(threshold) else {
            throw ConfigError(file: file, path: "auto.threshold", message: "expected a score threshold from 0 to 1, found \(threshold)")
        }
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch {
            throw ConfigError(file: file, path: "", message: "not valid YAML: \(error)")
        }
        guard let root, let top = root.mapping else {
            throw ConfigError(file: file, path: "", message: "expected a mapping with a 'rules' key")
        }
        let value = formatted(threshold)
        var text = EditableText(yaml)
        guard let (autoKey, autoNode) = member("auto", of: top) else {
            guard !text.isFlow(root) else {
                throw ConfigError(file: file, path: "auto", message: "the policy is one flow mapping; add 'auto: {threshold: \(value)}' by hand")
            }
            return text.appendingBlock("auto:\n  threshold: \(value)  # set by phigate tune\n")
        }
        guard let auto = autoNode.mapping else {
            throw ConfigError(file: file, path: "auto", line: autoNode.mark?.line, message: "expected a mapping; set 'threshold: \(value)' by hand")
        }
        if let (_, node) = member("threshold", of: auto) {
            try text.replaceScalar(node, with: value, file: file, path: "auto.threshold")
            return text.joined
        }
        for target in ["quality", "max_cost_per_1k_requests", "lambda"] {
            guard let (key, node) = member(target, of: auto) else { continue }
            let old = node.scalar?.string ?? "?"
            try text.replaceEntry(
                key: key, value: node, with: "threshold: \(value)", comment: "set by phigate tune (was \(target): \(old))",
                isFlow: text.isFlow(autoNode), file: file, path: "auto.\(target)")
            return text.joined
        }
        try text.insertEntry("threshold: \(value)", into: auto, isFlow: text.isFlow(autoNode), after: autoKey, file: file)
        return text.joined
    }

    /// The shortest text that reads back as `x` (`0.42`, `0.0`, `0.4237819`), without exponents: the
    /// threshold is one of the logged scores, and rounding it would move that request to the other tier.
    public static func formatted(_ x: Double) -> String {
        let shortest = "\(x)"
        if !shortest.contains("e") { return shortest }
        var text = String(format: "%.12f", x)
        while text.hasSuffix("0") && !text.hasSuffix(".0") { text.removeLast() }
        return text
    }

    static func member(_ key: String, of mapping: Node.Mapping) -> (key: Node, value: Node)? {
        for (k, v) in mapping where k.scalar?.string == key { return (k, v) }
        return nil
    }
}

/// The text as lines of Unicode scalars (a `\r` before the `\n` stays part of its line), edited at Yams marks.
private struct EditableText {
    var lines: [[Unicode.Scalar]]
    /// The line ending new lines get: the first line's.
    let lineEnding: String

    init(_ text: String) {
        // By scalars: "\r\n" is one Character, so String-level splitting on "\n" would not see it.
        lines = Array(text.unicodeScalars).split(separator: "\n", omittingEmptySubsequences: false).map(Array.init)
        lineEnding = lines.first?.last == "\r" ? "\r\n" : "\n"
    }

    var joined: String {
        lines.map { String(String.UnicodeScalarView($0)) }.joined(separator: "\n")
    }

    /// The end of line `i`'s content (before a trailing `\r`).
    private func contentEnd(_ i: Int) -> Int {
        lines[i].last == "\r" ? lines[i].count - 1 : lines[i].count
    }

    /// Appends `block` (lines separated by `\n`) after the last line, with one blank line before it.
    func appendingBlock(_ block: String) -> String {
        var text = joined
        while text.hasSuffix(lineEnding + lineEnding) { text.removeLast(lineEnding.count) }
        if !text.isEmpty && !text.hasSuffix(lineEnding) { text += lineEnding }
        return text + lineEnding + block.replacingOccurrences(of: "\n", with: lineEnding)
    }

    /// Whether a collection node is written in flow style (`{…}` / `[…]`). Its mark is the opening bracket then;
    /// Yams' own `style` of a composed mapping is not reliable (it reads the end event's style).
    func isFlow(_ node: Node) -> Bool {
        guard let mark = node.mark, mark.line >= 1, mark.line <= lines.count, mark.column >= 1,
              mark.column - 1 < lines[mark.line - 1].count
        else { return false }
        let first = lines[mark.line - 1][mark.column - 1]
        return first == "{" || first == "["
    }

    /// Zero-based line and column of a node, checked against the text.
    private func position(_ node: Node, file: String, path: String) throws(ConfigError) -> (line: Int, column: Int) {
        guard let mark = node.mark, mark.line >= 1, mark.line <= lines.count, mark.column >= 1,
              mark.column - 1 <= lines[mark.line - 1].count
        else {
            throw ConfigError(file: file, path: path, message: "cannot locate the value in the file; edit it by hand")
        }
        return (mark.line - 1, mark.column - 1)
    }

    /// The end (exclusive column) of the one-line scalar starting at `column`.
    private func scalarEnd(line: Int, column: Int, file: String, path: String) throws(ConfigError) -> Int {
        let characters = lines[line]
        guard column < characters.count else {
            throw ConfigError(file: file, path: path, line: line + 1, message: "expected a value on this line; edit it by hand")
        }
        let first = characters[column]
        if first == "\"" || first == "'" {
            var i = column + 1
            while i < characters.count {
                if first == "\"" && characters[i] == "\\" {
                    i += 2
                    continue
                }
                if characters[i] == first {
                    if first == "'" && i + 1 < characters.count && characters[i + 1] == "'" {
                        i += 2
                        continue
                    }
                    return i + 1
                }
                i += 1
            }
            throw ConfigError(file: file, path: path, line: line + 1, message: "a quoted value spanning lines; edit it by hand")
        }
        var end = column
        let limit = contentEnd(line)
        while end < limit {
            let c = characters[end]
            if c == "," || c == "}" || c == "]" { break }
            if c == "#" && end > column && (characters[end - 1] == " " || characters[end - 1] == "\t") { break }
            end += 1
        }
        while end > column && (characters[end - 1] == " " || characters[end - 1] == "\t") { end -= 1 }
        return end
    }

    /// Replaces a one-line scalar value.
    mutating func replaceScalar(_ node: Node, with value: String, file: String, path: String) throws(ConfigError) {
        guard let scalar = node.scalar, scalar.style != .literal, scalar.style != .folded else {
            throw ConfigError(file: file, path: path, line: node.mark?.line, message: "expected a number; edit it by hand")
        }
        let (line, column) = try position(node, file: file, path: path)
        let end = try scalarEnd(line: line, column: column, file: file, path: path)
        lines[line].replaceSubrange(column..<end, with: value.unicodeScalars)
    }

    /// Replaces `key: value` with `entry`. In a block mapping the rest of the line (its comment, which described
    /// the old entry) becomes `# comment`; in a flow mapping only the entry changes.
    mutating func replaceEntry(
        key: Node, value: Node, with entry: String, comment: String, isFlow: Bool, file: String, path: String
    ) throws(ConfigError) {
        let (keyLine, keyColumn) = try position(key, file: file, path: path)
        let (valueLine, valueColumn) = try position(value, file: file, path: path)
        guard keyLine == valueLine, value.scalar != nil else {
            throw ConfigError(file: file, path: path, line: keyLine + 1, message: "expected 'key: value' on one line; edit it by hand")
        }
        if isFlow {
            let end = try scalarEnd(line: valueLine, column: valueColumn, file: file, path: path)
            lines[keyLine].replaceSubrange(keyColumn..<end, with: entry.unicodeScalars)
        } else {
            lines[keyLine].replaceSubrange(keyColumn..<contentEnd(keyLine), with: "\(entry)  # \(comment)".unicodeScalars)
        }
    }

    /// Adds `entry` as the first member of `mapping` (the value of `owner`).
    mutating func insertEntry(
        _ entry: String, into mapping: Node.Mapping, isFlow: Bool, after owner: Node, file: String
    ) throws(ConfigError) {
        if isFlow {
            // `auto: { local: local }` → `auto: { threshold: 0.4, local: local }`
            let (line, column) = try position(owner, file: file, path: "auto")
            guard let brace = lines[line][column...].firstIndex(of: "{") else {
                throw ConfigError(file: file, path: "auto", line: line + 1, message: "expected '{' on this line; add threshold by hand")
            }
            let next = brace + 1 < lines[line].count ? lines[line][brace + 1] : " "
            let separator = mapping.isEmpty ? (next == " " ? "" : " ") : (next == " " ? "," : ", ")
            lines[line].insert(contentsOf: " \(entry)\(separator)".unicodeScalars, at: brace + 1)
            return
        }
        guard let (firstKey, _) = mapping.first else {
            throw ConfigError(file: file, path: "auto", line: owner.mark?.line, message: "an empty mapping; add threshold by hand")
        }
        let (line, column) = try position(firstKey, file: file, path: "auto")
        let indent = String(String.UnicodeScalarView(lines[line][..<column]))
        guard indent.allSatisfy({ $0 == " " }) else {
            throw ConfigError(file: file, path: "auto", line: line + 1, message: "unusual layout; add threshold by hand")
        }
        let ending: [Unicode.Scalar] = lines[line].last == "\r" ? ["\r"] : []
        lines.insert(Array((indent + entry + "  # set by phigate tune").unicodeScalars) + ending, at: line)
    }
}
