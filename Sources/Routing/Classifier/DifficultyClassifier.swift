public import Foundation

/// The difficulty classifier: the probability that the small (local) model's answer is as good as the frontier
/// model's, from the request alone.
///
/// Two forms:
/// - `.direct`: one logistic head trained on "small quality ≥ large quality"; score = σ(w·x + b).
/// - `.correctness`: two logistic heads estimating P(small tier correct) and P(large tier correct), trained on
///   the outcomes of every model of each tier (more labels per prompt, less noise); score = 1 − p_large·(1 − p_small),
///   the chance that the large model does not beat the small one if the two err independently.
public struct DifficultyClassifier: Sendable {
    public enum Form: String, Sendable, Codable {
        case direct
        case correctness
    }

    /// A logistic head with dense weights over the feature vector.
    public struct Head: Sendable {
        public var bias: Double
        public var weights: [Float]

        public init(bias: Double, weights: [Float]) {
            self.bias = bias
            self.weights = weights
        }

        public func probability(_ x: SparseFeatureVector) -> Double {
            DifficultyClassifier.sigmoid(bias + x.dot(weights))
        }
    }

    public var spec: DifficultyFeatureSpec
    public var form: Form
    /// `.direct`: [asGood]; `.correctness`: [small, large].
    public var heads: [Head]
    public var metadata: TrainingMetadata?

    public init(spec: DifficultyFeatureSpec, form: Form, heads: [Head], metadata: TrainingMetadata? = nil) {
        self.spec = spec
        self.form = form
        self.heads = heads
        self.metadata = metadata
    }

    /// The score of a feature vector: probability that the small model is as good as the frontier model.
    public func score(features x: SparseFeatureVector) -> Double {
        switch form {
        case .direct:
            return heads[0].probability(x)
        case .correctness:
            let small = heads[0].probability(x)
            let large = heads[1].probability(x)
            return 1 - large * (1 - small)
        }
    }

    /// Scores one request with a reusable extractor (made from `spec`): the fast path for live decisions.
    public func score(_ input: ClassifierInput, using extractor: inout DifficultyFeatureExtractor) -> Double {
        let z = extractor.dots(input, weights: heads.map(\.weights))
        switch form {
        case .direct:
            return Self.sigmoid(heads[0].bias + z[0])
        case .correctness:
            let small = Self.sigmoid(heads[0].bias + z[0])
            let large = Self.sigmoid(heads[1].bias + z[1])
            return 1 - large * (1 - small)
        }
    }

    /// Scores one request. For many requests keep one extractor and call `score(_:using:)`.
    public func score(_ input: ClassifierInput) -> Double {
        var extractor = DifficultyFeatureExtractor(spec: spec)
        return score(features: extractor.features(of: input))
    }

    /// The threshold for a policy's target, taken from the Pareto front of the held-out curve stored with the
    /// model; nil when the model file has no curve.
    public func operatingPoint(for target: OperatingTarget) -> OperatingPoint? {
        guard let curve = metadata?.heldOut?.curve, !curve.points.isEmpty else { return nil }
        return curve.operatingPoint(for: target)
    }

    static func sigmoid(_ z: Double) -> Double {
        z >= 0 ? 1 / (1 + exp(-z)) : exp(z) / (1 + exp(z))
    }
}

// MARK: - File format

/// The model file: JSON, documented in `policies/classifier/README.md`.
///
/// ```
/// { "format": "phigate-difficulty-classifier", "format_version": 1,
///   "feature_spec": {"hash_bits": 18, "max_word_ngram": 2, "structural_version": 1},
///   "form": "correctness",
///   "heads": [{"name": "small", "bias": -0.1, "indices": [...], "values": [...]}, ...],
///   "training": { ...TrainingMetadata... } }
/// ```
/// Weights are sparse (indices ascending, zero weights left out) and rounded to 1e-5.
public struct DifficultyClassifierFile: Sendable, Codable {
    public static let formatName = "phigate-difficulty-classifier"
    public static let currentVersion = 1

    public var format: String
    public var formatVersion: Int
    public var featureSpec: DifficultyFeatureSpec
    public var form: DifficultyClassifier.Form
    public var heads: [HeadRecord]
    public var training: TrainingMetadata?

    public struct HeadRecord: Sendable, Codable {
        public var name: String
        public var bias: Double
        public var indices: [Int]
        public var values: [Double]
    }

    enum CodingKeys: String, CodingKey {
        case format
        case formatVersion = "format_version"
        case featureSpec = "feature_spec"
        case form, heads, training
    }
}

extension DifficultyClassifier {
    static let headNames: [Form: [String]] = [.direct: ["as_good"], .correctness: ["small", "large"]]

    /// Loads a model file, validating its shape.
    public init(jsonData data: Data) throws(DifficultyClassifierError) {
        let file: DifficultyClassifierFile
        do {
            file = try JSONDecoder().decode(DifficultyClassifierFile.self, from: data)
        } catch {
            throw .invalidModel(RoutingDataRow.describe(error))
        }
        guard file.format == DifficultyClassifierFile.formatName else {
            throw .invalidModel("format: expected '\(DifficultyClassifierFile.formatName)', found '\(file.format)'")
        }
        guard file.formatVersion == DifficultyClassifierFile.currentVersion else {
            throw .invalidModel("format_version: expected \(DifficultyClassifierFile.currentVersion), found \(file.formatVersion)")
        }
        if let problem = file.featureSpec.problem { throw .invalidModel("feature_spec.\(problem)") }
        let names = Self.headNames[file.form] ?? []
        guard file.heads.map(\.name) == names else {
            throw .invalidModel("heads: form '\(file.form.rawValue)' needs heads \(names), found \(file.heads.map(\.name))")
        }
        let dimension = file.featureSpec.dimension
        var heads: [Head] = []
        for (k, record) in file.heads.enumerated() {
            guard record.indices.count == record.values.count else {
                throw .invalidModel("heads[\(k)]: \(record.indices.count) indices but \(record.values.count) values")
            }
            var weights = [Float](repeating: 0, count: dimension)
            for (i, v) in zip(record.indices, record.values) {
                guard i >= 0 && i < dimension else {
                    throw .invalidModel("heads[\(k)].indices: \(i) outside 0..<\(dimension)")
                }
                weights[i] = Float(v)
            }
            guard record.bias.isFinite else { throw .invalidModel("heads[\(k)].bias: not finite") }
            heads.append(Head(bias: record.bias, weights: weights))
        }
        self.init(spec: file.featureSpec, form: file.form, heads: heads, metadata: file.training)
    }

    /// The model file's bytes (pretty-printed JSON with sorted keys, so files diff well).
    public func jsonData() throws(DifficultyClassifierError) -> Data {
        let names = Self.headNames[form] ?? []
        let records = zip(names, heads).map { name, head in
            var indices: [Int] = []
            var values: [Double] = []
            for (i, w) in head.weights.enumerated() {
                let rounded = (Double(w) * 1e5).rounded() / 1e5
                if rounded != 0 {
                    indices.append(i)
                    values.append(rounded)
                }
            }
            return DifficultyClassifierFile.HeadRecord(
                name: name, bias: (head.bias * 1e6).rounded() / 1e6, indices: indices, values: values)
        }
        let file = DifficultyClassifierFile(
            format: DifficultyClassifierFile.formatName, formatVersion: DifficultyClassifierFile.currentVersion,
            featureSpec: spec, form: form, heads: records, training: metadata)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        do {
            return try encoder.encode(file)
        } catch {
            throw .invalidModel("cannot encode: \(error)")
        }
    }
}
