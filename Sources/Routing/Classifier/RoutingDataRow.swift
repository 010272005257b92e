public import Foundation

/// One row of a routing JSONL file (`shared/data/routing/SOURCE.md`): a prompt with per-model outcomes.
///
/// Only `prompt` and `history` feed the classifier (`input`); the rest is for training and evaluation.
public struct RoutingDataRow: Sendable, Hashable, Codable {
    public var id: String
    public var sourceDataset: String?
    public var prompt: String
    public var history: [String]
    public var models: [ModelOutcome]

    public init(id: String, sourceDataset: String? = nil, prompt: String, history: [String] = [], models: [ModelOutcome]) {
        self.id = id
        self.sourceDataset = sourceDataset
        self.prompt = prompt
        self.history = history
        self.models = models
    }

    enum CodingKeys: String, CodingKey {
        case id
        case sourceDataset = "source_dataset"
        case prompt, history, models
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(String.self, forKey: .id)
        sourceDataset = try c.decodeIfPresent(String.self, forKey: .sourceDataset)
        prompt = try c.decode(String.self, forKey: .prompt)
        history = try c.decodeIfPresent([String].self, forKey: .history) ?? []
        models = try c.decodeIfPresent([ModelOutcome].self, forKey: .models) ?? []
    }

    /// What a live request carries.
    public var input: ClassifierInput { ClassifierInput(prompt: prompt, history: history) }

    public func outcome(of model: String) -> ModelOutcome? { models.first { $0.model == model } }

    /// One model's result on the row's prompt.
    public struct ModelOutcome: Sendable, Hashable, Codable {
        public var model: String
        public var tier: String?
        public var quality: Double
        public var answerParsed: Bool?
        public var costUSD: Double?

        public init(model: String, tier: String? = nil, quality: Double, answerParsed: Bool? = nil, costUSD: Double? = nil) {
            self.model = model
            self.tier = tier
            self.quality = quality
            self.answerParsed = answerParsed
            self.costUSD = costUSD
        }

        enum CodingKeys: String, CodingKey {
            case model, tier, quality
            case answerParsed = "answer_parsed"
            case costUSD = "cost_usd"
        }
    }
}

extension RoutingDataRow {
    /// Parses a JSONL document: one row per non-empty line. Errors name the line.
    public static func rows(fromJSONL data: Data) throws(DifficultyClassifierError) -> [RoutingDataRow] {
        let decoder = JSONDecoder()
        var rows: [RoutingDataRow] = []
        var lineNumber = 0
        var start = data.startIndex
        while start < data.endIndex {
            let end = data[start...].firstIndex(of: 0x0A) ?? data.endIndex
            lineNumber += 1
            let line = data[start..<end]
            start = end < data.endIndex ? data.index(after: end) : end
            if line.allSatisfy({ $0 == 0x20 || $0 == 0x0D || $0 == 0x09 }) { continue }
            do {
                rows.append(try decoder.decode(RoutingDataRow.self, from: line))
            } catch {
                throw .invalidData("line \(lineNumber): \(Self.describe(error))")
            }
        }
        return rows
    }

    static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, let context):
            let path = (context.codingPath + [key]).map(\.stringValue).joined(separator: ".")
            return "missing key '\(path)'"
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            return "\(path): \(context.debugDescription)"
        case DecodingError.dataCorrupted(let context):
            return "not valid JSON (\(context.debugDescription))"
        default:
            return "\(error)"
        }
    }
}

/// Errors of the difficulty classifier: invalid model files, data or arguments.
public enum DifficultyClassifierError: Error, Equatable, CustomStringConvertible {
    case invalidModel(String)
    case invalidData(String)
    case invalidArgument(String)

    public var description: String {
        switch self {
        case .invalidModel(let message): "classifier model: \(message)"
        case .invalidData(let message): "routing data: \(message)"
        case .invalidArgument(let message): message
        }
    }
}
