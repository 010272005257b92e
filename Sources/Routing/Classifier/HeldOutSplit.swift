/// A seeded split of prompts into parts, by a hash of the normalised prompt text.
///
/// Normalisation: history turns then the prompt, joined with "\n", lower-cased (ASCII), runs of whitespace
/// collapsed to one space, trimmed. The unit value is `mix(FNV-1a-64("phigate-split:<salt>:<seed>:" + text)) / 2⁶⁴`;
/// a prompt is in the part when that value is below `fraction`. The same question always lands on the same side,
/// wherever it appears.
public struct HeldOutSplit: Sendable, Hashable, Codable {
    public var seed: UInt64
    public var fraction: Double
    public var salt: String

    public init(seed: UInt64, fraction: Double, salt: String = "heldout") {
        self.seed = seed
        self.fraction = fraction
        self.salt = salt
    }

    public var rule: String {
        "held out when mix64(fnv1a64(\"phigate-split:\(salt):\(seed):\" + normalized(history + prompt))) / 2^64 < \(fraction)"
    }

    public func contains(_ input: ClassifierInput) -> Bool {
        unitValue(input) < fraction
    }

    public func unitValue(_ input: ClassifierInput) -> Double {
        var h: UInt64 = 14_695_981_039_346_656_037
        for b in "phigate-split:\(salt):\(seed):".utf8 { h = (h ^ UInt64(b)) &* 1_099_511_628_211 }
        var pendingSpace = false
        var started = false
        let text = (input.history + [input.prompt]).joined(separator: "\n")
        for var b in text.utf8 {
            if b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D {
                pendingSpace = started
                continue
            }
            if pendingSpace {
                h = (h ^ 0x20) &* 1_099_511_628_211
                pendingSpace = false
            }
            if b >= 0x41 && b <= 0x5A { b |= 0x20 }
            h = (h ^ UInt64(b)) &* 1_099_511_628_211
            started = true
        }
        return Double(DifficultyFeatureExtractor.mix(h) >> 11) / Double(1 << 53)
    }
}
