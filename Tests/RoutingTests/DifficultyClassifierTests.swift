import Foundation
import Testing

@testable import Routing

let smallSpec = DifficultyFeatureSpec(hashBits: 12, maxWordNGram: 2)

func structural(_ v: SparseFeatureVector, _ spec: DifficultyFeatureSpec, _ f: StructuralFeature) -> Float {
    let index = Int32(spec.hashDimension + f.rawValue)
    return v.indices.firstIndex(of: index).map { v.values[$0] } ?? 0
}

@Test func hashedPartIsL2NormalisedAndIndicesIncrease() {
    var extractor = DifficultyFeatureExtractor(spec: smallSpec)
    let v = extractor.features(of: ClassifierInput(prompt: "What is 2 + 2? Then add 3, then add 3 again."))
    #expect(zip(v.indices, v.indices.dropFirst()).allSatisfy { $0 < $1 })
    let hashed = zip(v.indices, v.values).filter { Int($0.0) < smallSpec.hashDimension }.map(\.1)
    #expect(abs(hashed.reduce(0) { $0 + $1 * $1 } - 1) < 1e-5)
    #expect(v.indices.count - hashed.count == smallSpec.structuralCount)
}

@Test func featuresIgnoreAsciiCaseAndRepeatDeterministically() {
    var a = DifficultyFeatureExtractor(spec: smallSpec)
    var b = DifficultyFeatureExtractor(spec: smallSpec)
    let x = a.features(of: ClassifierInput(prompt: "Solve THE equation"))
    #expect(x == b.features(of: ClassifierInput(prompt: "solve the equation")))
    #expect(x == a.features(of: ClassifierInput(prompt: "Solve THE equation")))  // scratch reuse is clean
}

@Test func unigramsAndBigramsAreCounted() {
    let uni = DifficultyFeatureSpec(hashBits: 16, maxWordNGram: 1)
    let bi = DifficultyFeatureSpec(hashBits: 16, maxWordNGram: 2)
    var u = DifficultyFeatureExtractor(spec: uni)
    var b = DifficultyFeatureExtractor(spec: bi)
    let input = ClassifierInput(prompt: "red fish blue fish")
    // 3 distinct unigrams; plus 3 distinct bigrams (barring hash collisions in 2^16).
    #expect(u.features(of: input).indices.count == 3 + uni.structuralCount)
    #expect(b.features(of: input).indices.count == 6 + bi.structuralCount)
}

@Test func structuralFeaturesSeeNumbersCodeMathOptionsAndHistory() {
    var e = DifficultyFeatureExtractor(spec: smallSpec)
    let mcq = e.features(of: ClassifierInput(prompt: "Which is largest?\nA) 1\nB) 22\n(C) 333\nD. 4444", history: ["hi"]))
    #expect(structural(mcq, smallSpec, .options) == 1)
    #expect(structural(mcq, smallSpec, .longestNumber) > 0)
    #expect(structural(mcq, smallSpec, .historyTurns) > 0)
    #expect(structural(mcq, smallSpec, .questionMarks) > 0)
    #expect(structural(mcq, smallSpec, .one) == 1)
    let code = e.features(of: ClassifierInput(prompt: "def f(x):\n    return x == 1;"))
    #expect(structural(code, smallSpec, .codeMarkers) > structural(mcq, smallSpec, .codeMarkers))
    let math = e.features(of: ClassifierInput(prompt: "Find $x$ if \\frac{x^2}{3} = 12"))
    #expect(structural(math, smallSpec, .mathMarkup) > 0)
    #expect(structural(math, smallSpec, .operatorRatio) > 0)
    let plain = e.features(of: ClassifierInput(prompt: "hello there"))
    #expect(structural(plain, smallSpec, .mathMarkup) == 0)
    #expect(structural(plain, smallSpec, .digitRatio) == 0)
}

