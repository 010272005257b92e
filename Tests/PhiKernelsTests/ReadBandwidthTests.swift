import PhiKernels
import Testing

@Suite("Read bandwidth probes")
struct ReadBandwidthTests {
    @Test("both probes measure something, and an existing buffer is read as it is")
    func probes() {
        #expect(ComputeSettings.readBandwidth(bytes: 8 << 20, repetitions: 1) > 0)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 8 << 20, alignment: 64)
        defer { buffer.deallocate() }
        buffer.initializeMemory(as: UInt8.self, repeating: 7)
        #expect(ComputeSettings.readBandwidth(of: UnsafeRawBufferPointer(buffer), repetitions: 1) > 0)
        // Too small to time, or nothing at all: 0 rather than a made-up number.
        #expect(ComputeSettings.readBandwidth(of: UnsafeRawBufferPointer(rebasing: buffer[0..<100]), repetitions: 1) == 0)
        #expect(ComputeSettings.readBandwidth(of: UnsafeRawBufferPointer(start: nil, count: 0), repetitions: 1) == 0)
    }
}
