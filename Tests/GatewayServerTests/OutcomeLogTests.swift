import Foundation
import OutcomeStore
import PhigateConfig
import Testing

/// The outcome log through `buildApplication`: every request recorded, feedback, dashboards, flush on shutdown.
@Suite("Outcome log through the gateway")
struct OutcomeLogTests {
    static let adminKey = "pg-admin-TESTSECRET-77a1c3"
    static let admin = [("authorization", "Bearer \(adminKey)")]
    static var environment: [String: String] {
        GatewayHarness.environment.merging(["PHIGATE_TEST_ADMIN_KEY": adminKey]) { $1 }
    }

    static func temporaryDatabase() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("phigate-e2e-\(UUID().uuidString).sqlite").path
    }

    static func configure(path: String, storesText: Bool = false) -> (inout GatewayConfig) -> Void {
        { config in
            config.database.path = path
            config.database.storesText = storesText
            config.database.frontierModel = "claude-3-5-sonnet"
            config.apiKeys.append(
                GatewayKeyConfig(id: "ops", tenant: "ops", source: .environment("PHIGATE_TEST_ADMIN_KEY"), role: .admin))
        }
    }

    static func rows(_ reply: Reply) -> [[String: String]] {
        let lines = reply.body.components(separatedBy: "\r\n").filter { !$0.isEmpty }
        guard let header = lines.first?.components(separatedBy: ",") else { return [] }
        return lines.dropFirst().map { line in
            // Test rows have no quoted fields except `decision`, which is empty here.
            Dictionary(uniqueKeysWithValues: zip(header, line.components(separatedBy: ",")))
        }
    }

    @Test("plain, streamed and failed requests each leave a row; dashboards need an admin key")
    func recordsEveryRequest() async throws {
        let path = Self.temporaryDatabase()
        defer { try? FileManager.default.removeItem(atPath: path) }
        try await GatewayHarness.run(environment: Self.environment, configure: Self.configure(path: path)) { gateway in
            let plain = try await gateway.chat(chatBody())
            let streamed = try await gateway.chat(chatBody(stream: true, extra: #","stream_options":{"include_usage":true}"#))
            let unknown = try await gateway.chat(chatBody(model: "nope"))
            #expect(plain.status == 200 && streamed.status == 200 && unknown.status == 404)

            #expect(try await gateway.request("GET", "/v1/dashboard/requests.csv").status == 403)
            let missing = try await gateway.request("GET", "/v1/dashboard/nothing.csv", headers: Self.admin)
            #expect(missing.status == 404)
            let reply = try await gateway.request("GET", "/v1/dashboard/requests.csv", headers: Self.admin)
            #expect(reply.status == 200)
            #expect(reply.header("content-type")?.hasPrefix("text/csv") == true)
            let rows = Self.rows(reply)
            #expect(rows.count == 3)
            let byID = Dictionary(uniqueKeysWithValues: rows.map { ($0["id"] ?? "", $0) })
            let plainRow = try #require(byID[plain.header("x-request-id") ?? ""])
            #expect(plainRow["tenant"] == "tests")
            #expect(plainRow["key_id"] == "test-key")
            #expect(plainRow["requested_model"] == "gpt-4o-mini")
            #expect(plainRow["backend"] == "openai")
            #expect(plainRow["model"] == "gpt-4o-mini")
            #expect(plainRow["prompt_tokens"] == "11")
            #expect(plainRow["completion_tokens"] == "7")
            // 11 × $0.15/M + 7 × $0.60/M = $0.00000585 → 6 micro-dollars.
            #expect(plainRow["cost_usd"] == "0.000006")
            #expect(plainRow["status"] == "200")
            #expect(plainRow["streamed"] == "false")
            let streamedRow = try #require(byID[streamed.header("x-request-id") ?? ""])
            #expect(streamedRow["streamed"] == "true")
            #expect(streamedRow["status"] == "200")
            #expect(streamedRow["ttft_ms"]?.isEmpty == false)
            let unknownRow = try #require(byID[unknown.header("x-request-id") ?? ""])
            #expect(unknownRow["status"] == "404")
            #expect(unknownRow["error_code"] == "model_not_found")
            #expect(unknownRow["requested_model"] == "nope")
            #expect(unknownRow["backend"] == "")

            let cost = try await gateway.request("GET", "/v1/dashboard/cost_daily.csv?tenant=tests", headers: Self.admin)
            #expect(cost.status == 200)
            #expect(Self.rows(cost).contains { $0["backend"] == "openai" && $0["requests"] == "2" })
            #expect(try await gateway.request("GET", "/v1/dashboard/routes.csv?from=2026-13-01", headers: Self.admin).status == 400)
        }
    }

    @Test("POST /v1/feedback: 200 for an answered request, 404 for an unknown id, 400 for bad input")
    func feedback() async throws {
        let path = Self.temporaryDatabase()
        defer { try? FileManager.default.removeItem(atPath: path) }
        try await GatewayHarness.run(environment: Self.environment, configure: Self.configure(path: path)) { gateway in
            let answered = try await gateway.chat(chatBody())
            let id = try #require(answered.header("x-request-id"))
            let ok = try await gateway.request("POST", "/v1/feedback", body: #"{"request_id":"\#(id)","score":0.75,"comment":"fine"}"#)
            #expect(ok.status == 200)
            #expect(ok.json["recorded"] as? Bool == true)
            let unknown = try await gateway.request("POST", "/v1/feedback", body: #"{"request_id":"nope","score":1}"#)
            #expect(unknown.status == 404)
            #expect(unknown.errorObject["code"] as? String == "request_not_found")
            for body in [
                #"{"request_id":"\#(id)","score":1.5}"#, #"{"score":1}"#, #"{"request_id":"\#(id)","score":"high"}"#,
                "not json", #"{"request_id":"\#(id)","score":1,"source":"shadow"}"#,
            ] {
                let bad = try await gateway.request("POST", "/v1/feedback", body: body)
                #expect(bad.status == 400, "\(body)")
                #expect(bad.errorObject["type"] as? String == "invalid_request_error")
            }
            // Another tenant cannot label it; the admin can.
            let quality = try await gateway.request("GET", "/v1/dashboard/quality.csv", headers: Self.admin)
            let row = try #require(Self.rows(quality).first { $0["model"] == "gpt-4o-mini" })
            #expect(row["labelled_requests"] == "1")
            #expect(row["mean_score"] == "0.750000")
        }
    }

    @Test("shutdown flushes the queue: the file holds every request afterwards; no text unless enabled")
    func flushOnShutdown() async throws {
        let path = Self.temporaryDatabase()
        defer {
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        }
        try await GatewayHarness.run(environment: Self.environment, configure: Self.configure(path: path)) { gateway in
            for _ in 0..<20 { _ = try await gateway.chat(chatBody()) }
        }
        let store = try OutcomeStore(path: path)
        let rows = try store.requests()
        #expect(rows.count == 20)
        #expect(rows.allSatisfy { $0.promptText == nil && $0.completionText == nil })
    }

    @Test("text is stored when enabled, never for a private request")
    func textPolicy() async throws {
        let path = Self.temporaryDatabase()
        defer {
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        }
        try await GatewayHarness.run(
            environment: Self.environment, configure: Self.configure(path: path, storesText: true)
        ) { gateway in
            _ = try await gateway.chat(chatBody())
            _ = try await gateway.chat(chatBody(), headers: GatewayHarness.authorized + [("x-phigate-privacy", "local-only")])
        }
        let rows = try OutcomeStore(path: path).requests()
        #expect(rows.count == 2)
        #expect(rows.filter { $0.promptText == "user: Say hello" }.count == 1)
        #expect(rows.first { $0.isPrivate }?.promptText == nil)
    }
}