@Test func longPromptsGrowTheScratchTable() {
    var e = DifficultyFeatureExtractor(spec: DifficultyFeatureSpec(hashBits: 18))
    let words = (0..<5000).map { "w\($0)" }.joined(separator: " ")
    let v = e.features(of: ClassifierInput(prompt: words))
    #expect(v.indices.count > 9000)
}

// MARK: - Split and hashing

@Test func heldOutSplitNormalisesCaseAndWhitespaceAndDependsOnSeed() {
    let split = HeldOutSplit(seed: 7, fraction: 0.3)
    let a = ClassifierInput(prompt: "  How many   apples\n are left? ")
    let b = ClassifierInput(prompt: "how many apples are LEFT?")
    #expect(split.unitValue(a) == split.unitValue(b))
    #expect(HeldOutSplit(seed: 8, fraction: 0.3).unitValue(a) != split.unitValue(a))
    let inputs = (0..<2000).map { ClassifierInput(prompt: "question \($0)") }
    let share = Double(inputs.filter(split.contains).count) / 2000
    #expect(share > 0.25 && share < 0.35)
}

@Test func sha256MatchesKnownVectors() {
    #expect(SHA256Digest.hex(of: Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    #expect(SHA256Digest.hex(of: [UInt8]()) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    #expect(SHA256Digest.hex(of: Array(String(repeating: "a", count: 1000).utf8)) == "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3")
}

// MARK: - Data

@Test func jsonlRowsParseAndErrorsNameTheLine() throws {
    let good = """
        {"id":"x/1","source_dataset":"x","prompt":"p","history":["h"],"models":[{"model":"s","tier":"small","quality":1,"cost_usd":0.1,"answer_parsed":true}]}

        {"id":"x/2","prompt":"q","models":[]}
        """
    let rows = try RoutingDataRow.rows(fromJSONL: Data(good.utf8))
    #expect(rows.count == 2)
    #expect(rows[0].input == ClassifierInput(prompt: "p", history: ["h"]))
    #expect(rows[0].outcome(of: "s")?.answerParsed == true)
    #expect(rows[1].history.isEmpty)
    #expect(throws: DifficultyClassifierError.invalidData("line 2: missing key 'prompt'")) {
        try RoutingDataRow.rows(fromJSONL: Data("{\"id\":\"a\",\"prompt\":\"p\"}\n{\"id\":\"b\"}".utf8))
    }
}

// MARK: - Training and model files

/// Synthetic data where the small model fails on prompts mentioning "integral" and both succeed otherwise.
func syntheticRows(_ n: Int) -> [RoutingDataRow] {
    (0..<n).map { i in
        let hard = i % 3 == 0
        let prompt = hard ? "Compute the integral number \(i) of x^\(i % 7) dx" : "What colour is item \(i) in the list?"
        return RoutingDataRow(
            id: "syn/\(i)", sourceDataset: hard ? "calc" : "chat", prompt: prompt,
            models: [
                .init(model: "small", tier: "small", quality: hard ? 0 : 1, answerParsed: !hard || i % 2 == 0, costUSD: 0.001),
                .init(model: "other-small", tier: "small", quality: hard ? 0 : 1, costUSD: 0.001),
                .init(model: "large", tier: "large", quality: 1, costUSD: 0.01),
            ])
    }
}

func tinyTrainer(seed: UInt64 = 1, form: DifficultyClassifier.Form = .correctness) -> DifficultyClassifierTrainer {
    DifficultyClassifierTrainer(
        configuration: .init(
            smallModel: "small", largeModel: "large", seed: seed, heldOutFraction: 0.3, form: form,
            featureSpec: smallSpec, l2Grid: [1e-3, 1e-2], iterations: 60))
}

