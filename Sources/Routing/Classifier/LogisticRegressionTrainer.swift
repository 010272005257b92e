import Foundation

/// One training example for a logistic head: a soft target in [0, 1] with a weight.
public struct LogisticSample: Sendable {
    public var features: SparseFeatureVector
    public var target: Double
    public var weight: Double

    public init(features: SparseFeatureVector, target: Double, weight: Double = 1) {
        self.features = features
        self.target = target
        self.weight = weight
    }
}

/// Full-batch Adam on the weighted mean log-loss plus (l2 / 2)·‖w‖² (bias not penalised).
///
/// No randomness: the same samples give the same weights. Only coordinates that occur in some sample are
/// optimised (the others stay zero, which is their optimum under L2).
public struct LogisticRegressionTrainer: Sendable {
    public var l2: Double
    public var iterations: Int
    public var learningRate: Double
    /// Coordinates from this index on (the structural features) get `l2 × structuralL2Scale`.
    public var structuralStart: Int
    public var structuralL2Scale: Double

    public init(
        l2: Double, iterations: Int = 300, learningRate: Double = 0.05, structuralStart: Int = .max,
        structuralL2Scale: Double = 1
    ) {
        self.l2 = l2
        self.iterations = iterations
        self.learningRate = learningRate
        self.structuralStart = structuralStart
        self.structuralL2Scale = structuralL2Scale
    }

    /// Trains a head over `dimension` features; `progress(iteration, loss)` is called every 25 iterations.
    public func fit(
        _ samples: [LogisticSample], dimension: Int, progress: (Int, Double) -> Void = { _, _ in }
    ) -> DifficultyClassifier.Head {
        // Compact the active coordinates.
        var compact = [Int32](repeating: -1, count: dimension)
        var active: [Int] = []
        var rows: [(indices: [Int32], values: [Double], target: Double, weight: Double)] = []
        rows.reserveCapacity(samples.count)
        for s in samples {
            var idx: [Int32] = []
            var val: [Double] = []
            idx.reserveCapacity(s.features.indices.count)
            val.reserveCapacity(s.features.indices.count)
            for (i, v) in zip(s.features.indices, s.features.values) where Int(i) < dimension && v != 0 {
                if compact[Int(i)] < 0 {
                    compact[Int(i)] = Int32(active.count)
                    active.append(Int(i))
                }
                idx.append(compact[Int(i)])
                val.append(Double(v))
            }
            rows.append((idx, val, min(max(s.target, 0), 1), s.weight))
        }
        let m = active.count
        let penalty = active.map { $0 >= structuralStart ? l2 * structuralL2Scale : l2 }
        let totalWeight = max(rows.reduce(0) { $0 + $1.weight }, 1e-12)
        var w = [Double](repeating: 0, count: m + 1)  // last = bias
        var g = [Double](repeating: 0, count: m + 1)
        var m1 = [Double](repeating: 0, count: m + 1)
        var m2 = [Double](repeating: 0, count: m + 1)
        let beta1 = 0.9
        let beta2 = 0.999
        for iteration in 1...max(iterations, 1) {
            for j in 0..<m { g[j] = penalty[j] * w[j] }
            g[m] = 0
            var loss = 0.0
            for row in rows {
                var z = w[m]
                for k in row.indices.indices { z += w[Int(row.indices[k])] * row.values[k] }
                let p = DifficultyClassifier.sigmoid(z)
                let pc = min(max(p, 1e-12), 1 - 1e-12)
                loss -= row.weight * (row.target * log(pc) + (1 - row.target) * log(1 - pc))
                let d = row.weight * (p - row.target) / totalWeight
                for k in row.indices.indices { g[Int(row.indices[k])] += d * row.values[k] }
                g[m] += d
            }
            let correction1 = 1 - pow(beta1, Double(iteration))
            let correction2 = 1 - pow(beta2, Double(iteration))
            for j in 0...m {
                m1[j] = beta1 * m1[j] + (1 - beta1) * g[j]
                m2[j] = beta2 * m2[j] + (1 - beta2) * g[j] * g[j]
                w[j] -= learningRate * (m1[j] / correction1) / ((m2[j] / correction2).squareRoot() + 1e-8)
            }
            if iteration % 25 == 0 || iteration == iterations {
                var regulariser = 0.0
                for j in 0..<m { regulariser += penalty[j] / 2 * w[j] * w[j] }
                progress(iteration, loss / totalWeight + regulariser)
            }
        }
        var weights = [Float](repeating: 0, count: dimension)
        for (j, i) in active.enumerated() { weights[i] = Float((w[j] * 1e5).rounded() / 1e5) }
        return DifficultyClassifier.Head(bias: (w[m] * 1e6).rounded() / 1e6, weights: weights)
    }
}

