import PhiInference
import PhiKernels
import Testing

/// Continuous batching must not change a sequence's numbers: its logits in a mixed batch (other sequences
/// prefilling chunks or decoding beside it) equal, bit for bit, what it gets alone.
@Suite("batched forward: every sequence's logits as alone")
struct BatchedForwardTests {
    struct Case: CustomTestStringConvertible, Sendable {
        let file: String
        let quantization: ActivationQuantization
        var testDescription: String { "\(file) \(quantization == .llamaCpp ? "llama.cpp" : "exact")" }
    }

    static let files = [
        "phi3-tiny-gqa/phi3-tiny-gqa-Q4_0.gguf", "phi3-tiny-gqa/phi3-tiny-gqa-Q8_0.gguf",
        "phi3-tiny-gqa/phi3-tiny-gqa-F16.gguf", "phi2-tiny/phi2-tiny-Q4_0.gguf",
    ]
    static let cases = files.flatMap { file in [Case(file: file, quantization: .llamaCpp), Case(file: file, quantization: .off)] }

    /// One sequence's inputs: prompt chunks, then `decodeSteps` greedy tokens; it joins the batch at `joinStep`.
    struct Script {
        let chunks: [[Int]]
        let decodeSteps: Int
        let joinStep: Int
    }

    static func argmax(_ logits: [Float]) -> Int {
        logits.indices.max { logits[$0] < logits[$1] } ?? 0
    }

    /// Logits of every step of `script` run alone (batches of one).
    static func alone(_ model: LoadedModel, _ script: Script) throws -> [[Float]] {
        let cache = model.model.makeCache()
        var out: [[Float]] = []
        for chunk in script.chunks { out.append(try model.model.forward(chunk, cache: cache, logits: .last)) }
        for _ in 0..<script.decodeSteps {
            out.append(try model.model.forward([argmax(out.last!)], cache: cache, logits: .last))
        }
        return out
    }

    /// Logits of every step of every script, all run in shared batches; also the largest batch seen.
    static func batched(_ model: LoadedModel, _ scripts: [Script]) throws -> ([[[Float]]], Int) {
        let caches = scripts.map { _ in model.model.makeCache() }
        var out = [[[Float]]](repeating: [], count: scripts.count)
        var largest = 0
        var step = 0
        while zip(scripts, out).contains(where: { $0.chunks.count + $0.decodeSteps > $1.count }) {
            var members: [Int] = []
            var inputs: [BatchedSequenceInput] = []
            for (i, script) in scripts.enumerated() where script.joinStep <= step {
                let done = out[i].count
                guard done < script.chunks.count + script.decodeSteps else { continue }
                let tokens = done < script.chunks.count ? script.chunks[done] : [argmax(out[i].last!)]
                members.append(i)
                inputs.append(BatchedSequenceInput(tokens: tokens, cache: caches[i]))
            }
            if !inputs.isEmpty {
                largest = max(largest, inputs.count)
                let logits = try model.model.forward(batch: inputs)
                for (i, row) in zip(members, logits) { out[i].append(row) }
            }
            step += 1
        }
        return (out, largest)
    }

    static func scripts(_ model: LoadedModel, _ reference: ReferenceFile) throws -> [Script] {
        let s8 = try #require(reference.inputs["s8"])
        let s40 = try #require(reference.inputs["s40"])
        let s100 = try #require(reference.inputs["s100"])
        return [
            Script(chunks: [s8], decodeSteps: 12, joinStep: 0),
            // Joins while the first decodes; its prompt arrives in chunks of 32, 5 and 2 tokens.
            Script(chunks: [Array(s40[..<32]), Array(s40[32..<37]), Array(s40[37...])], decodeSteps: 8, joinStep: 2),
            Script(chunks: [Array(s100[..<64]), Array(s100[64...])], decodeSteps: 6, joinStep: 3),
            Script(chunks: [[s8[0]]], decodeSteps: 10, joinStep: 4),
            Script(chunks: [Array(s8[..<3])], decodeSteps: 9, joinStep: 4),
        ]
    }

    @Test("mixed prefill and decode batches give each sequence exactly its alone logits", arguments: cases)
    func batchEqualsAlone(_ fixture: Case) throws {
        let model = try LoadedModel.load(path: Fixtures.path(fixture.file))
        let folder = String(fixture.file.prefix { $0 != "/" })
        let reference = try ReferenceFile(path: Fixtures.path("\(folder)/\(folder).reference.json"))
        let scripts = try Self.scripts(model, reference)
        try ComputeSettings.withActivationQuantization(fixture.quantization) {
            let alone = try scripts.map { try Self.alone(model, $0) }
            let (together, largest) = try Self.batched(model, scripts)
            #expect(largest == scripts.count)
            for (i, (a, b)) in zip(alone, together).enumerated() {
                #expect(a.count == b.count)
                for (step, (x, y)) in zip(a, b).enumerated() where x != y {
                    Issue.record("sequence \(i) step \(step): max |Δ| \(maxAbsDifference(x, y))")
                    break
                }
            }
        }
    }
}