@Test(arguments: [DifficultyClassifier.Form.correctness, .direct])
func trainingIsDeterministicForASeedAndLearnsTheSignal(form: DifficultyClassifier.Form) throws {
    let rows = syntheticRows(240)
    let a = try tinyTrainer(form: form).train(rows: rows)
    let b = try tinyTrainer(form: form).train(rows: rows)
    #expect(try a.classifier.jsonData() == b.classifier.jsonData())
    let other = try tinyTrainer(seed: 2, form: form).train(rows: rows)
    #expect(other.heldOutRows.map(\.id) != a.heldOutRows.map(\.id))
    let evaluation = try #require(a.heldOutEvaluation)
    #expect((evaluation.router.auc ?? 0) > 0.95)
    #expect(abs(evaluation.router.apgr - evaluation.oracle.apgr) < 0.05)
    let meta = try #require(a.classifier.metadata)
    #expect(meta.pairRows == 240)
    #expect(meta.heldOutRows == a.heldOutRows.count)
    #expect(meta.trainRows + meta.heldOutRows == 240)
    #expect(meta.validationAPGR.count == 2)
}

@Test func trainingWithoutThePairFailsWithAMessage() {
    #expect(throws: DifficultyClassifierError.invalidData("no row has outcomes for both 'small' and 'gpt-x'")) {
        var t = tinyTrainer()
        t.configuration.largeModel = "gpt-x"
        _ = try t.train(rows: syntheticRows(10))
    }
}

@Test func modelFileRoundTripKeepsScores() throws {
    let trained = try tinyTrainer().train(rows: syntheticRows(120)).classifier
    let loaded = try DifficultyClassifier(jsonData: trained.jsonData())
    #expect(loaded.metadata == trained.metadata)
    for row in syntheticRows(12) {
        #expect(abs(loaded.score(row.input) - trained.score(row.input)) < 1e-6)
    }
    #expect(try loaded.jsonData() == trained.jsonData())
}

@Test func invalidModelFilesAreRejectedWithTheKey() throws {
    let trained = try tinyTrainer().train(rows: syntheticRows(60)).classifier
    var object = try #require(JSONSerialization.jsonObject(with: trained.jsonData()) as? [String: Any])
    object["format_version"] = 99
    #expect(throws: DifficultyClassifierError.invalidModel("format_version: expected 1, found 99")) {
        try DifficultyClassifier(jsonData: JSONSerialization.data(withJSONObject: object))
    }
    object["format_version"] = 1
    object["form"] = "direct"
    #expect(throws: DifficultyClassifierError.self) {
        try DifficultyClassifier(jsonData: JSONSerialization.data(withJSONObject: object))
    }
    #expect(throws: DifficultyClassifierError.self) { try DifficultyClassifier(jsonData: Data("{}".utf8)) }
}

// MARK: - The shipped model

let shippedModelURL = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("policies/classifier/default.json")

@Test func shippedClassifierLoadsAndScoresPromptsInTheUnitInterval() throws {
    let classifier = try DifficultyClassifier(jsonData: Data(contentsOf: shippedModelURL))
    let meta = try #require(classifier.metadata)
    #expect(meta.smallModel == "Phi-3.5-mini-instruct")
    #expect(meta.heldOut != nil)
    let op = try #require(classifier.operatingPoint(for: .quality(0.95)))
    #expect(op.isTargetMet)
    #expect(op.point.threshold > 0 && op.point.threshold < 1)
    #expect(op.qualityShareOfFrontier >= 0.95)
    for prompt in ["What is 2 + 2?", "Prove that there are infinitely many primes p with p ≡ 1 (mod 4).", ""] {
        let score = classifier.score(ClassifierInput(prompt: prompt))
        #expect(score >= 0 && score <= 1)
    }
}

// MARK: - Training driver (not a test of behaviour; run with PHIGATE_TRAIN_DATA=…/routing_train.jsonl)

