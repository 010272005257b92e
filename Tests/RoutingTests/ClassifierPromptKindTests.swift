import Testing
@testable import Routing

private func kindBlock(_ v: SparseFeatureVector, _ spec: DifficultyFeatureSpec, _ kind: PromptKind) -> [Float] {
    let base = StructuralFeature.allCases.count
    let start = spec.hashDimension + base * (1 + kind.rawValue)
    return (start..<(start + base)).map { i in
        v.indices.firstIndex(of: Int32(i)).map { v.values[$0] } ?? 0
    }
}

@Test func promptKindGuessFillsOnlyItsInteractionBlock() {
    let spec = DifficultyFeatureSpec(hashBits: 10)
    #expect(spec.structuralVersion == 2)
    #expect(spec.dimension == 1024 + StructuralFeature.allCases.count * 4)
    var extractor = DifficultyFeatureExtractor(spec: spec)
    let cases: [(String, PromptKind)] = [
        ("[PYTHON]\ndef f(x):\n    return x[::-1]\nassert f('ab') == ??\n[/PYTHON]", .code),
        ("Find all real $x$ with \\frac{x^2}{2} \\le 7.", .math),
        ("Tom has $5 and buys 3 apples at $1 each. How much money is left?", .word),
    ]
    for (text, kind) in cases {
        let v = extractor.features(of: ClassifierInput(prompt: text))
        let base = (0..<StructuralFeature.allCases.count).map { structural(v, spec, StructuralFeature(rawValue: $0)!) }
        for k in PromptKind.allCases {
            let block = kindBlock(v, spec, k)
            #expect(block == (k == kind ? base : [Float](repeating: 0, count: base.count)), "\(kind) block \(k)")
        }
    }
}

@Test func version1SpecKeepsTheShortLayoutAndFastPathMatches() {
    let spec = DifficultyFeatureSpec(hashBits: 10, structuralVersion: 1)
    #expect(spec.problem == nil)
    #expect(spec.dimension == 1024 + StructuralFeature.allCases.count)
    #expect(DifficultyFeatureSpec(hashBits: 10, structuralVersion: 3).problem != nil)
    for spec in [spec, DifficultyFeatureSpec(hashBits: 10)] {
        var extractor = DifficultyFeatureExtractor(spec: spec)
        let input = ClassifierInput(prompt: "Compute \\sqrt{2}^3 for each of 4 items.")
        let weights = (0..<spec.dimension).map { Float(($0 * 37) % 11) / 10 - 0.5 }
        let slow = extractor.features(of: input).dot(weights)
        let fast = extractor.dots(input, weights: [weights])[0]
        #expect(abs(slow - fast) < 1e-4)
    }
}

@Test func structuralScalingFoldsBackToTheSameScores() {
    let spec = DifficultyFeatureSpec(hashBits: 8)
    var extractor = DifficultyFeatureExtractor(spec: spec)
    let xs = ["What is 2+2?", "def f(a):\n    return a", "Let $x^2 = 4$.", "A farmer has 12 cows and sells half."]
        .map { extractor.features(of: ClassifierInput(prompt: $0)) }
    let scaling = StructuralScaling(features: xs, spec: spec)
    let weights = (0..<spec.dimension).map { Float(($0 * 13) % 7) / 7 - 0.4 }
    let head = DifficultyClassifier.Head(bias: 0.3, weights: weights)
    let folded = scaling.fold(head)
    for x in xs {
        let onStandardized = head.bias + scaling.apply(x).dot(head.weights)
        let onRaw = folded.bias + x.dot(folded.weights)
        #expect(abs(onStandardized - onRaw) < 1e-3)
    }
}