/// One prompt for an item-response fit: its features and the outcome of each model that answered it
/// (`model` indexes the fit's model list; quality in [0, 1]).
public struct ItemResponseSample: Sendable {
    public var features: SparseFeatureVector
    public var responses: [(model: Int, quality: Double)]

    public init(features: SparseFeatureVector, responses: [(model: Int, quality: Double)]) {
        self.features = features
        self.responses = responses
    }
}

extension LogisticRegressionTrainer {
    /// A Rasch-style (1-parameter item-response) fit: P(model m answers prompt i well) = σ(θ_m − d(xᵢ)) with a
    /// linear difficulty d(x) = w·x + b shared by every model and one ability θ_m per model, by full-batch Adam on
    /// the mean log-loss over all responses plus (l2 / 2)·‖w‖² (b and θ not penalised). Each prompt thus gets
    /// as many labels as models answered it, and models of different strength calibrate the same difficulty.
    ///
    /// Returns the difficulty (as a head: bias b, weights w) and the abilities; model m's head is
    /// σ(θ_m − b − w·x) (`head(for:)`).
    public func fitItemResponse(
        _ samples: [ItemResponseSample], models: Int, dimension: Int, progress: (Int, Double) -> Void = { _, _ in }
    ) -> (difficulty: DifficultyClassifier.Head, abilities: [Double]) {
        var compact = [Int32](repeating: -1, count: dimension)
        var active: [Int] = []
        var rows: [(indices: [Int32], values: [Double])] = []
        rows.reserveCapacity(samples.count)
        var responseCount = 0.0
        for s in samples {
            var idx: [Int32] = []
            var val: [Double] = []
            for (i, v) in zip(s.features.indices, s.features.values) where Int(i) < dimension && v != 0 {
                if compact[Int(i)] < 0 {
                    compact[Int(i)] = Int32(active.count)
                    active.append(Int(i))
                }
                idx.append(compact[Int(i)])
                val.append(Double(v))
            }
            rows.append((idx, val))
            responseCount += Double(s.responses.count)
        }
        let m = active.count
        let penalty = active.map { $0 >= structuralStart ? l2 * structuralL2Scale : l2 }
        let total = max(responseCount, 1e-12)
        // Parameters: m weights, bias (index m), abilities (m + 1 ..< m + 1 + models).
        let count = m + 1 + models
        var w = [Double](repeating: 0, count: count)
        var g = [Double](repeating: 0, count: count)
        var m1 = [Double](repeating: 0, count: count)
        var m2 = [Double](repeating: 0, count: count)
        let beta1 = 0.9
        let beta2 = 0.999
        for iteration in 1...max(iterations, 1) {
            for j in 0..<m { g[j] = penalty[j] * w[j] }
            for j in m..<count { g[j] = 0 }
            var loss = 0.0
            for (row, sample) in zip(rows, samples) {
                var d = w[m]
                for k in row.indices.indices { d += w[Int(row.indices[k])] * row.values[k] }
                var residual = 0.0
                for (model, quality) in sample.responses {
                    let p = DifficultyClassifier.sigmoid(w[m + 1 + model] - d)
                    let pc = min(max(p, 1e-12), 1 - 1e-12)
                    let y = min(max(quality, 0), 1)
                    loss -= y * log(pc) + (1 - y) * log(1 - pc)
                    let r = (p - y) / total
                    g[m + 1 + model] += r
                    residual += r
                }
                for k in row.indices.indices { g[Int(row.indices[k])] -= residual * row.values[k] }
                g[m] -= residual
            }
            let correction1 = 1 - pow(beta1, Double(iteration))
            let correction2 = 1 - pow(beta2, Double(iteration))
            for j in 0..<count {
                m1[j] = beta1 * m1[j] + (1 - beta1) * g[j]
                m2[j] = beta2 * m2[j] + (1 - beta2) * g[j] * g[j]
                w[j] -= learningRate * (m1[j] / correction1) / ((m2[j] / correction2).squareRoot() + 1e-8)
            }
            if iteration % 25 == 0 || iteration == iterations {
                var regulariser = 0.0
                for j in 0..<m { regulariser += penalty[j] / 2 * w[j] * w[j] }
                progress(iteration, loss / total + regulariser)
            }
        }
        var weights = [Float](repeating: 0, count: dimension)
        for (j, i) in active.enumerated() { weights[i] = Float(w[j]) }
        return (DifficultyClassifier.Head(bias: w[m], weights: weights), Array(w[(m + 1)...]))
    }

    /// Model head σ(θ − d(x)) of an item-response fit, rounded like `fit`'s heads.
    public static func head(difficulty: DifficultyClassifier.Head, ability: Double) -> DifficultyClassifier.Head {
        DifficultyClassifier.Head(
            bias: ((ability - difficulty.bias) * 1e6).rounded() / 1e6,
            weights: difficulty.weights.map { Float((-Double($0) * 1e5).rounded() / 1e5) })
    }
}
