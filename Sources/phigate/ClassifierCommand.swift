import ArgumentParser
import Foundation
import Routing

/// `phigate classifier …`: train, score, evaluate and benchmark the difficulty classifier.
struct ClassifierCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "classifier",
        abstract: "Train, score, evaluate and benchmark the small-vs-frontier difficulty classifier.",
        subcommands: [Train.self, Score.self, Eval.self, Bench.self]
    )

    static let defaultModelPath = "policies/classifier/default.json"

    struct PairOptions: ParsableArguments {
        @Option(help: "The small (local) model's name in the data.")
        var small = "Phi-3.5-mini-instruct"

        @Option(help: "The large (frontier) model's name in the data.")
        var large = "gpt-4o-2024-05-13"
    }

    /// `phigate classifier train`
    struct Train: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "train",
            abstract: "Train a classifier on a routing JSONL file and write the model file.",
            discussion: """
                Uses the rows that have outcomes for both --small and --large. A seeded hash of each normalised \
                prompt holds out --holdout of them (never used for fitting or tuning); a second seeded hash picks \
                a validation part of the rest, on which the L2 strength is chosen by APGR. Progress goes to \
                standard error. The same data and seed give the same file.
                """
        )

        @Option(help: "Routing JSONL file (see shared/data/routing/SOURCE.md).")
        var data: String

        @OptionGroup var pair: PairOptions

        @Option(help: "Seed of the held-out and validation splits.")
        var seed: UInt64 = 42

        @Option(help: "Share of prompts held out for evaluation.")
        var holdout = 0.3

        @Option(help: "Model form: correctness (two heads, tier outcomes) or direct (one head, small ≥ large).")
        var form = "correctness"

        @Option(help: "Adam iterations per fit.")
        var iterations = 300

        @Option(help: "log2 of the hashed n-gram buckets.")
        var hashBits = 18

        @Option(help: "Longest word n-gram (1–3).")
        var ngram = 2

        @Option(help: "Structural feature list: 2 (features plus their products with the prompt-kind guess) or 1.")
        var structuralVersion = StructuralFeature.version

        @Flag(help: "Fit on the raw structural features instead of standardised ones.")
        var rawStructural = false

        @Option(help: "L2 penalty on the structural features relative to the n-grams.")
        var structuralL2Scale = 100.0

        @Option(help: "Form correctness: weight of --small/--large among the other models of their tier.")
        var ownModelWeight = 1.0

        @Option(help: "Form correctness: head target, item_response (Rasch fit over the tier's models) or tier_mean (mean tier quality).")
        var target = DifficultyClassifierTrainer.Target.itemResponse.rawValue

        @Option(help: "Output model file.")
        var out: String

        func validate() throws {
            guard DifficultyClassifier.Form(rawValue: form) != nil else {
                throw ValidationError("--form: expected correctness or direct, found '\(form)'")
            }
            guard DifficultyClassifierTrainer.Target(rawValue: target) != nil else {
                throw ValidationError("--target: expected item_response or tier_mean, found '\(target)'")
            }
            guard (0..<1).contains(holdout) else { throw ValidationError("--holdout: expected a fraction in [0, 1)") }
        }

        func run() async throws {
            let bytes = try readFile(data)
            let rows = try RoutingDataRow.rows(fromJSONL: bytes)
            printToStandardError("read \(rows.count) rows from \(data)")
            let trainer = DifficultyClassifierTrainer(
                configuration: .init(
                    smallModel: pair.small, largeModel: pair.large, seed: seed, heldOutFraction: holdout,
                    form: DifficultyClassifier.Form(rawValue: form) ?? .correctness,
                    featureSpec: DifficultyFeatureSpec(hashBits: hashBits, maxWordNGram: ngram, structuralVersion: structuralVersion),
                    iterations: iterations, structuralL2Scale: structuralL2Scale, ownModelWeight: ownModelWeight,
                    standardizeStructural: !rawStructural,
                    target: DifficultyClassifierTrainer.Target(rawValue: target) ?? .itemResponse))
            let result = try trainer.train(rows: rows, dataFile: (data as NSString).lastPathComponent, dataSHA256: SHA256Digest.hex(of: bytes)) {
                printToStandardError($0)
            }
            let file = try result.classifier.jsonData()
            try writeFile(file, to: out)
            printToStandardError("wrote \(out) (\(file.count / 1024) KiB)")
            if let evaluation = result.heldOutEvaluation {
                print("held-out evaluation (\(evaluation.requests) requests, \(pair.small) vs \(pair.large)):")
                print(EvalReport.summaryTable(evaluation))
            }
        }
    }

    /// `phigate classifier score`
    struct Score: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "score",
            abstract: "Write id,score for every row of a routing JSONL file.",
            discussion: "The score is the probability that the small model's answer is as good as the frontier's. Only prompt and history are read."
        )

        @Option(help: "Model file.")
        var model = ClassifierCommand.defaultModelPath

        @Option(help: "Routing JSONL file.")
        var data: String

        @Option(help: "Output CSV file.")
        var out: String

        func run() async throws {
            let classifier = try DifficultyClassifier(jsonData: readFile(model))
            let inputs = try LiveRequestRow.rows(fromJSONL: readFile(data))
            var extractor = DifficultyFeatureExtractor(spec: classifier.spec)
            var csv = "id,score\n"
            for row in inputs {
                let score = classifier.score(row.input, using: &extractor)
                csv += "\(csvField(row.id)),\(String(format: "%.6f", score))\n"
            }
            try writeFile(Data(csv.utf8), to: out)
            printToStandardError("scored \(inputs.count) rows into \(out)")
        }
    }

    /// `phigate classifier eval`
    struct Eval: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "eval",
            abstract: "Evaluate a classifier: threshold sweep, Pareto front, AUC, APGR, CPT, baselines, cascade.",
            discussion: """
                Rows need outcomes for both --small and --large. Costs come from the rows' cost_usd. \
                --held-out-only keeps only the prompts the model's own training held out (same seed and rule), \
                which is how to evaluate on the training file without touching what it was fitted on.
                """
        )

        @Option(help: "Model file.")
        var model = ClassifierCommand.defaultModelPath

        @Option(help: "Routing JSONL file.")
        var data: String

        @OptionGroup var pair: PairOptions

        @Flag(help: "Evaluate only the prompts held out by the model's training split.")
        var heldOutOnly = false

        @Option(help: "Write the full threshold sweep as CSV.")
        var csv: String?

        @Option(help: "Write the evaluation (curves, metrics, operating points) as JSON.")
        var json: String?

        func run() async throws {
            let classifier = try DifficultyClassifier(jsonData: readFile(model))
            var rows = try RoutingDataRow.rows(fromJSONL: readFile(data))
            if heldOutOnly {
                guard let meta = classifier.metadata else {
                    throw ValidationError("--held-out-only: \(model) has no training metadata")
                }
                let split = HeldOutSplit(seed: meta.seed, fraction: meta.heldOutFraction)
                rows = rows.filter { split.contains($0.input) }
            }
            var extractor = DifficultyFeatureExtractor(spec: classifier.spec)
            let outcomes = rows.compactMap { row in
                DifficultyClassifierTrainer.outcome(
                    score: classifier.score(features: extractor.features(of: row.input)), row: row,
                    small: pair.small, large: pair.large)
            }
            guard !outcomes.isEmpty else {
                throw ValidationError("\(data): no row has outcomes for both '\(pair.small)' and '\(pair.large)'")
            }
            let evaluation = RoutingEvaluation(outcomes: outcomes)
            print("\(evaluation.requests) requests, \(pair.small) vs \(pair.large)\(heldOutOnly ? " (held-out part)" : "")")
            print(EvalReport.full(evaluation))
            if let csv {
                try writeFile(Data(EvalReport.sweepCSV(evaluation.curve).utf8), to: csv)
                printToStandardError("wrote \(csv)")
            }
            if let json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
                let report = EvalReport.JSONReport(
                    evaluation: evaluation,
                    operatingPoints: EvalReport.targets.map { evaluation.curve.operatingPoint(for: $0) })
                try writeFile(try encoder.encode(report), to: json)
                printToStandardError("wrote \(json)")
            }
        }
    }

    /// `phigate classifier bench`
    struct Bench: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "bench",
            abstract: "Measure µs per decision (feature extraction + scoring) for 1,000-token prompts on one core."
        )

        @Option(help: "Model file.")
        var model = ClassifierCommand.defaultModelPath

        @Option(help: "Decisions to time.")
        var iterations = 2000

        func run() async throws {
            let classifier = try DifficultyClassifier(jsonData: readFile(model))
            let prompts = BenchPrompts.make(count: 16)
            var extractor = DifficultyFeatureExtractor(spec: classifier.spec)
            var sink = 0.0
            for p in prompts { sink += classifier.score(p, using: &extractor) }
            let clock = ContinuousClock()
            let rounds = 10
            let perRound = max(iterations / rounds, 1)
            var samples: [Double] = []
            for _ in 0..<rounds {
                let elapsed = clock.measure {
                    for i in 0..<perRound {
                        sink += classifier.score(prompts[i % prompts.count], using: &extractor)
                    }
                }
                let micros = Double(elapsed.components.seconds) * 1e6 + Double(elapsed.components.attoseconds) / 1e12
                samples.append(micros / Double(perRound))
            }
            samples.sort()
            let bytes = prompts.reduce(0) { $0 + $1.prompt.utf8.count } / prompts.count
            print(String(format: "%.2f µs per decision (best of %d rounds; median %.2f µs) for ~1000-token prompts (≈ %d bytes), one thread; checksum %.1f",
                         samples[0], rounds, samples[rounds / 2], bytes, sink))
        }
    }
}

