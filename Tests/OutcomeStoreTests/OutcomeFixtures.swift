import Foundation
import OutcomeStore

/// A small log with known rows, used by the dashboard tests (numbers worked out by hand in the tests).
enum OutcomeFixtures {
    static let gpt4o = FrontierPricing(
        model: "gpt-4o", price: TokenPrice(inputMicrosPerMillion: 2_500_000, outputMicrosPerMillion: 10_000_000))

    /// `2026-11-DDTHH:MM:SS.mmmZ`
    static func time(_ day: Int, _ hour: Int, _ minute: Int, _ millis: Int = 0) -> Date {
        var components = DateComponents()
        components.year = 2026
        components.month = 11
        components.day = day
        components.hour = hour
        components.minute = minute
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar.date(from: components)!.addingTimeInterval(Double(millis) / 1000)
    }

    static let r1 = RequestOutcome(
        id: "r1", time: time(20, 9, 0), tenant: "acme", keyID: "key-a", requestedModel: "auto", backend: "local",
        model: "phi-3.5-mini", tier: .local, rule: "auto", decisionJSON: #"{"rule":"auto"}"#, difficultyScore: 0.8,
        difficultyThreshold: 0.5, promptTokens: 1000, completionTokens: 200, costMicros: 0, timeToFirstTokenMs: 50,
        totalTimeMs: 400, tokensPerSecond: 500, status: 200,
        attempts: [OutcomeAttempt(backend: "local", model: "phi-3.5-mini")], promptText: "hello, \"world\"\nline 2",
        completionText: "hi")

    static let r2 = RequestOutcome(
        id: "r2", time: time(20, 10, 30, 250), tenant: "acme", keyID: "key-a", requestedModel: "auto",
        backend: "openai", model: "gpt-4o", tier: .remote, rule: "auto",
        decisionJSON: #"{"rule":"auto","reason":"score 0.2 < 0.5"}"#, difficultyScore: 0.2, difficultyThreshold: 0.5,
        promptTokens: 2000, completionTokens: 500, costMicros: 10_000, timeToFirstTokenMs: 300, totalTimeMs: 2000,
        tokensPerSecond: 25, status: 200,
        attempts: [
            OutcomeAttempt(backend: "local", model: "phi-3.5-mini", fault: "timeout"),
            OutcomeAttempt(backend: "openai", model: "gpt-4o"),
        ], isStreamed: true)

    static let r3 = RequestOutcome(
        id: "r3", time: time(20, 23, 59, 59_500), tenant: "beta", keyID: "key-b", requestedModel: "auto",
        backend: "local", model: "phi-3.5-mini", tier: .local, rule: "privacy", isPrivate: true,
        privacyFindings: ["iban", "email", "email"], promptTokens: 100, completionTokens: 50, costMicros: 0,
        timeToFirstTokenMs: 20, totalTimeMs: 100, tokensPerSecond: 500, status: 200,
        attempts: [OutcomeAttempt(backend: "local", model: "phi-3.5-mini")], promptText: "my iban is …",
        completionText: "noted")

    static let r4 = RequestOutcome(
        id: "r4", time: time(21, 8, 0), tenant: "acme", keyID: "key-a", requestedModel: "auto", backend: "openai",
        model: "gpt-4o", tier: .remote, rule: "auto", difficultyScore: 0.3, difficultyThreshold: 0.5,
        promptTokens: 1000, completionTokens: 100, costMicros: 3_500, timeToFirstTokenMs: nil, totalTimeMs: 1500,
        status: 502, errorCode: "upstream_error",
        attempts: [OutcomeAttempt(backend: "openai", model: "gpt-4o", fault: "status(500)")])

    static let r5 = RequestOutcome(
        id: "r5", time: time(21, 12, 0), tenant: "acme", keyID: "key-a", requestedModel: "auto", backend: "local",
        model: "phi-3.5-mini", tier: .local, rule: "auto", difficultyScore: 0.9, difficultyThreshold: 0.5,
        promptTokens: 300, completionTokens: 700, costMicros: 0, timeToFirstTokenMs: 10, totalTimeMs: 1000,
        tokensPerSecond: 700, status: 200, attempts: [OutcomeAttempt(backend: "local", model: "phi-3.5-mini")])

    static let labels: [OutcomeFeedback] = [
        OutcomeFeedback(requestID: "r1", score: 0.9, source: .user, comment: "good, thanks", time: time(20, 9, 5)),
        OutcomeFeedback(requestID: "r1", score: 1.0, source: .shadow, tier: .remote, time: time(20, 9, 6)),
        OutcomeFeedback(requestID: "r1", score: 0.8, source: .shadow, tier: .local, time: time(20, 9, 6)),
        OutcomeFeedback(requestID: "r2", score: 0.4, source: .user, time: time(20, 10, 31)),
        OutcomeFeedback(requestID: "r2", score: 0.2, source: .shadow, tier: .local, time: time(20, 10, 31)),
        OutcomeFeedback(requestID: "r5", score: 0.6, source: .judge, time: time(21, 12, 1)),
        OutcomeFeedback(requestID: "r5", score: 0.7, source: .shadow, tier: .remote, time: time(21, 12, 1)),
    ]

    static var entries: [OutcomeEntry] {
        [r1, r2, r3, r4, r5].map(OutcomeEntry.request) + labels.map(OutcomeEntry.feedback)
    }

    static func makeStore(storesText: Bool = false) async throws -> OutcomeStore {
        let store = try OutcomeStore.inMemory(options: .init(storesText: storesText))
        try await store.write(entries)
        return store
    }
}

/// A minimal RFC 4180 reader for checking exports.
func parseCSV(_ text: String) -> [[String]] {
    var rows: [[String]] = []
    var row: [String] = []
    var field = ""
    var inQuotes = false
    var chars = Array(text.unicodeScalars)[...]
    while let c = chars.popFirst() {
        if inQuotes {
            if c == "\"" {
                if chars.first == "\"" {
                    field.unicodeScalars.append("\"")
                    chars.removeFirst()
                } else {
                    inQuotes = false
                }
            } else {
                field.unicodeScalars.append(c)
            }
        } else if c == "\"" {
            inQuotes = true
        } else if c == "," {
            row.append(field)
            field = ""
        } else if c == "\r" && chars.first == "\n" {
            chars.removeFirst()
            row.append(field)
            rows.append(row)
            row = []
            field = ""
        } else {
            field.unicodeScalars.append(c)
        }
    }
    if !field.isEmpty || !row.isEmpty {
        row.append(field)
        rows.append(row)
    }
    return rows
}
