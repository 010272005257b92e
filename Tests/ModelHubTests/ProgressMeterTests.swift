import Testing

@testable import ModelHub

@Suite("Progress meter")
struct ProgressMeterTests {
    static let mib: Int64 = 1 << 20

    @Test("the terminal bar redraws one line with percent, MiB, MiB/s and ETA")
    func terminalLine() {
        var meter = ProgressMeter(style: .terminal(barWidth: 10), total: 100 * Self.mib)
        let line = meter.update(bytes: 25 * Self.mib, elapsed: .seconds(5))
        #expect(line == "\r 25% [##--------]  25.0/100.0 MiB  5.0 MiB/s  ETA 0:15\u{1B}[K")
        #expect(meter.update(bytes: 26 * Self.mib, elapsed: .milliseconds(5050)) == nil)  // within 100 ms
        #expect(meter.update(bytes: 100 * Self.mib, elapsed: .milliseconds(5060)) != nil)  // done always shows
        #expect(
            meter.finish(bytes: 100 * Self.mib, elapsed: .seconds(20))
                == "\r100% [##########]  100.0/100.0 MiB  5.0 MiB/s  in 0:20\u{1B}[K\n")
    }

    @Test("the rate counts only this run's bytes after a resume")
    func resumedRate() {
        var meter = ProgressMeter(style: .lines(), total: 100 * Self.mib, offset: 50 * Self.mib)
        #expect(meter.update(bytes: 60 * Self.mib, elapsed: .seconds(2)) == " 60%  60.0/100.0 MiB  5.0 MiB/s  ETA 0:08\n")
    }

    @Test("plain lines come at the start and every 5 % however fast the updates are")
    func linesEveryFivePercent() {
        var meter = ProgressMeter(style: .lines(), total: 1000)
        var lines: [String] = []
        for step in 1...100 {
            if let line = meter.update(bytes: Int64(step * 10), elapsed: .milliseconds(step)) { lines.append(line) }
        }
        #expect(lines.count == 21)  // the first update, then 5 %, 10 %, … 100 %
        #expect(lines.first?.hasPrefix("  1%") == true)
        #expect(lines.dropFirst().first?.hasPrefix("  5%") == true)
        #expect(lines.last?.hasPrefix("100%") == true)
    }

    @Test("plain lines also come every interval when the transfer is slow, or the size unknown")
    func linesOnInterval() {
        var meter = ProgressMeter(style: .lines(percentStep: 5, interval: .seconds(10)), total: 100 * Self.mib)
        #expect(meter.update(bytes: 0, elapsed: .zero) != nil)
        #expect(meter.update(bytes: Self.mib, elapsed: .seconds(9)) == nil)
        #expect(meter.update(bytes: 2 * Self.mib, elapsed: .seconds(10)) != nil)

        var unknown = ProgressMeter(style: .lines(), total: nil)
        #expect(unknown.update(bytes: 0, elapsed: .zero) == "0.0 MiB  0.0 MiB/s\n")
        #expect(unknown.update(bytes: Self.mib, elapsed: .seconds(1)) == nil)
        #expect(unknown.update(bytes: 20 * Self.mib, elapsed: .seconds(10)) == "20.0 MiB  2.0 MiB/s\n")
    }

    @Test("clock and byte formats")
    func formats() {
        #expect(ProgressMeter.clock(0) == "0:00")
        #expect(ProgressMeter.clock(61) == "1:01")
        #expect(ProgressMeter.clock(3_725) == "1:02:05")
        #expect(ProgressMeter.clock(.infinity) == "--:--")
        #expect(ByteCount.mib(1_572_864) == "1.5 MiB")
    }
}