@Test(.enabled(if: ProcessInfo.processInfo.environment["PHIGATE_TRAIN_DATA"] != nil))
func trainOnSharedData() throws {
    let env = ProcessInfo.processInfo.environment
    let path = try #require(env["PHIGATE_TRAIN_DATA"])
    let rows = try RoutingDataRow.rows(fromJSONL: Data(contentsOf: URL(fileURLWithPath: path)))
    let form = DifficultyClassifier.Form(rawValue: env["PHIGATE_FORM"] ?? "correctness") ?? .correctness
    let bits = Int(env["PHIGATE_BITS"] ?? "18") ?? 18
    let ngram = Int(env["PHIGATE_NGRAM"] ?? "2") ?? 2
    let trainer = DifficultyClassifierTrainer(
        configuration: .init(
            form: form, featureSpec: DifficultyFeatureSpec(hashBits: bits, maxWordNGram: ngram),
            l2Grid: env["PHIGATE_L2GRID"].map { $0.split(separator: ",").compactMap { Double($0) } } ?? [1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1, 1, 3],
            target: DifficultyClassifierTrainer.Target(rawValue: env["PHIGATE_TARGET"] ?? "item_response") ?? .itemResponse))
    let result = try trainer.train(rows: rows) { print($0) }
    let e = try #require(result.heldOutEvaluation)
    print("APGR \(e.router.apgr) CPT50 \(e.router.cpt50 ?? -1) CPT80 \(e.router.cpt80 ?? -1) AUC \(e.router.auc ?? -1)")
    for g in e.groups { print(g.group, g.requests, g.router.auc ?? -1, g.router.apgr) }
    let op = e.curve.operatingPoint(for: .quality(0.95))
    print("95%: cost share \(op.costShareOfFrontier) frontier \(op.point.frontierShare)")
    if let out = env["PHIGATE_MODEL_OUT"] { try result.classifier.jsonData().write(to: URL(fileURLWithPath: out)) }
}

@Test func fastPathScoreMatchesTheSparseVectorScore() throws {
    let trained = try tinyTrainer().train(rows: syntheticRows(90)).classifier
    var extractor = DifficultyFeatureExtractor(spec: trained.spec)
    for row in syntheticRows(20) + [RoutingDataRow(id: "h", prompt: "and then?", history: ["first turn", "second"], models: [])] {
        let slow = trained.score(features: extractor.features(of: row.input))
        #expect(abs(trained.score(row.input, using: &extractor) - slow) < 1e-5)
    }
}

@Test func itemResponseFitRecoversAbilityOrderAndDifficultySlope() {
    // Two models (strong, weak), difficulty rising with feature 0; the weak model fails earlier.
    var samples: [ItemResponseSample] = []
    for k in 0..<200 {
        let x = Float(k % 20) / 20
        let d = -2 + 6 * Double(x)
        let strong = d < 1.5 ? 1.0 : 0.0
        let weak = d < -0.5 ? 1.0 : 0.0
        samples.append(ItemResponseSample(
            features: SparseFeatureVector(indices: [0], values: [x]), responses: [(0, strong), (1, weak)]))
    }
    let trainer = LogisticRegressionTrainer(l2: 1e-4, iterations: 400, learningRate: 0.05)
    let fitted = trainer.fitItemResponse(samples, models: 2, dimension: 4)
    #expect(fitted.abilities[0] > fitted.abilities[1] + 1)
    #expect(fitted.difficulty.weights[0] > 1)
    let weakHead = LogisticRegressionTrainer.head(difficulty: fitted.difficulty, ability: fitted.abilities[1])
    #expect(weakHead.probability(SparseFeatureVector(indices: [0], values: [0])) > 0.8)
    #expect(weakHead.probability(SparseFeatureVector(indices: [0], values: [0.9])) < 0.2)
}

@Test func itemResponseTargetRecordsAbilitiesAndRoundTrips() throws {
    var trainer = tinyTrainer()
    trainer.configuration.target = .itemResponse
    let trained = try trainer.train(rows: syntheticRows(90)).classifier
    #expect(trained.metadata?.target == .itemResponse)
    #expect(trained.metadata?.abilities?["small"]?["small"] != nil)
    let reloaded = try DifficultyClassifier(jsonData: trained.jsonData())
    #expect(reloaded.metadata?.target == .itemResponse)
    let input = ClassifierInput(prompt: "What is 12 times 7, then minus 3?")
    #expect(abs(reloaded.score(input) - trained.score(input)) < 1e-4)
}
