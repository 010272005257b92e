import Testing

@testable import Routing

let cascade = CascadePolicy(minMeanLogprob: -1.0, minTokenLogprob: -8.0, maxMeanEntropy: 2.0)

@Test(arguments: [
    (CascadeSignals(meanLogprob: -0.3, minLogprob: -4, meanEntropy: 0.5), [CascadeReason]()),
    (CascadeSignals(meanLogprob: -1.5, minLogprob: -4, meanEntropy: 0.5), [.lowMeanLogprob]),
    (CascadeSignals(meanLogprob: -0.3, minLogprob: -9, meanEntropy: 0.5), [.lowMinLogprob]),
    (CascadeSignals(meanLogprob: -0.3, minLogprob: -4, meanEntropy: 2.5), [.highEntropy]),
    (CascadeSignals(isRequiredFormatMissing: true), [.formatMissing]),
    (CascadeSignals(isTruncated: true), [.truncated]),
    (CascadeSignals(meanLogprob: -2, minLogprob: -10, meanEntropy: 3, isRequiredFormatMissing: true, isTruncated: true),
     CascadeReason.allCases),
    (CascadeSignals(), []),  // missing signals never escalate by themselves
])
func cascadeEscalatesOnEveryFailedCheck(signals: CascadeSignals, reasons: [CascadeReason]) {
    let decision = cascade.decision(for: signals)
    #expect(decision == (reasons.isEmpty ? .accept : .escalate(reasons)))
}

@Test func formatOnlyCascadeIgnoresTruncationAndLogprobs() {
    #expect(CascadePolicy.formatOnly.decision(for: CascadeSignals(meanLogprob: -9, isTruncated: true)) == .accept)
    #expect(CascadePolicy.formatOnly.decision(for: CascadeSignals(isRequiredFormatMissing: true)).isEscalation)
}
