import ArgumentParser
import Foundation
import GGUF
import OpenAIWire
import PhiTokenizer
import PhigateConfig
import Routing

/// `phigate route`: the routing decision and its explanation for one request, without calling any backend.
struct RouteCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "route",
        abstract: "Print the routing decision and its explanation for a request, without calling any backend.",
        discussion: """
            The policy is the one named by --policy, or the config's routing.policy. Prompt tokens are counted \
            with the shipped Phi-3 vocabulary (policies/tokenizer/phi-3-vocab.gguf) unless --tokenizer names \
            another; live statistics and budgets can be given to see their effect (--stats, --spent).
            """)

    @Option(help: "The gateway configuration (backends, prices, routing.tiers).")
    var config = "config/phigate.yaml"

    @Option(help: "The policy file (default: the config's routing.policy).")
    var policy: String?

    @Option(help: "A user prompt to route (as one user message to model auto).")
    var prompt: String?

    @Option(help: "A chat completions request body (JSON) to route.")
    var request: String?

    @Option(name: .customLong("header"), help: "A request header NAME:VALUE (repeatable), e.g. x-phigate-privacy:local-only.")
    var headers: [String] = []

    @Option(name: .customLong("key-id"), help: "The gateway key id the request comes with.")
    var keyID: String?

    @Option(help: "The tenant the request comes from.")
    var tenant: String?

    @Option(help: "A vocabulary (.gguf) or Hugging Face tokenizer folder for counting prompt tokens.")
    var tokenizer = "policies/tokenizer/phi-3-vocab.gguf"

    @Option(help: "Budget spend so far, NAME=DOLLARS (repeatable), e.g. tenant-daily=5.")
    var spent: [String] = []

    @Option(help: "Live statistics for a backend, NAME=TTFT_MS[,TOKENS_PER_S[,QUEUE]] (repeatable).")
    var stats: [String] = []

    @Flag(help: "Print the decision as JSON.")
    var json = false

    func validate() throws {
        if (prompt == nil) == (request == nil) { throw ValidationError("give exactly one of --prompt or --request") }
    }

    func run() async throws {
        let (decision, features, loaded, counterName) = try evaluate()
        if json {
            print(try Self.json(decision, features: features, tokenizer: counterName))
        } else {
            print(Self.text(decision, features: features, policyFile: loaded.file, owned: loaded.policy.owns(model: features.model), tokenizer: counterName))
        }
    }

    /// The decision for the request given on the command line.
    func evaluate() throws -> (RouteDecision, RequestFeatures, LoadedPolicy, String) {
        let environment = ProcessInfo.processInfo.environment
        let gateway: GatewayConfig
        do {
            gateway = try ConfigLoader.load(file: config, environment: environment)
        } catch {
            printToStandardError(error.description)
            throw ExitCode(1)
        }
        let routing = gateway.routing ?? RoutingConfig(policyFile: policy ?? "policies/default.yaml")
        let catalog = routing.catalog(for: gateway)
        let loaded: LoadedPolicy
        do {
            loaded = try PolicyLoader.load(file: policy ?? routing.policyFile, catalog: catalog)
        } catch {
            printToStandardError(error.description)
            throw ExitCode(1)
        }
        let body: ChatCompletionRequest
        if let request {
            guard let data = FileManager.default.contents(atPath: request) else { throw ValidationError("--request: cannot read \(request)") }
            do {
                body = try ChatCompletionRequest.decode(from: data)
            } catch {
                throw ValidationError("--request: \(request): \(error.message)")
            }
        } else {
            body = ChatCompletionRequest(model: "auto", messages: [ChatMessage(role: .user, content: .text(prompt ?? ""))])
        }
        var headerMap: [String: String] = [:]
        for header in headers {
            guard let colon = header.firstIndex(of: ":") else { throw ValidationError("--header: expected NAME:VALUE, found \(header)") }
            let name = String(header[..<colon]).lowercased()
            let value = String(header[header.index(after: colon)...]).trimmingCharacters(in: .whitespaces)
            // Repeated as the gateway combines repeated fields (RFC 9110): "first, second".
            headerMap[name] = headerMap[name].map { $0 + ", " + value } ?? value
        }
        let counter = PromptTokenCounter(path: tokenizer)
        let features = RequestFeatures(
            request: body, keyID: keyID, tenant: tenant, headers: headerMap, scanner: loaded.scanner, countTokens: counter.count)
        let engine = PolicyEngine(policy: loaded.policy, catalog: catalog, classifier: loaded.classifier)
        let decision = engine.decision(for: features, statistics: try parseStats(), budgets: try parseSpent())
        return (decision, features, loaded, counter.name)
    }

    func parseSpent() throws -> BudgetState {
        var state = BudgetState()
        for item in spent {
            let parts = item.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, let dollars = Double(parts[1]) else { throw ValidationError("--spent: expected NAME=DOLLARS, found \(item)") }
            state.spentMicros[String(parts[0])] = Int64((dollars * 1_000_000).rounded())
        }
        return state
    }

    func parseStats() throws -> BackendStatistics {
        var statistics = BackendStatistics()
        for item in stats {
            let parts = item.split(separator: "=", maxSplits: 1)
            let numbers = parts.count == 2 ? parts[1].split(separator: ",").compactMap { Double($0) } : []
            guard parts.count == 2, !numbers.isEmpty else {
                throw ValidationError("--stats: expected NAME=TTFT_MS[,TOKENS_PER_S[,QUEUE]], found \(item)")
            }
            statistics.upstreams[String(parts[0])] = .init(
                ttftMilliseconds: numbers[0], tokensPerSecond: numbers.count > 1 ? numbers[1] : 0,
                queueDepth: numbers.count > 2 ? Int(numbers[2]) : 0)
        }
        return statistics
    }

    static func text(_ d: RouteDecision, features: RequestFeatures, policyFile: String, owned: Bool, tokenizer: String) -> String {
        let e = d.explanation
        var lines: [String] = []
        switch d.outcome {
        case .route(let plan, let redact, let cascade):
            lines.append("route: \(d.routeHeader)" + (redact ? " (PII redacted before remote calls)" : "") + (cascade != nil ? " (cascade)" : ""))
            if plan.count > 1 { lines.append("fallbacks: " + plan.dropFirst().map { "\($0.backend)/\($0.model)" }.joined(separator: " → ")) }
        case .reject(let status, let code, let message):
            lines.append("reject: \(status) \(code): \(message)")
        }
        if !owned { lines.append("note: the gateway only routes model names the policy owns; '\(features.model)' would be served as asked") }
        lines.append("policy: \(e.policy) (\(policyFile)), rule: \(e.rule), action: \(e.action)")
        lines.append("prompt tokens: \(features.promptTokens) (\(tokenizer))" + (features.maxTokens.map { ", max_tokens: \($0)" } ?? ""))
        lines.append("private: " + (e.isPrivate ? "yes (\(e.privacyReasons.joined(separator: ", ")))" : "no"))
        if !e.piiFindings.isEmpty {
            lines.append("pii found: " + e.piiFindings.sorted { $0.key < $1.key }.map { "\($0.key) ×\($0.value)" }.joined(separator: ", "))
        }
        if let score = e.difficultyScore {
            lines.append("difficulty score: \(RouteExplanation.format(score))" + (e.threshold.map { ", threshold \(RouteExplanation.format($0))" } ?? "")
                + (e.operatingTarget.map { " (\($0))" } ?? ""))
        }
        if let deadline = e.deadlineMilliseconds { lines.append("deadline: \(deadline) ms") }
        if !e.exhaustedBudgets.isEmpty { lines.append("budgets spent: \(e.exhaustedBudgets.joined(separator: ", "))") }
        lines.append("candidates:")
        for c in e.candidates {
            let cost = String(format: "$%.6f", Double(c.predictedCostMicros) / 1_000_000)
            let time = c.predictedTotalMilliseconds.map { String(format: "ttft %.0f ms, total %.0f ms", c.predictedTTFTMilliseconds ?? 0, $0) } ?? "no latency data"
            lines.append("  \(c.skipped == nil ? "✓" : "✗") \(c.backend)/\(c.model) \(c.isLocal ? "local" : "remote") \(cost) \(time)"
                + (c.skipped.map { "  skipped: \($0)" } ?? ""))
        }
        lines.append("x-phigate-route: \(d.routeHeader)")
        lines.append("x-phigate-reason: \(e.headerValue)")
        return lines.joined(separator: "\n")
    }

    static func json(_ d: RouteDecision, features: RequestFeatures, tokenizer: String) throws -> String {
        struct Output: Encodable {
            var route: String
            var outcome: String
            var status: Int?
            var code: String?
            var message: String?
            var redact: Bool?
            var promptTokens: Int
            var tokenizer: String
            var explanation: RouteExplanation
            enum CodingKeys: String, CodingKey {
                case route, outcome, status, code, message, redact, tokenizer, explanation
                case promptTokens = "prompt_tokens"
            }
        }
        var output = Output(route: d.routeHeader, outcome: "route", promptTokens: features.promptTokens, tokenizer: tokenizer, explanation: d.explanation)
        switch d.outcome {
        case .route(_, let redact, _): output.redact = redact
        case .reject(let status, let code, let message):
            output.outcome = "reject"
            output.status = status
            output.code = code
            output.message = message
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(output), as: UTF8.self)
    }
}

/// Counts prompt tokens with a real tokenizer when one loads, else estimates bytes/4.
struct PromptTokenCounter: Sendable {
    let tokenizer: BPETokenizer?
    let name: String

    init(path: String) {
        if let t = try? TokenizeCommand.tokenizer(at: path) {
            tokenizer = t
            name = "tokenizer \((path as NSString).lastPathComponent)"
        } else {
            tokenizer = nil
            name = "estimate: UTF-8 bytes / 4 (no tokenizer at \(path))"
        }
    }

    func count(_ text: String) -> Int {
        tokenizer.map { $0.encode(text, addSpecialTokens: false).count } ?? RequestFeatures.estimatedTokens(text)
    }
}
