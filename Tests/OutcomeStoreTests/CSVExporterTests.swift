import Foundation
import Testing

@testable import OutcomeStore

@Suite("CSV dashboards")
struct CSVExporterTests {
    func exporter(storesText: Bool = false, includesText: Bool = false) async throws -> CSVExporter {
        CSVExporter(
            store: try await OutcomeFixtures.makeStore(storesText: storesText), frontier: OutcomeFixtures.gpt4o,
            scoreThreshold: 0.7, includesText: includesText)
    }

    func table(_ dashboard: Dashboard, _ filter: OutcomeFilter = OutcomeFilter(), exporter: CSVExporter) throws -> [[String]] {
        let text = try exporter.csv(dashboard, filter: filter)
        #expect(text.hasSuffix("\r\n"))
        let rows = parseCSV(text)
        #expect(rows.first == dashboard.columns.map(\.name).filter { exporter.includesText || !$0.hasSuffix("_text") })
        return Array(rows.dropFirst())
    }

    @Test("cost_daily: every column, to the micro-dollar, with the counterfactual frontier cost")
    func costDaily() async throws {
        let rows = try table(.costDaily, exporter: try await exporter())
        #expect(rows == [
            ["2026-11-20", "acme", "local", "phi-3.5-mini", "1", "1000", "200", "0.000000", "0.004500", "0.004500"],
            ["2026-11-20", "acme", "openai", "gpt-4o", "1", "2000", "500", "0.010000", "0.010000", "0.000000"],
            ["2026-11-20", "beta", "local", "phi-3.5-mini", "1", "100", "50", "0.000000", "0.000750", "0.000750"],
            ["2026-11-21", "acme", "local", "phi-3.5-mini", "1", "300", "700", "0.000000", "0.007750", "0.007750"],
            ["2026-11-21", "acme", "openai", "gpt-4o", "1", "1000", "100", "0.003500", "0.003500", "0.000000"],
        ])
    }

    @Test("cost_daily without a frontier price leaves the counterfactual empty")
    func costDailyWithoutPrice() async throws {
        var exporter = try await exporter()
        exporter.frontier = nil
        let rows = try table(.costDaily, OutcomeFilter(tenant: "beta"), exporter: exporter)
        #expect(rows == [["2026-11-20", "beta", "local", "phi-3.5-mini", "1", "100", "50", "0.000000", "", ""]])
    }

    @Test("filters: day range (inclusive, UTC) and tenant")
    func filters() async throws {
        let exporter = try await exporter()
        #expect(try table(.costDaily, OutcomeFilter(fromDay: "2026-11-21"), exporter: exporter).map { $0[0] } == ["2026-11-21", "2026-11-21"])
        #expect(try table(.costDaily, OutcomeFilter(toDay: "2026-11-20"), exporter: exporter).count == 3)
        #expect(try table(.requests, OutcomeFilter(fromDay: "2026-11-20", toDay: "2026-11-20", tenant: "acme"), exporter: exporter).map { $0[0] } == ["r1", "r2"])
        #expect(try table(.routes, OutcomeFilter(tenant: "nobody"), exporter: exporter).isEmpty)
        #expect(OutcomeFilter.isValidDay("2024-02-29"))
        #expect(!OutcomeFilter.isValidDay("2026-02-29"))
        #expect(!OutcomeFilter.isValidDay("2026-1-01"))
    }

    @Test("quality: labels of the answer given, mean, share below the threshold")
    func quality() async throws {
        let rows = try table(.quality, exporter: try await exporter())
        #expect(rows == [
            ["local", "phi-3.5-mini", "auto", "2", "2", "0.725000", "0.700000", "0.500000"],
            ["local", "phi-3.5-mini", "privacy", "1", "0", "", "0.700000", ""],
            ["openai", "gpt-4o", "auto", "2", "1", "0.400000", "0.700000", "1.000000"],
        ])
    }

    @Test("latency: nearest-rank percentiles of successful requests")
    func latency() async throws {
        let rows = try table(.latency, exporter: try await exporter())
        #expect(rows == [
            ["local", "phi-3.5-mini", "3", "20.000", "50.000", "50.000", "400.000", "1000.000", "1000.000", "566.667"],
            ["openai", "gpt-4o", "1", "300.000", "300.000", "300.000", "2000.000", "2000.000", "2000.000", "25.000"],
        ])
    }

    @Test("routes: hits, share local, share fallback, errors")
    func routes() async throws {
        let rows = try table(.routes, exporter: try await exporter())
        #expect(rows == [
            ["auto", "4", "0.500000", "0.250000", "1"],
            ["privacy", "1", "1.000000", "0.000000", "0"],
        ])
    }

    @Test("pareto: the threshold sweep over requests with both tiers' quality")
    func pareto() async throws {
        let exporter = try await exporter()
        let rows = try table(.pareto, exporter: exporter)
        #expect(rows == [
            ["0.200000", "3", "0.000000", "1.000000", "0.550000", "0.000000", "0.000000", "true"],
            ["0.800000", "3", "0.333333", "0.666667", "0.616667", "0.010000", "3.333333", "true"],
            ["0.900000", "3", "0.666667", "0.333333", "0.666667", "0.014500", "4.833333", "true"],
            ["0.900000", "3", "1.000000", "0.000000", "0.700000", "0.022250", "7.416667", "true"],
        ])
        let (samples, skipped) = try exporter.tuningSamples()
        #expect(samples.count == 3)
        #expect(skipped == 0)
    }

    @Test("requests: every column of a fallback row and of a private row")
    func requests() async throws {
        let rows = try table(.requests, exporter: try await exporter())
        #expect(rows.map { $0[0] } == ["r1", "r2", "r3", "r4", "r5"])
        #expect(rows[1] == [
            "r2", "2026-11-20T10:30:00.250Z", "acme", "key-a", "auto", "openai", "gpt-4o", "remote", "auto",
            "0.200000", "0.500000", "false", "", "2000", "500", "0.010000", "300.000", "2000.000", "25.000", "200", "",
            "1", "local/phi-3.5-mini:timeout;openai/gpt-4o", "true", "1", "0.400000",
            #"{"rule":"auto","reason":"score 0.2 < 0.5"}"#,
        ])
        #expect(rows[2] == [
            "r3", "2026-11-20T23:59:59.500Z", "beta", "key-b", "auto", "local", "phi-3.5-mini", "local", "privacy",
            "", "", "true", "email;iban", "100", "50", "0.000000", "20.000", "100.000", "500.000", "200", "", "0",
            "local/phi-3.5-mini", "false", "0", "", "",
        ])
        #expect(rows[3][15...21] == ["0.003500", "", "1500.000", "", "502", "upstream_error", "0"])
    }

    @Test("requests: text only when asked for and stored, never for private requests")
    func requestText() async throws {
        let notAsked = try table(.requests, exporter: try await exporter(storesText: true))
        #expect(notAsked[0].count == 27)
        let notStored = try table(.requests, exporter: try await exporter(storesText: false, includesText: true))
        #expect(notStored[0].suffix(2) == ["", ""])
        let stored = try table(.requests, exporter: try await exporter(storesText: true, includesText: true))
        #expect(stored[0].suffix(2) == ["hello, \"world\"\nline 2", "hi"])
        #expect(stored[2].suffix(2) == ["", ""])
    }

    @Test("RFC 4180 quoting", arguments: [
        ("plain", "plain"), ("a,b", "\"a,b\""), ("say \"hi\"", "\"say \"\"hi\"\"\""), ("two\nlines", "\"two\nlines\""),
        ("cr\rhere", "\"cr\rhere\""), ("", ""),
    ])
    func quoting(value: String, encoded: String) {
        #expect(CSVExporter.field(value) == encoded)
        #expect(parseCSV(CSVExporter.encode([[value, "x"]])) == [[value, "x"]])
    }

    @Test("money is exact from micro-dollars")
    func money() {
        #expect(CSVExporter.usd(0) == "0.000000")
        #expect(CSVExporter.usd(1) == "0.000001")
        #expect(CSVExporter.usd(12_345_678_901) == "12345.678901")
        #expect(CSVExporter.usd(-4_500) == "-0.004500")
        #expect(TokenPrice(inputMicrosPerMillion: 2_500_000, outputMicrosPerMillion: 0).costMicros(promptTokens: 1, completionTokens: 0) == 3)
    }

    @Test("export writes every dashboard into the directory")
    func exportFiles() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("phigate-export-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        var seen: [Dashboard] = []
        try await exporter().export(to: directory) { dashboard, _, _ in seen.append(dashboard) }
        #expect(seen == Dashboard.allCases)
        for dashboard in Dashboard.allCases {
            let text = try String(contentsOf: directory.appendingPathComponent(dashboard.fileName), encoding: .utf8)
            #expect(text.hasPrefix(dashboard.columns[0].name + ","))
        }
    }
}
