/// A configuration file that cannot be used: every problem found, each naming the file, the line, the key path
/// and the expected form, e.g. `config/phigate.yaml:14: backends[1].timeouts.connect: expected a duration like
/// "30s" or "800ms", found "fast"`.
public struct ConfigError: Error, Sendable, Hashable, CustomStringConvertible {
    /// One problem at one key path.
    public struct Issue: Sendable, Hashable, CustomStringConvertible {
        /// Key path like `backends[1].timeouts.connect` (empty for the document itself).
        public var path: String
        /// 1-based line in the file, when known.
        public var line: Int?
        public var message: String

        public init(path: String, line: Int? = nil, message: String) {
            self.path = path
            self.line = line
            self.message = message
        }

        public var description: String { path.isEmpty ? message : "\(path): \(message)" }
    }

    public var file: String
    public var issues: [Issue]

    public init(file: String, issues: [Issue]) {
        self.file = file
        self.issues = issues
    }

    public init(file: String, path: String, line: Int? = nil, message: String) {
        self.init(file: file, issues: [Issue(path: path, line: line, message: message)])
    }

    public var description: String {
        issues.map { issue in
            let location = issue.line.map { "\(file):\($0)" } ?? file
            return "\(location): \(issue)"
        }.joined(separator: "\n")
    }
}
