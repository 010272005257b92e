import Foundation
import PhiInference
import Testing

/// Quantized GGUF files against their `dequant_ref`: transformers float32 on the weights dequantized by the PyPI
/// `gguf` package. We compute with exactly dequantized weights in float32, so the bar is 1e-3.
@Suite("quantized GGUF against dequant_ref")
struct QuantizedReferenceTests {
    struct Case: CustomTestStringConvertible, Sendable {
        let folder: String
        let type: String
        let shared: Bool
        var testDescription: String { "\(folder) \(type)" }
    }

    static let bundled = [
        Case(folder: "phi3-tiny-gqa", type: "Q8_0", shared: false),
        Case(folder: "phi3-tiny-gqa", type: "Q4_0", shared: false),
        Case(folder: "phi2-tiny", type: "Q4_0", shared: false),
    ]

    static let extended = [
        Case(folder: "phi2-k", type: "Q4_K_M", shared: true),
        Case(folder: "phi3-tiny", type: "Q8_0", shared: true),
    ]

    @Test("bundled quantized files match dequant_ref within 1e-3", arguments: bundled)
    func bundledMatches(_ fixture: Case) throws {
        try check(fixture)
    }

    @Test(
        "extended fixtures (../shared/fixtures) match dequant_ref within 1e-3",
        .enabled(if: Fixtures.isSharedAvailable, "../shared/fixtures/phi is absent: extended phi2-k / phi3-tiny checks skipped"),
        arguments: extended
    )
    func extendedMatches(_ fixture: Case) throws {
        try check(fixture)
    }

    func check(_ fixture: Case) throws {
        let base = "\(fixture.folder)/\(fixture.folder)"
        let model = try LoadedModel.load(path: Fixtures.path("\(base)-\(fixture.type).gguf", shared: fixture.shared))
        let reference = try ReferenceFile(path: Fixtures.path("\(base).reference.json", shared: fixture.shared))
        let last = try NPYArray(path: Fixtures.path("\(base)-\(fixture.type).dequant_ref.last_logits.npy", shared: fixture.shared))
        let report = try ReferenceCheck.run(
            model: model, reference: reference, lastLogits: last,
            argmax: try #require(reference.dequantArgmax[fixture.type]),
            minGaps: reference.dequantMinGap[fixture.type] ?? [:], tolerance: 1e-3,
            label: "\(fixture.folder) \(fixture.type) vs dequant_ref"
        )
        #expect(report.maxLastDifference < 1e-3)
    }
}
