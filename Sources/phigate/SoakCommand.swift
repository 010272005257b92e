import ArgumentParser
import AsyncHTTPClient
import FakeUpstream
import Foundation
import GatewayServer
import Logging
import NIOCore
import PhigateConfig
import Synchronization

/// `phigate dev soak --duration 3m [--concurrency 32] [--url URL]`: mixed plain and streamed traffic through a
/// gateway for a bounded time, on loopback; prints requests/s, errors, p99 latency and resident memory.
struct SoakCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "soak",
        abstract: "Drive mixed streamed and plain traffic through a gateway and report throughput, errors, p99 and RSS.",
        discussion: """
            Without --url it starts a fake upstream and a gateway in this process (outcome log in a temporary file) and \
            reports this process's resident memory; with --url it drives that gateway (loopback only) and the memory \
            shown is the gateway's when --gateway-pid names its process, else the driver's own. Prints a line at the \
            start, every --interval and at the end.
            """,
        shouldDisplay: false
    )

    @Option(help: "How long to run (\"3m\", \"90s\").")
    var duration = "3m"

    @Option(help: "Requests in flight at once.")
    var concurrency = 32

    @Option(help: "Report every (\"30s\").")
    var interval = "30s"

    @Option(help: "Drive an already-running gateway at this loopback base URL (http://127.0.0.1:8080) instead.")
    var url: String?

    @Option(help: "Gateway key to send with --url (also read from PHIGATE_API_KEY).")
    var key: String?

    @Option(help: "With --url: the gateway's process id, whose resident memory is reported (from /proc).")
    var gatewayPid: Int32?

    @Option(help: "Model to ask for.")
    var model = "gpt-4o-mini"

    func validate() throws {
        guard let seconds = Self.seconds(duration), seconds > 0, seconds <= 3600 else {
            throw ValidationError("--duration must be a duration from 1s to 1h, like 3m")
        }
        guard let every = Self.seconds(interval), every > 0 else { throw ValidationError("--interval must be a duration like 30s") }
        guard (1...1024).contains(concurrency) else { throw ValidationError("--concurrency must be from 1 to 1024") }
        if gatewayPid != nil, url == nil { throw ValidationError("--gateway-pid needs --url (without it the gateway is this process)") }
        if let url {
            let host = URL(string: url)?.host ?? ""
            guard url.hasPrefix("http://"), ServerConfig.isLoopback(host: host) else {
                throw ValidationError("--url must be an http:// loopback address (the soak never leaves this machine)")
            }
        }
    }

    /// A report line, written at once (stdout is block-buffered when redirected to a file).
    static func emit(_ line: String) {
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }

    static func seconds(_ text: String) -> Double? {
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)]
        for (suffix, scale) in units where text.hasSuffix(suffix) {
            let number = text.dropLast(suffix.count)
            if suffix == "s", number.hasSuffix("m") { continue }
            return Double(number).map { $0 * scale }
        }
        return nil
    }

    func run() async throws {
        let total = Duration.seconds(Self.seconds(duration) ?? 180)
        let every = Duration.seconds(Self.seconds(interval) ?? 30)
        if let url {
            try await drive(baseURL: url, key: key ?? ProcessInfo.processInfo.environment["PHIGATE_API_KEY"], total: total, every: every)
            return
        }
        let upstream = try await FakeUpstream.start(recordsRequests: false, script: FakeUpstream.standardScript)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("phigate-soak-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let config = GatewayConfig(
            server: ServerConfig(host: "127.0.0.1", port: 0, shutdownGracePeriod: .seconds(5)),
            backends: [BackendConfig(name: "fake", kind: .openai, baseURL: upstream.baseURL + "/v1", models: [ModelConfig(name: model)])],
            database: DatabaseConfig(path: directory.appendingPathComponent("soak.sqlite").path))
        var logger = Logger(label: "phigate.soak")
        logger.logLevel = .error
        let port = Mutex<Int?>(nil)
        let app = try buildApplication(config: config, logger: logger, onServerRunning: { channel in
            port.withLock { $0 = channel.localAddress?.port }
        })
        let runner = GatewayRunner(app, gracePeriod: .seconds(5), logger: logger, handlesSignals: false)
        let server = Task { try await runner.run() }
        while port.withLock({ $0 }) == nil { try await Task.sleep(for: .milliseconds(20)) }
        let base = "http://127.0.0.1:\(port.withLock { $0 } ?? 0)"
        do {
            try await drive(baseURL: base, key: nil, total: total, every: every)
        } catch {
            await runner.shutdown()
            throw error
        }
        await runner.shutdown()
        _ = try? await server.value
        await upstream.shutdown()
    }

    /// Runs `concurrency` workers until `total` has passed, printing a report every `every`.
    private func drive(baseURL: String, key: String?, total: Duration, every: Duration) async throws {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = concurrency
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        let stats = SoakStatistics(memoryOf: gatewayPid)
        let started = ContinuousClock.now
        let deadline = started + total
        Self.emit(SoakStatistics.header)
        Self.emit(stats.report(elapsed: .zero, window: .zero, final: false))
        let plain = ByteBuffer(string: #"{"model":"\#(model)","messages":[{"role":"user","content":"Say hello, soak."}]}"#)
        let streamed = ByteBuffer(string: #"{"model":"\#(model)","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"Count to five."}]}"#)
        await withTaskGroup(of: Void.self) { group in
            for worker in 0..<concurrency {
                group.addTask {
                    var index = worker
                    while ContinuousClock.now < deadline {
                        index += 1
                        let isStreamed = index % 2 == 0
                        var request = HTTPClientRequest(url: baseURL + "/v1/chat/completions")
                        request.method = .POST
                        request.headers.add(name: "content-type", value: "application/json")
                        if let key { request.headers.add(name: "authorization", value: "Bearer \(key)") }
                        request.body = .bytes(isStreamed ? streamed : plain)
                        let begin = ContinuousClock.now
                        do {
                            let response = try await client.execute(request, timeout: .seconds(30))
                            var bytes = 0
                            for try await part in response.body { bytes += part.readableBytes }
                            stats.record(status: Int(response.status.code), latency: begin.duration(to: .now))
                        } catch {
                            stats.recordFailure(latency: begin.duration(to: .now))
                        }
                    }
                }
            }
            group.addTask {
                var last = started
                while true {
                    let next = min(last + every, deadline)
                    try? await Task.sleep(until: next)
                    let now = ContinuousClock.now
                    if now >= deadline { break }
                    Self.emit(stats.report(elapsed: started.duration(to: now), window: last.duration(to: now), final: false))
                    last = now
                }
            }
            await group.waitForAll()
        }
        Self.emit(stats.report(elapsed: started.duration(to: .now), window: started.duration(to: .now), final: true))
        try await client.shutdown()
    }
}

/// Counters and latencies of a soak; each report covers the window since the previous one.
final class SoakStatistics: Sendable {
    private struct State {
        var total = 0
        var errors: [String: Int] = [:]
        var window: [Double] = []
        /// The whole run's latencies as a histogram (constant memory, so the driver's own growth does not
        /// blur the memory the soak is there to watch).
        var all = LatencyHistogram()
        var windowCount = 0
    }

    private let state = Mutex(State())
    /// The process whose resident memory is reported; nil = this one.
    private let processID: Int32?

    init(memoryOf processID: Int32? = nil) {
        self.processID = processID
    }

    static let header = "elapsed  req/s(window; end: run)  total_req  errors  p99_ms(window)  p99_ms(run)  rss_mib"

    func record(status: Int, latency: Duration) {
        state.withLock { state in
            state.total += 1
            state.windowCount += 1
            if status != 200 { state.errors["\(status)", default: 0] += 1 }
            let ms = Double(latency.components.seconds) * 1000 + Double(latency.components.attoseconds) / 1e15
            state.window.append(ms)
            state.all.record(ms)
        }
    }

    func recordFailure(latency: Duration) {
        state.withLock { state in
            state.total += 1
            state.windowCount += 1
            state.errors["transport", default: 0] += 1
        }
    }

    func report(elapsed: Duration, window: Duration, final: Bool) -> String {
        let (count, total, errors, windowLatencies, runP99) = state.withLock { state in
            defer {
                state.window.removeAll(keepingCapacity: true)
                state.windowCount = 0
            }
            return (state.windowCount, state.total, state.errors, state.window, final ? state.all.p99 : nil)
        }
        let seconds = Double(window.components.seconds) + Double(window.components.attoseconds) / 1e18
        // The last line's rate covers the whole run.
        let rate = seconds > 0 ? Double(final ? total : count) / seconds : 0
        let errorText = errors.isEmpty ? "0" : errors.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" }.joined(separator: ",")
        let line = String(
            format: "%6.0fs  %22.0f  %9d  %6@  %14@  %11@  %7.1f",
            Double(elapsed.components.seconds), rate, total, errorText as NSString,
            Self.p99(windowLatencies) as NSString, (runP99.map { String(format: "%.1f", $0) } ?? "-") as NSString,
            Self.residentMiB(of: processID))
        return final ? line + "  (end)" : line
    }

    static func p99(_ values: [Double]) -> String {
        guard !values.isEmpty else { return "-" }
        let sorted = values.sorted()
        return String(format: "%.1f", sorted[min(sorted.count - 1, Int((Double(sorted.count) * 0.99).rounded(.up)) - 1)])
    }

    /// Resident set size from `/proc/<pid>/statm` (pages; this process when `processID` is nil), in MiB; 0 where
    /// there is no /proc or no such process.
    static func residentMiB(of processID: Int32? = nil) -> Double {
        let path = processID.map { "/proc/\($0)/statm" } ?? "/proc/self/statm"
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return 0 }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Double(fields[1]) else { return 0 }
        return pages * Double(sysconf(Int32(_SC_PAGESIZE))) / (1024 * 1024)
    }
}

/// Latencies in milliseconds in buckets 1% wide from 0.01 ms up (1,850 buckets reach past 10 minutes); a
/// percentile is the upper edge of its bucket, so within 1% of the exact value.
struct LatencyHistogram: Sendable {
    private static let floor = 0.01
    private static let growth = log(1.01)
    private var counts = [Int](repeating: 0, count: 1_850)
    private var total = 0

    mutating func record(_ milliseconds: Double) {
        let index = milliseconds <= Self.floor ? 0 : Int(log(milliseconds / Self.floor) / Self.growth) + 1
        counts[min(index, counts.count - 1)] += 1
        total += 1
    }

    var p99: Double? {
        guard total > 0 else { return nil }
        let rank = Int((Double(total) * 0.99).rounded(.up))
        var seen = 0
        for (index, count) in counts.enumerated() {
            seen += count
            if seen >= rank { return Self.floor * exp(Double(index) * Self.growth) }
        }
        return nil
    }
}
