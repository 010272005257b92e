/// Errors of the Routing module.
public enum RoutingPolicyError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A custom PII pattern that is not a valid regular expression.
    case invalidPattern(name: String, pattern: String)

    public var description: String {
        switch self {
        case .invalidPattern(let name, let pattern): "custom pattern '\(name)': not a valid regular expression: \(pattern)"
        }
    }
}
