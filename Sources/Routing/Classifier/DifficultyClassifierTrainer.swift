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
    /// Whether the structural features were standardised (mean 0, variance 1 on the fitted rows) while fitting;
    /// the stored weights are folded back to the raw features either way.
    public var standardizedStructural: Bool?
    /// Form `correctness`: what each head was fitted to (`tier_mean` when absent).
    public var target: DifficultyClassifierTrainer.Target?
    /// Target `item_response`: the fitted ability of every model, per head ("small", "large").
    public var abilities: [String: [String: Double]]?
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
        case standardizedStructural = "standardized_structural"
        case target, abilities
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
    /// Form `correctness`: what each tier's head is fitted to.
    public enum Target: String, Sendable, Hashable, Codable {
        /// Soft target = mean quality of the tier's models on the prompt, weighted by their number.
        case tierMean = "tier_mean"
        /// An item-response (Rasch) fit over the tier's models: P(model m good on prompt) = σ(θ_m − d(x)), one
        /// linear difficulty d per tier and one ability θ per model; the head is the pair's own model,
        /// σ(θ_own − d(x)).
        case itemResponse = "item_response"
    }

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
        /// Fit on standardised structural features (then fold the scaling into the weights), so that one L2
        /// strength treats every structural feature alike whatever its spread.
        public var standardizeStructural: Bool
        /// Choose the L2 strength by the mean validation APGR over all 1/validationFraction parts of the training
        /// side (part k: validation unit value in [k·f, (k+1)·f)) instead of the first part alone.
        public var crossValidate: Bool
        /// Form `correctness`: the heads' target.
        public var target: Target

        public init(
            smallModel: String = "Phi-3.5-mini-instruct", largeModel: String = "gpt-4o-2024-05-13", seed: UInt64 = 42,
            heldOutFraction: Double = 0.3, validationFraction: Double = 0.25, form: DifficultyClassifier.Form = .correctness,
            featureSpec: DifficultyFeatureSpec = DifficultyFeatureSpec(),
            l2Grid: [Double] = [1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1, 1, 3], iterations: Int = 300, learningRate: Double = 0.05,
            structuralL2Scale: Double = 100, ownModelWeight: Double = 1, standardizeStructural: Bool = true,
            crossValidate: Bool = true, target: Target = .itemResponse
        ) {
            self.target = target
            self.crossValidate = crossValidate
            self.standardizeStructural = standardizeStructural
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
        let validationUnit = pairRows.map { validationSplit.unitValue($0.input) }
        let validation = validationUnit.map { $0 < c.validationFraction }
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
            let folds = c.crossValidate && c.validationFraction > 0 ? max(Int((1 / c.validationFraction).rounded(.down)), 1) : 1
            let parts = (0..<folds).map { k -> (fit: [Int], validation: [Int]) in
                let low = Double(k) * c.validationFraction
                let high = k == folds - 1 && folds > 1 ? 1.0 : Double(k + 1) * c.validationFraction
                let inPart = { (i: Int) in validationUnit[i] >= low && validationUnit[i] < high }
                return (trainSide.filter { !inPart($0) }, trainSide.filter(inPart))
            }
            for l2 in c.l2Grid {
                var apgrs: [Double] = []
                for part in parts where !part.validation.isEmpty && !part.fit.isEmpty {
                    let model = fit(rows: pairRows, features: features, indices: part.fit, l2: l2) { _ in }.classifier
                    let outcomes = part.validation.compactMap { outcome(model, row: pairRows[$0], features: features[$0]) }
                    apgrs.append(RouterMetrics.apgr(RoutingCurve(outcomes: outcomes)))
                }
                let apgr = apgrs.isEmpty ? .nan : apgrs.reduce(0, +) / Double(apgrs.count)
                progress("l2 \(l2): validation APGR \(Self.format(apgr))\(folds > 1 ? " (mean of \(apgrs.count) parts)" : "")")
                validationAPGR.append(apgr)
                if apgr > best + 1e-9 {
                    best = apgr
                    bestL2 = l2
                }
            }
        }
        progress("final fit on \(trainSide.count) rows, l2 \(bestL2)")
        let final = fit(rows: pairRows, features: features, indices: trainSide, l2: bestL2, progress: progress)
        var classifier = final.classifier
        let heldOutIndices = pairRows.indices.filter { heldOut[$0] }
        let evaluation = heldOutIndices.isEmpty
            ? nil
            : RoutingEvaluation(outcomes: heldOutIndices.compactMap { outcome(classifier, row: pairRows[$0], features: features[$0]) })
        classifier.metadata = TrainingMetadata(
            dataFile: dataFile, dataSHA256: dataSHA256, rows: rows.count, pairRows: pairRows.count,
            trainRows: trainSide.count, validationRows: validationPart.count, heldOutRows: heldOutIndices.count,
            smallModel: c.smallModel, largeModel: c.largeModel, seed: c.seed, heldOutFraction: c.heldOutFraction,
            heldOutRule: heldOutSplit.rule, validationRule: c.crossValidate
                ? "of the rest, \(Int((1 / c.validationFraction).rounded(.down))) parts by v = mix64(fnv1a64(\"phigate-split:validation:\(c.seed):\" + normalized(history + prompt))) / 2^64, part k holding v in [k·\(c.validationFraction), (k+1)·\(c.validationFraction)); L2 chosen by the mean APGR over the parts"
                : "of the rest, " + validationSplit.rule,
            form: c.form,
            l2Grid: c.l2Grid, validationAPGR: validationAPGR.map { $0.isNaN ? 0 : $0 }, l2: bestL2,
            iterations: c.iterations, learningRate: c.learningRate, structuralL2Scale: c.structuralL2Scale,
            ownModelWeight: c.ownModelWeight, standardizedStructural: c.standardizeStructural,
            target: c.form == .correctness ? c.target : nil, abilities: final.abilities,
            heldOut: evaluation.map(EvaluationSummary.init))
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

    private typealias Fitted = (classifier: DifficultyClassifier, abilities: [String: [String: Double]]?)

    private func fit(
        rows: [RoutingDataRow], features: [SparseFeatureVector], indices: [Int], l2: Double, progress: (String) -> Void
    ) -> Fitted {
        guard configuration.standardizeStructural else {
            return fitRaw(rows: rows, features: features, indices: indices, l2: l2, progress: progress)
        }
        let scaling = StructuralScaling(features: indices.map { features[$0] }, spec: configuration.featureSpec)
        let standardized = features.map(scaling.apply)
        var model = fitRaw(rows: rows, features: standardized, indices: indices, l2: l2, progress: progress)
        model.classifier.heads = model.classifier.heads.map(scaling.fold)
        return model
    }

    private func fitRaw(
        rows: [RoutingDataRow], features: [SparseFeatureVector], indices: [Int], l2: Double, progress: (String) -> Void
    ) -> Fitted {
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
            return (DifficultyClassifier(spec: c.featureSpec, form: .direct, heads: [head]), nil)
        case .correctness where c.target == .itemResponse:
            var abilities: [String: [String: Double]] = [:]
            let heads = zip(["small", "large"], [c.smallModel, c.largeModel]).map { name, model -> DifficultyClassifier.Head in
                // The tier's models (by the pair model's tier on each row), in order of first appearance.
                var names: [String] = [model]
                var position: [String: Int] = [model: 0]
                let samples = indices.map { i -> ItemResponseSample in
                    let row = rows[i]
                    let tier = row.outcome(of: model)?.tier
                    let peers = tier == nil ? row.models.filter { $0.model == model } : row.models.filter { $0.tier == tier }
                    let responses = peers.map { peer -> (model: Int, quality: Double) in
                        if let k = position[peer.model] { return (k, peer.quality) }
                        position[peer.model] = names.count
                        names.append(peer.model)
                        return (names.count - 1, peer.quality)
                    }
                    return ItemResponseSample(features: features[i], responses: responses)
                }
                let fitted = trainer.fitItemResponse(samples, models: names.count, dimension: dimension) {
                    progress("  \(model) tier iteration \($0) loss \(Self.format($1))")
                }
                abilities[name] = Dictionary(uniqueKeysWithValues: zip(names, fitted.abilities.map { ($0 * 1e4).rounded() / 1e4 }))
                return LogisticRegressionTrainer.head(difficulty: fitted.difficulty, ability: fitted.abilities[0])
            }
            return (DifficultyClassifier(spec: c.featureSpec, form: .correctness, heads: heads), abilities)
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
            return (DifficultyClassifier(spec: c.featureSpec, form: .correctness, heads: heads), nil)
        }
    }

    static func format(_ x: Double) -> String {
        let scaled = (x * 10_000).rounded() / 10_000
        return "\(scaled)"
    }
}

