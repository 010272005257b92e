/// What the difficulty classifier sees of a request: only what a live request carries.
///
/// `prompt` is the last user message; `history` holds the earlier user turns, oldest first. No task label,
/// benchmark name or answer ever reaches the classifier.
public struct ClassifierInput: Sendable, Hashable, Codable {
    public var prompt: String
    public var history: [String]

    public init(prompt: String, history: [String] = []) {
        self.prompt = prompt
        self.history = history
    }
}