/// A row as a live request carries it: id, prompt, history. Nothing else is decoded.
struct LiveRequestRow: Decodable {
    var id: String
    var prompt: String
    var history: [String]?

    var input: ClassifierInput { ClassifierInput(prompt: prompt, history: history ?? []) }

    static func rows(fromJSONL data: Data) throws -> [LiveRequestRow] {
        let decoder = JSONDecoder()
        var rows: [LiveRequestRow] = []
        for (n, line) in data.split(separator: 0x0A, omittingEmptySubsequences: false).enumerated() {
            if line.allSatisfy({ $0 == 0x20 || $0 == 0x0D || $0 == 0x09 }) { continue }
            do {
                rows.append(try decoder.decode(LiveRequestRow.self, from: Data(line)))
            } catch {
                throw ValidationError("line \(n + 1): expected an object with string 'id' and 'prompt' (\(error))")
            }
        }
        return rows
    }
}

/// Text and CSV renderings of an evaluation.
enum EvalReport {
    static let targets: [OperatingTarget] = [.quality(0.95), .quality(0.90), .maxCostPer1kRequests(2.5), .lambda(0.05)]

    struct JSONReport: Encodable {
        var evaluation: RoutingEvaluation
        var operatingPoints: [OperatingPoint]

        enum CodingKeys: String, CodingKey {
            case evaluation
            case operatingPoints = "operating_points"
        }
    }