/// Mean and standard deviation of each structural feature over a set of vectors: standardises vectors for
/// fitting, and folds a head fitted on standardised features back onto the raw ones
/// (w_raw = w / sd, bias_raw = bias − Σ w·mean / sd). Constant features are left as they are.
struct StructuralScaling: Sendable {
    let start: Int
    let mean: [Double]
    let sd: [Double]

    init(features: [SparseFeatureVector], spec: DifficultyFeatureSpec) {
        start = spec.hashDimension
        let count = spec.structuralCount
        var sum = [Double](repeating: 0, count: count)
        var sumSquares = [Double](repeating: 0, count: count)
        for x in features {
            for (i, v) in zip(x.indices, x.values) where Int(i) >= start && Int(i) < start + count {
                sum[Int(i) - start] += Double(v)
                sumSquares[Int(i) - start] += Double(v) * Double(v)
            }
        }
        let n = Double(max(features.count, 1))
        var mean = [Double](repeating: 0, count: count)
        var sd = [Double](repeating: 1, count: count)
        for k in 0..<count {
            let m = sum[k] / n
            let variance = sumSquares[k] / n - m * m
            if variance > 1e-12 {
                mean[k] = m
                sd[k] = variance.squareRoot()
            }
        }
        self.mean = mean
        self.sd = sd
    }

    /// The vector with its structural entries standardised. Every structural entry is present in extracted
    /// vectors (zeros included), so centring needs no new entries.
    func apply(_ x: SparseFeatureVector) -> SparseFeatureVector {
        var y = x
        for k in y.indices.indices {
            let i = Int(y.indices[k]) - start
            if i >= 0 && i < mean.count { y.values[k] = Float((Double(y.values[k]) - mean[i]) / sd[i]) }
        }
        return y
    }

    func fold(_ head: DifficultyClassifier.Head) -> DifficultyClassifier.Head {
        var weights = head.weights
        var bias = head.bias
        for k in mean.indices where start + k < weights.count {
            let w = Double(weights[start + k])
            weights[start + k] = Float(((w / sd[k]) * 1e5).rounded() / 1e5)
            bias -= w * mean[k] / sd[k]
        }
        return DifficultyClassifier.Head(bias: (bias * 1e6).rounded() / 1e6, weights: weights)
    }
}
