import ArgumentParser
import Foundation
import Testing

@testable import phigate

@Suite("phigate dev soak")
struct SoakCommandTests {
    @Test("options are bounded and --url must be loopback", arguments: [
        ["--duration", "0s"], ["--duration", "2h"], ["--concurrency", "0"], ["--url", "http://example.com:8080"],
        ["--url", "https://127.0.0.1:8080"], ["--interval", "soon"],
    ])
    func validation(arguments: [String]) {
        #expect(throws: (any Error).self) { try SoakCommand.parse(arguments) }
    }

    @Test("a short in-process soak serves every request")
    func shortSoak() async throws {
        try await SoakCommand.parse(["--duration", "1s", "--interval", "1s", "--concurrency", "2"]).run()
    }

    @Test("the run's p99 comes from a histogram within 1% of the exact value")
    func histogramPercentile() throws {
        var histogram = LatencyHistogram()
        #expect(histogram.p99 == nil)
        // 1..1000 ms: exact p99 (rank 990) is 990 ms.
        for ms in 1...1000 { histogram.record(Double(ms)) }
        let p99 = try #require(histogram.p99)
        #expect(p99 >= 990 && p99 <= 990 * 1.01)
        // Values past the last bucket are kept (in the last one), not dropped.
        var slow = LatencyHistogram()
        for _ in 0..<100 { slow.record(1e9) }
        #expect((slow.p99 ?? 0) > 600_000)
    }

    @Test("memory of another process is read from /proc; --gateway-pid needs --url")
    func gatewayMemory() throws {
        let pid = ProcessInfo.processInfo.processIdentifier
        #expect(SoakStatistics.residentMiB(of: pid) > 1)
        #expect(SoakStatistics.residentMiB(of: Int32.max) == 0)
        #expect(throws: (any Error).self) { try SoakCommand.parse(["--gateway-pid", "1"]) }
        _ = try SoakCommand.parse(["--url", "http://127.0.0.1:8080", "--gateway-pid", "\(pid)"])
    }
}
