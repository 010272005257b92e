/// What a model file records about how it was made.
public struct TrainingMetadata: Sendable, Hashable, Codable {
    public var dataFile: String?
    public var dataSHA256: String?
    /// Rows in the data file.
    public var rows: Int
    /// Rows that have outcomes for both models of the pair.
    public var pairRows: Int
    public var trainRows: Int
    public var validationRows: Int
    public var heldOutRows: Int
    public var smallModel: String
    public var largeModel: String
    public var seed: UInt64
    public var heldOutFraction: Double
    public var heldOutRule: String
    public var validationRule: String
    public var form: DifficultyClassifier.Form
    public var l2Grid: [Double]
    /// APGR on the validation part for each `l2Grid` value; the best was used for the final fit.
    public var validationAPGR: [Double]
    public var l2: Double
    public var iterations: Int
    public var learningRate: Double
    public var structuralL2Scale: Double?
    public var ownModelWeight: Double?
    /// Held-out numbers of the final model (nil when no rows were held out).
    public var heldOut: EvaluationSummary?

    enum CodingKeys: String, CodingKey {
        case dataFile = "data_file"
        case dataSHA256 = "data_sha256"
        case rows
        case pairRows = "pair_rows"
        case trainRows = "train_rows"
        case validationRows = "validation_rows"
        case heldOutRows = "held_out_rows"
        case smallModel = "small_model"
        case largeModel = "large_model"
        case seed
        case heldOutFraction = "held_out_fraction"
        case heldOutRule = "held_out_rule"
        case validationRule = "validation_rule"
        case form
        case l2Grid = "l2_grid"
        case validationAPGR = "validation_apgr"
        case l2, iterations
        case learningRate = "learning_rate"
        case structuralL2Scale = "structural_l2_scale"
        case ownModelWeight = "own_model_weight"
        case heldOut = "held_out"
    }
}

/// The held-out summary kept in the model file.
public struct EvaluationSummary: Sendable, Hashable, Codable {
    public var requests: Int
    public var router: RouterMetrics
    public var random: RouterMetrics
    public var oracle: RouterMetrics
    public var aucByTask: [String: Double]
    public var smallOnlyQuality: Double
    public var frontierOnlyQuality: Double
    /// The held-out quality-vs-cost curve (every threshold) with its Pareto front: where policies take their
    /// threshold from (`DifficultyClassifier.operatingPoint(for:)`).
    public var curve: RoutingCurve?

    enum CodingKeys: String, CodingKey {
        case requests, router, random, oracle
        case aucByTask = "auc_by_task"
        case smallOnlyQuality = "small_only_quality"
        case frontierOnlyQuality = "frontier_only_quality"
        case curve
    }

    public init(_ evaluation: RoutingEvaluation) {
        requests = evaluation.requests
        router = evaluation.router
        random = evaluation.random
        oracle = evaluation.oracle
        aucByTask = Dictionary(uniqueKeysWithValues: evaluation.groups.compactMap { g in g.router.auc.map { (g.group, $0) } })
        smallOnlyQuality = evaluation.curve.smallOnly.meanQuality
        frontierOnlyQuality = evaluation.curve.frontierOnly.meanQuality
        curve = evaluation.curve
    }
}

/// Trains a `DifficultyClassifier` from routing rows: held-out split, validation split for the L2 strength,
/// final fit on the whole training side, held-out evaluation. Deterministic for a seed.
public struct DifficultyClassifierTrainer: Sendable {
    public struct Configuration: Sendable, Hashable {
        public var smallModel: String
        public var largeModel: String
        public var seed: UInt64
        public var heldOutFraction: Double
        public var validationFraction: Double
        public var form: DifficultyClassifier.Form
        public var featureSpec: DifficultyFeatureSpec
        public var l2Grid: [Double]
        public var iterations: Int
        public var learningRate: Double
        /// Scale of the L2 penalty on the structural features relative to the hashed n-grams.
        public var structuralL2Scale: Double
        /// `.correctness`: weight of the pair's own model among its tier peers (1 = one peer among others).
        public var ownModelWeight: Double

