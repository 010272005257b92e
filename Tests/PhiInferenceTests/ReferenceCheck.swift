import Foundation
import PhiInference
import Testing

/// Shared comparison of a model with a fixture's reference: argmax at every position (where the reference's
/// top-2 gap exceeds our error), full last-position logits, and the measured max |Δ| printed for the notes.
enum ReferenceCheck {
    struct Report {
        var maxLastDifference: Float = 0
        var argmaxAgree = 0
        var argmaxTotal = 0
    }

    static func run(
        model: LoadedModel, reference: ReferenceFile, lastLogits: NPYArray, argmax expected: [String: [Int]],
        minGaps: [String: Double], tolerance: Float, label: String
    ) throws -> Report {
        var report = Report()
        let vocabulary = model.config.vocabularySize
        for (index, name) in ReferenceFile.sequences.enumerated() {
            let ids = try #require(reference.inputs[name])
            let cache = model.model.makeCache()
            let logits = try model.model.forward(ids, cache: cache, logits: .all)
            #expect(logits.count == ids.count * vocabulary)
            let lastRow = logits[((ids.count - 1) * vocabulary)...]
            let difference = maxAbsDifference(lastRow, lastLogits.row(index))
            report.maxLastDifference = max(report.maxLastDifference, difference)
            #expect(difference < tolerance, "\(label) \(name): last-position max |Δ| \(difference)")
            let expectedArgmax = try #require(expected[name])
            for position in ids.indices {
                let row = logits[(position * vocabulary)..<((position + 1) * vocabulary)]
                let ours = PhiInferenceTests.argmax(row)
                report.argmaxTotal += 1
                if ours == expectedArgmax[position] {
                    report.argmaxAgree += 1
                } else {
                    // A different argmax is legitimate only where the two best logits are closer than our error.
                    #expect(top2Gap(row) < 2 * tolerance, "\(label) \(name) position \(position): argmax \(ours) ≠ \(expectedArgmax[position])")
                }
            }
        }
        print("[logit-diff] \(label): last-position max |Δ| = \(report.maxLastDifference), argmax \(report.argmaxAgree)/\(report.argmaxTotal)")
        return report
    }

    static func greedy(model: LoadedModel, prompt: [Int], count: Int) throws -> [Int] {
        let cache = model.model.makeCache()
        var logits = try model.model.forward(prompt, cache: cache, logits: .last)
        var generated: [Int] = []
        for _ in 0..<count {
            let next = TokenSamplerArgmax.argmax(logits)
            generated.append(next)
            logits = try model.model.forward([next], cache: cache, logits: .last)
        }
        return generated
    }
}

enum TokenSamplerArgmax {
    static func argmax(_ values: [Float]) -> Int { PhiInferenceTests.argmax(values[...]) }
}
