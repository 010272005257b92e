import PhigateConfig
import Testing

@Suite struct PriceAndDigestTests {
    @Test(arguments: [
        (0, 0, 0), (1_000_000, 0, 2_500_000), (0, 1_000_000, 10_000_000),
        (1000, 500, 7500),   // 1000 × 2.5 + 500 × 10 micro-dollars
        (1, 0, 3),           // 2.5 rounds half up
        (123_456, 7_890, 387_540),
    ])
    func costIsExactIntegerMicros(prompt: Int, completion: Int, micros: Int64) {
        let price = ModelPrice(inputMicrosPerMillion: 2_500_000, outputMicrosPerMillion: 10_000_000)
        #expect(price.costMicros(promptTokens: prompt, completionTokens: completion) == micros)
    }

    @Test func costOfManySmallRequestsDoesNotDrift() {
        let price = ModelPrice(inputMicrosPerMillion: 150_000, outputMicrosPerMillion: 600_000)  // gpt-4o-mini
        var total: Int64 = 0
        for _ in 0..<1000 { total += price.costMicros(promptTokens: 10_000, completionTokens: 1_000) }
        #expect(total == 2_100_000)  // 1000 × (1500 + 600)
    }

    @Test(arguments: [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
        (String(repeating: "a", count: 1000),
         "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3"),
    ])
    func sha256MatchesKnownVectors(input: String, hex: String) {
        #expect(SHA256.hex(of: input) == hex)
    }
}