        public init(
            smallModel: String = "Phi-3.5-mini-instruct", largeModel: String = "gpt-4o-2024-05-13", seed: UInt64 = 42,
            heldOutFraction: Double = 0.3, validationFraction: Double = 0.25, form: DifficultyClassifier.Form = .correctness,
            featureSpec: DifficultyFeatureSpec = DifficultyFeatureSpec(),
            l2Grid: [Double] = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1], iterations: Int = 300, learningRate: Double = 0.05,
            structuralL2Scale: Double = 1, ownModelWeight: Double = 1
        ) {
            self.structuralL2Scale = structuralL2Scale
            self.ownModelWeight = ownModelWeight
            self.smallModel = smallModel
            self.largeModel = largeModel
            self.seed = seed
            self.heldOutFraction = heldOutFraction
            self.validationFraction = validationFraction
            self.form = form
            self.featureSpec = featureSpec
            self.l2Grid = l2Grid
            self.iterations = iterations
            self.learningRate = learningRate
        }
    }

    public struct Result: Sendable {
        public var classifier: DifficultyClassifier
        public var heldOutEvaluation: RoutingEvaluation?
        public var heldOutRows: [RoutingDataRow]
    }

    public var configuration: Configuration

    public init(configuration: Configuration) {
        self.configuration = configuration
    }

    public var heldOutSplit: HeldOutSplit { HeldOutSplit(seed: configuration.seed, fraction: configuration.heldOutFraction) }
    public var validationSplit: HeldOutSplit {
        HeldOutSplit(seed: configuration.seed, fraction: configuration.validationFraction, salt: "validation")
    }

    /// Trains; `progress` receives one line per step (for a terminal).
    public func train(
        rows: [RoutingDataRow], dataFile: String? = nil, dataSHA256: String? = nil, progress: (String) -> Void = { _ in }
    ) throws(DifficultyClassifierError) -> Result {
        let c = configuration
        if let problem = c.featureSpec.problem { throw .invalidArgument("feature spec: \(problem)") }
        guard (0..<1).contains(c.heldOutFraction) else {
            throw .invalidArgument("--holdout: expected a fraction in [0, 1), found \(c.heldOutFraction)")
        }
        guard !c.l2Grid.isEmpty else { throw .invalidArgument("l2 grid is empty") }
        let pairRows = rows.filter { $0.outcome(of: c.smallModel) != nil && $0.outcome(of: c.largeModel) != nil }
        guard !pairRows.isEmpty else {
            throw .invalidData("no row has outcomes for both '\(c.smallModel)' and '\(c.largeModel)'")
        }
        var extractor = DifficultyFeatureExtractor(spec: c.featureSpec)
        let features = pairRows.map { extractor.features(of: $0.input) }
        let heldOut = pairRows.map { heldOutSplit.contains($0.input) }
        let validation = pairRows.map { validationSplit.contains($0.input) }
        let trainSide = pairRows.indices.filter { !heldOut[$0] }
        let fitPart = trainSide.filter { !validation[$0] }
        let validationPart = trainSide.filter { validation[$0] }
        progress(
            "pairs \(pairRows.count) of \(rows.count) rows: train \(trainSide.count) (fit \(fitPart.count), validation \(validationPart.count)), held out \(heldOut.filter { $0 }.count)"
        )
        guard !fitPart.isEmpty else { throw .invalidData("no training rows left after the held-out split") }

        var validationAPGR: [Double] = []
        var bestL2 = c.l2Grid[0]
        if validationPart.isEmpty || c.l2Grid.count == 1 {
            validationAPGR = c.l2Grid.map { _ in .nan }
        } else {
            var best = -Double.infinity
            for l2 in c.l2Grid {
                let model = fit(rows: pairRows, features: features, indices: fitPart, l2: l2) { _ in }
                let outcomes = validationPart.compactMap { outcome(model, row: pairRows[$0], features: features[$0]) }
                let apgr = RouterMetrics.apgr(RoutingCurve(outcomes: outcomes))
                progress("l2 \(l2): validation APGR \(Self.format(apgr))")
                validationAPGR.append(apgr)
                if apgr > best + 1e-9 {
                    best = apgr
                    bestL2 = l2
                }
            }
        }
        progress("final fit on \(trainSide.count) rows, l2 \(bestL2)")
        var classifier = fit(rows: pairRows, features: features, indices: trainSide, l2: bestL2, progress: progress)
        let heldOutIndices = pairRows.indices.filter { heldOut[$0] }
        let evaluation = heldOutIndices.isEmpty
            ? nil
            : RoutingEvaluation(outcomes: heldOutIndices.compactMap { outcome(classifier, row: pairRows[$0], features: features[$0]) })
        classifier.metadata = TrainingMetadata(
            dataFile: dataFile, dataSHA256: dataSHA256, rows: rows.count, pairRows: pairRows.count,
            trainRows: trainSide.count, validationRows: validationPart.count, heldOutRows: heldOutIndices.count,
            smallModel: c.smallModel, largeModel: c.largeModel, seed: c.seed, heldOutFraction: c.heldOutFraction,
            heldOutRule: heldOutSplit.rule, validationRule: "of the rest, " + validationSplit.rule, form: c.form,
            l2Grid: c.l2Grid, validationAPGR: validationAPGR.map { $0.isNaN ? 0 : $0 }, l2: bestL2,
            iterations: c.iterations, learningRate: c.learningRate, structuralL2Scale: c.structuralL2Scale,
            ownModelWeight: c.ownModelWeight, heldOut: evaluation.map(EvaluationSummary.init))
        return Result(classifier: classifier, heldOutEvaluation: evaluation, heldOutRows: heldOutIndices.map { pairRows[$0] })
    }

    /// Rows reaching here have both models (filtered in `train`), so this is never nil there.
    func outcome(_ model: DifficultyClassifier, row: RoutingDataRow, features: SparseFeatureVector) -> RoutedOutcome? {
        Self.outcome(score: model.score(features: features), row: row, small: configuration.smallModel, large: configuration.largeModel)
    }

    /// The evaluation record of one row for a pair, or nil when the row lacks either model.
    public static func outcome(score: Double, row: RoutingDataRow, small: String, large: String) -> RoutedOutcome? {
        guard let s = row.outcome(of: small), let l = row.outcome(of: large) else { return nil }
        return RoutedOutcome(
            score: score, smallQuality: s.quality, largeQuality: l.quality, smallCostUSD: s.costUSD ?? 0,
            largeCostUSD: l.costUSD ?? 0, smallAnswerParsed: s.answerParsed, group: row.sourceDataset)
    }

    private func fit(
        rows: [RoutingDataRow], features: [SparseFeatureVector], indices: [Int], l2: Double, progress: (String) -> Void
    ) -> DifficultyClassifier {
        let c = configuration
        let trainer = LogisticRegressionTrainer(
            l2: l2, iterations: c.iterations, learningRate: c.learningRate,
            structuralStart: c.featureSpec.hashDimension, structuralL2Scale: c.structuralL2Scale)
        let dimension = c.featureSpec.dimension
        switch c.form {
        case .direct:
            let samples = indices.map { i -> LogisticSample in
                let row = rows[i]
                let asGood = (row.outcome(of: c.smallModel)?.quality ?? 0) >= (row.outcome(of: c.largeModel)?.quality ?? 0)
                return LogisticSample(features: features[i], target: asGood ? 1 : 0)
            }
            let head = trainer.fit(samples, dimension: dimension) { progress("  as_good iteration \($0) loss \(Self.format($1))") }
            return DifficultyClassifier(spec: c.featureSpec, form: .direct, heads: [head])
        case .correctness:
            let heads = [c.smallModel, c.largeModel].map { model -> DifficultyClassifier.Head in
                let samples = indices.map { i -> LogisticSample in
                    let row = rows[i]
                    let tier = row.outcome(of: model)?.tier
                    let peers = tier == nil ? row.models.filter { $0.model == model } : row.models.filter { $0.tier == tier }
                    var total = 0.0
                    var weight = 0.0
                    for peer in peers {
                        let w = peer.model == model ? c.ownModelWeight : 1
                        total += w * peer.quality
                        weight += w
                    }
                    let mean = weight > 0 ? total / weight : 0
                    return LogisticSample(features: features[i], target: mean, weight: max(Double(peers.count), 1))
                }
                return trainer.fit(samples, dimension: dimension) { progress("  \(model) iteration \($0) loss \(Self.format($1))") }
            }
            return DifficultyClassifier(spec: c.featureSpec, form: .correctness, heads: heads)
        }
    }

    static func format(_ x: Double) -> String {
        let scaled = (x * 10_000).rounded() / 10_000
        return "\(scaled)"
    }
}