    static func pct(_ x: Double?) -> String { x.map { String(format: "%.1f%%", $0 * 100) } ?? "n/a" }
    static func num(_ x: Double?) -> String { x.map { String(format: "%.3f", $0) } ?? "n/a" }

    static func summaryTable(_ e: RoutingEvaluation) -> String {
        var lines = [
            "| router | APGR | CPT(50%) | CPT(80%) | AUC | cost at 95% of frontier quality |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for (name, metrics, cost) in [
            ("classifier", e.router, costShare(e.curve, 0.95)),
            ("random", e.random, randomCostShare(e, 0.95)),
            ("oracle", e.oracle, nil as Double?),
        ] {
            lines.append("| \(name) | \(num(metrics.apgr)) | \(pct(metrics.cpt50)) | \(pct(metrics.cpt80)) | \(num(metrics.auc)) | \(pct(cost)) |")
        }
        lines.append("")
        lines.append("| task | requests | small as good | AUC | APGR | CPT(50%) | CPT(80%) | oracle APGR |")
        lines.append("|---|---:|---:|---:|---:|---:|---:|---:|")
        for g in e.groups {
            lines.append(
                "| \(g.group) | \(g.requests) | \(pct(g.smallAsGoodShare)) | \(num(g.router.auc)) | \(num(g.router.apgr)) | \(pct(g.router.cpt50)) | \(pct(g.router.cpt80)) | \(num(g.oracle.apgr)) |")
        }
        return lines.joined(separator: "\n")
    }

    static func costShare(_ curve: RoutingCurve, _ quality: Double) -> Double? {
        let p = curve.operatingPoint(for: .quality(quality))
        return p.isTargetMet ? p.costShareOfFrontier : nil
    }

    static func randomCostShare(_ e: RoutingEvaluation, _ quality: Double) -> Double? {
        let small = e.curve.smallOnly
        let large = e.curve.frontierOnly
        let gap = large.meanQuality - small.meanQuality
        guard gap > 0, large.totalCostUSD > 0 else { return nil }
        let share = min(max((quality * large.meanQuality - small.meanQuality) / gap, 0), 1)
        return (small.totalCostUSD + share * (large.totalCostUSD - small.totalCostUSD)) / large.totalCostUSD
    }

