public import OpenAIWire
import Foundation

/// What a decision knows about a request: computed once at the boundary, then pure data.
public struct RequestFeatures: Sendable, Hashable {
    public var model: String
    public var keyID: String?
    public var tenant: String?
    /// Header names lowercased; repeated fields combined with ", " (RFC 9110).
    public var headers: [String: String]
    /// PII found in the messages: type → count (values never kept).
    public var piiFindings: [PIIType: Int]
    /// Prompt tokens counted with a real tokenizer (or an estimate when none is loaded).
    public var promptTokens: Int
    public var maxTokens: Int?
    public var hasTools: Bool
    public var hasResponseFormat: Bool
    /// What the difficulty classifier sees.
    public var classifierInput: ClassifierInput

    public init(
        model: String, keyID: String? = nil, tenant: String? = nil, headers: [String: String] = [:],
        piiFindings: [PIIType: Int] = [:], promptTokens: Int = 0, maxTokens: Int? = nil, hasTools: Bool = false,
        hasResponseFormat: Bool = false, classifierInput: ClassifierInput = ClassifierInput(prompt: "")
    ) {
        self.model = model
        self.keyID = keyID
        self.tenant = tenant
        self.headers = Dictionary(headers.map { ($0.key.lowercased(), $0.value) }, uniquingKeysWith: { a, b in a + ", " + b })
        self.piiFindings = piiFindings
        self.promptTokens = promptTokens
        self.maxTokens = maxTokens
        self.hasTools = hasTools
        self.hasResponseFormat = hasResponseFormat
        self.classifierInput = classifierInput
    }

    /// Features of a chat request: PII scanned with `scanner`, tokens counted by `countTokens` over the
    /// concatenated message texts.
    public init(
        request: ChatCompletionRequest, keyID: String?, tenant: String?, headers: [String: String],
        scanner: PIIScanner, countTokens: (String) -> Int
    ) {
        var users: [String] = []
        var all = ""
        for message in request.messages {
            let text = message.content?.text ?? ""
            if !all.isEmpty { all += "\n" }
            all += text
            if message.role == .user { users.append(text) }
        }
        let prompt = users.last ?? ""
        self.init(
            model: request.model, keyID: keyID, tenant: tenant, headers: headers,
            piiFindings: scanner.counts(in: all), promptTokens: countTokens(all),
            maxTokens: request.effectiveMaxTokens, hasTools: !(request.tools ?? []).isEmpty,
            hasResponseFormat: request.responseFormat != nil,
            classifierInput: ClassifierInput(prompt: prompt, history: Array(users.dropLast())))
    }

    /// Deadline in milliseconds from `x-phigate-deadline-ms`, when it is a positive integer (repeated fields: the
    /// tightest of them).
    public var headerDeadlineMilliseconds: Int? {
        headers[PolicyDefaults.deadlineHeader].flatMap { value in
            HeaderList.elements(value).compactMap { Int($0) }.filter { $0 > 0 }.min()
        }
    }

    /// A rough token count (UTF-8 bytes / 4) for when no tokenizer is loaded.
    public static func estimatedTokens(_ text: String) -> Int { (text.utf8.count + 3) / 4 }
}

