import GGUF
import PhiKernels
import Testing

/// Decode's shares of a call are split in flight: a thread with nothing left to claim takes the back half of what
/// another has not started (`x8_stream`, `x8_steal` in phi_packed8.c). Whoever runs a group, its rows must be the
/// bits a call that never splits gives, and no group may be left out or cut off.
@Suite("decode shares split in flight")
struct SplitSharesTests {
    @Test("every row of a split decode call is written, with the bits of an unsplit call, over many calls")
    func splitCallsKeepTheBits() throws {
        // A plain layout (k = 2,048, 512 groups of 9 KB) and a k-sliced one (k = 10,240), whose claims are never split.
        let plain = try #require(
            try GroupedMatMulTests.weight(.q4_0, rows: 4096, columns: 2048, seed: 21).packedInGroupsOf8OnAnyCPU())
        let sliced = try #require(
            try GroupedMatMulTests.weight(.q4_0, rows: 512, columns: 10240, seed: 22).packedInGroupsOf8OnAnyCPU())
        let x1 = GroupedMatMulTests.values(2048, seed: 23), x2 = GroupedMatMulTests.values(10240, seed: 24)
        // Two identical tokens: prefill's claims are never split, and each token's row is summed as decode sums it.
        let reference1 = Array(matmul(x1 + x1, rows: 2, weight: plain, quantization: .llamaCpp)[0..<4096])
        let reference2 = Array(matmul(x2 + x2, rows: 2, weight: sliced, quantization: .llamaCpp)[0..<512])
        let stride = 4096 + 512
        let before = ComputeSettings.poolCounters.steals
        // Each product claimed whole by the first thread to reach it: the others' only work is what they split off.
        ComputeSettings.withWholeDecodeClaims {
            for call in 0..<100 {
                var y = [Float](repeating: .nan, count: stride)
                x1.withUnsafeBufferPointer { p1 in
                    x2.withUnsafeBufferPointer { p2 in
                        y.withUnsafeMutableBufferPointer { out in
                            // The sliced product first, so the plain one is the call's tail.
                            matmul(
                                [MatMulProduct(x: p2.baseAddress!, weight: sliced, y: out.baseAddress! + 4096, yStride: stride),
                                 MatMulProduct(x: p1.baseAddress!, weight: plain, y: out.baseAddress!, yStride: stride)],
                                segments: [1], quantization: .llamaCpp)
                        }
                    }
                }
                let same = Array(y[0..<4096]) == reference1 && Array(y[4096...]) == reference2
                #expect(same, "call \(call)")
                if !same { break }
            }
        }
        // With two threads (~3 splits per call measured), the path above ran.
        let steals = ComputeSettings.poolCounters.steals - before
        if ComputeSettings.threadCount >= 2 { #expect(steals > 0) }
    }
}