    static func full(_ e: RoutingEvaluation) -> String {
        var out = [summaryTable(e), ""]
        let c = e.curve
        out.append(
            String(format: "small-only quality %.4f cost $%.4f; frontier-only quality %.4f cost $%.4f",
                   c.smallOnly.meanQuality, c.smallOnly.totalCostUSD, c.frontierOnly.meanQuality, c.frontierOnly.totalCostUSD))
        out.append("")
        out.append("sweep (every 5% of frontier calls; --csv has every threshold):")
        out.append("  threshold  frontier  mean quality  total cost  $/1k req  quality/frontier  cost/frontier")
        var next = 0.0
        for p in c.points where p.frontierShare >= next - 1e-9 {
            out.append(row(p, c))
            while next <= p.frontierShare + 1e-9 { next += 0.05 }
        }
        out.append("")
        out.append("Pareto front (\(c.paretoFront.count) points; every ~10th shown):")
        let step = max(c.paretoFront.count / 10, 1)
        for (k, p) in c.paretoFront.enumerated() where k % step == 0 || k == c.paretoFront.count - 1 {
            out.append(row(p, c))
        }
        out.append("")
        out.append("operating points:")
        for target in targets {
            let op = c.operatingPoint(for: target)
            out.append(
                "  \(target): threshold \(String(format: "%.4f", op.point.threshold)), frontier \(pct(op.point.frontierShare)), quality \(pct(op.qualityShareOfFrontier)) of frontier at \(pct(op.costShareOfFrontier)) of its cost\(op.isTargetMet ? "" : " (target not met)")")
        }
        if let cascade = e.cascade {
            out.append("")
            out.append("cascade (escalate when the local answer could not be parsed; \(pct(cascade.unparsedShare)) unparsed):")
            out.append("  APGR \(num(cascade.metrics.apgr)), CPT(50%) \(pct(cascade.metrics.cpt50)), CPT(80%) \(pct(cascade.metrics.cpt80)) (frontier calls include escalations)")
            let cc = cascade.curve
            out.append("  cascade only (threshold 0): " + row(cc.smallOnly, c).trimmingCharacters(in: .whitespaces))
            for target in [OperatingTarget.quality(0.95), .quality(0.90)] {
                let op = cc.operatingPoint(for: target)
                out.append(
                    "  classifier + cascade, \(target): frontier calls \(pct(op.point.frontierShare)), quality \(pct(op.qualityShareOfFrontier)) at \(pct(op.costShareOfFrontier)) of frontier-only cost\(op.isTargetMet ? "" : " (not met)")")
            }
        }
        return out.joined(separator: "\n")
    }

    static func row(_ p: RoutingCurvePoint, _ c: RoutingCurve) -> String {
        String(format: "  %9.4f  %7.1f%%  %12.4f  %10.4f  %8.4f  %15.1f%%  %12.1f%%",
               p.threshold, p.frontierShare * 100, p.meanQuality, p.totalCostUSD, p.costPer1kRequestsUSD,
               p.meanQuality / max(c.frontierOnly.meanQuality, 1e-12) * 100,
               p.totalCostUSD / max(c.frontierOnly.totalCostUSD, 1e-12) * 100)
    }

    static func sweepCSV(_ c: RoutingCurve) -> String {
        let front = Set(c.paretoFront)
        var s = "threshold,frontier_share,mean_quality,total_cost_usd,cost_per_1k_requests_usd,on_pareto_front\n"
        for p in c.points {
            s += "\(p.threshold),\(p.frontierShare),\(p.meanQuality),\(p.totalCostUSD),\(p.costPer1kRequestsUSD),\(front.contains(p))\n"
        }
        return s
    }
}

/// Synthetic ~1,000-token prompts (≈ 4,300 bytes of mixed prose, numbers, code and math) for the benchmark.
enum BenchPrompts {
    static func make(count: Int) -> [ClassifierInput] {
        let pieces = [
            "A store sells 48 apples on Monday and then twice as many on Tuesday. ",
            "How many apples remain if each crate holds 12 and 7 crates were returned? ",
            "def f(nums):\n    total = 0\n    for n in nums:\n        total += n * 2\n    return total\n",
            "Find all real $x$ such that \\frac{x^2-1}{x+3} \\le 7 and |x+1| > 2. ",
            "Explain the difference between mitosis and meiosis in plain words, step by step. ",
            "(A) 12 (B) 24 (C) 36 (D) 48\n",
        ]
        return (0..<count).map { k in
            var text = ""
            var i = k
            while text.utf8.count < 4300 {
                text += pieces[i % pieces.count]
                i += 1 + k % 3
            }
            return ClassifierInput(prompt: text)
        }
    }
}

func readFile(_ path: String) throws -> Data {
    do {
        return try Data(contentsOf: URL(fileURLWithPath: path))
    } catch {
        throw ValidationError("\(path): cannot read (\(error.localizedDescription))")
    }
}

func writeFile(_ data: Data, to path: String) throws {
    do {
        try data.write(to: URL(fileURLWithPath: path), options: .atomic)
    } catch {
        throw ValidationError("\(path): cannot write (\(error.localizedDescription))")
    }
}

func csvField(_ s: String) -> String {
    s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" }) ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
}
