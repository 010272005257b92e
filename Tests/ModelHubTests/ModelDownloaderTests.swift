import Foundation
import Logging
import Testing

@testable import ModelHub

@Suite("model pull against a local file server")
struct ModelDownloaderTests {
    static let path = "/owner/repo/resolve/main/model.gguf"
    static let reference = ModelReference(repository: "owner/repo", file: "model.gguf")
    static let bytes = payload(count: 2 << 20)
    static let sha = sha256Hex(bytes)

    func downloader(
        _ server: HubServer, _ scratch: ScratchDirectory, retries: Int = 0, token: String? = nil,
        logger: Logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }
    ) -> ModelDownloader {
        ModelDownloader(
            options: ModelDownloadOptions(
                baseURL: server.baseURL, directory: scratch.path, token: token.map(HubToken.init), retries: retries,
                retryDelay: .zero, readTimeout: .seconds(30)),
            logger: logger)
    }

    @Test("a full download lands under its base name with the published SHA-256 checked")
    func fullDownload() async throws {
        let server = try await HubServer.start { request, _ in
            request.path == Self.path ? .file(Self.bytes, headers: ["ETag": "\"\(Self.sha)\""]) : .status(404)
        }
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        var events: [DownloadEvent] = []
        let result = try await downloader(server, scratch).download(Self.reference) { events.append($0) }
        await server.stop()

        #expect(result.path == "\(scratch.path)/model.gguf")
        #expect(result.outcome == .downloaded(resumedFrom: 0))
        #expect(result.isChecksumVerified)
        #expect(result.sha256 == Self.sha)
        #expect(result.bytes == Int64(Self.bytes.count))
        #expect(scratch.read("model.gguf") == Self.bytes)
        #expect(!scratch.exists("model.gguf.part"))
        #expect(events.first == .resolved(url: server.baseURL + Self.path, info: RemoteFileInfo(size: Int64(Self.bytes.count), sha256: Self.sha)))
        #expect(events.contains(.started(offset: 0, total: Int64(Self.bytes.count))))
        #expect(events.contains(.received(bytes: Int64(Self.bytes.count), total: Int64(Self.bytes.count))))
        #expect(server.requests.map(\.method) == ["HEAD", "GET"])
        #expect(server.requests.allSatisfy { $0.range == nil })
    }

    @Test("a partial file is resumed with a Range request and only the rest is sent")
    func resumesPartialFile() async throws {
        let server = try await HubServer.start { request, _ in
            .file(Self.bytes, headers: ["ETag": "\"\(Self.sha)\""])
        }
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let kept = 700_001
        try scratch.write(Array(Self.bytes[..<kept]), to: "model.gguf.part")
        var events: [DownloadEvent] = []
        let result = try await downloader(server, scratch).download(Self.reference) { events.append($0) }
        await server.stop()

        #expect(result.outcome == .downloaded(resumedFrom: Int64(kept)))
        #expect(result.isChecksumVerified)
        #expect(scratch.read("model.gguf") == Self.bytes)
        #expect(!scratch.exists("model.gguf.part"))
        let get = try #require(server.requests.first { $0.method == "GET" })
        #expect(get.range == "bytes=\(kept)-")
        #expect(get.bytesSent == Self.bytes.count - kept)
        #expect(events.contains(.hashingPartial(path: "\(scratch.path)/model.gguf.part", bytes: Int64(kept))))
        #expect(events.contains(.started(offset: Int64(kept), total: Int64(Self.bytes.count))))
    }

    @Test("a server that ignores Range (200) makes the download start over from byte 0")
    func restartsWhenRangeIgnored() async throws {
        let server = try await HubServer.start { _, _ in
            .file(Self.bytes, headers: ["ETag": "\"\(Self.sha)\""], honoursRange: false)
        }
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        try scratch.write(payload(count: 500_000, seed: 7), to: "model.gguf.part")  // not even a prefix of the file
        var events: [DownloadEvent] = []
        let result = try await downloader(server, scratch).download(Self.reference) { events.append($0) }
        await server.stop()

        #expect(result.isChecksumVerified)
        #expect(scratch.read("model.gguf") == Self.bytes)
        let get = try #require(server.requests.first { $0.method == "GET" })
        #expect(get.range == "bytes=500000-")
        #expect(get.bytesSent == Self.bytes.count)
        #expect(events.contains { if case .restarting = $0 { true } else { false } })
        #expect(events.contains(.started(offset: 0, total: Int64(Self.bytes.count))))
    }

    @Test("a SHA-256 mismatch fails naming both digests and deletes the partial file")
    func checksumMismatch() async throws {
        let published = sha256Hex(payload(count: 16, seed: 3))
        let server = try await HubServer.start { _, _ in .file(Self.bytes, headers: ["ETag": "\"\(published)\""]) }
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let error = await #expect(throws: ModelHubError.self) {
            _ = try await downloader(server, scratch).download(Self.reference)
        }
        await server.stop()

        #expect(error == .checksumMismatch(file: "model.gguf", expected: published, actual: Self.sha))
        #expect(error?.description.contains(published) == true)
        #expect(error?.description.contains(Self.sha) == true)
        #expect(!scratch.exists("model.gguf.part"))
        #expect(!scratch.exists("model.gguf"))
    }

    @Test(
        "401, 403 and 404 become messages that say what to do",
        arguments: [
            (404, [:], "not found: owner/repo/v2/dir/missing.gguf"),
            (404, ["X-Error-Code": "RevisionNotFound"], "not found: owner/repo/v2/dir/missing.gguf (RevisionNotFound)"),
            (401, [:], "unauthorized (HTTP 401) for owner/repo/v2/dir/missing.gguf"),
            (403, [:], "forbidden (HTTP 403) for owner/repo/v2/dir/missing.gguf"),
        ] as [(Int, [String: String], String)])
    func statusMessages(status: Int, headers: [String: String], message: String) async throws {
        let server = try await HubServer.start { _, _ in .status(status, headers: headers) }
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let reference = try ModelReference(parsing: "owner/repo/dir/missing.gguf", revision: "v2")
        let error = await #expect(throws: ModelHubError.self) {
            _ = try await downloader(server, scratch).download(reference)
        }
        await server.stop()

        #expect(error?.description.hasPrefix(message) == true, "\(String(describing: error))")
        #expect(server.requests.map(\.path) == ["/owner/repo/resolve/v2/dir/missing.gguf"])
        #expect(!scratch.exists("missing.gguf.part"))
    }

    @Test("an LFS redirect: size and SHA-256 come from X-Linked-*, the token stays on the hub's origin")
    func linkedRedirect() async throws {
        let token = "hf_testSecretToken1234567890"
        let cdn = try await HubServer.start { request, _ in
            request.path == "/blobs/model" ? .file(Self.bytes) : .status(404)
        }
        let hub = try await HubServer.start { request, _ in
            .redirect(
                "\(cdn.baseURL)/blobs/model?signature=abc",
                headers: ["X-Linked-Etag": "\"\(Self.sha)\"", "X-Linked-Size": "\(Self.bytes.count)", "ETag": "\"not-it\""])
        }
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let (logger, logs) = CapturingLogHandler.makeLogger()
        var events: [DownloadEvent] = []
        let result = try await downloader(hub, scratch, token: token, logger: logger).download(Self.reference) {
            events.append($0)
        }
        await hub.stop()
        await cdn.stop()

        #expect(result.isChecksumVerified)
        #expect(scratch.read("model.gguf") == Self.bytes)
        #expect(events.first == .resolved(url: hub.baseURL + Self.path, info: RemoteFileInfo(size: Int64(Self.bytes.count), sha256: Self.sha)))
        #expect(hub.requests.map(\.method) == ["HEAD", "GET"])
        #expect(hub.requests.allSatisfy { $0.authorization == "Bearer \(token)" })
        #expect(cdn.requests.map(\.method) == ["GET"])  // the HEAD stops at the hub
        #expect(cdn.requests.allSatisfy { $0.authorization == nil })
        #expect(!logs.text.isEmpty)
        #expect(!logs.text.contains(token))
    }

    @Test("a complete file already in place is checked and not fetched again")
    func existingFileShortCircuits() async throws {
        let server = try await HubServer.start { _, _ in .file(Self.bytes, headers: ["ETag": "\"\(Self.sha)\""]) }
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        try scratch.write(Self.bytes, to: "model.gguf")
        let result = try await downloader(server, scratch).download(Self.reference)
        await server.stop()

        #expect(result.outcome == .alreadyPresent)
        #expect(result.isChecksumVerified)
        #expect(server.requests.map(\.method) == ["HEAD"])
    }

    @Test("a file in place with the right size but other content is replaced")
    func existingDifferentFileIsReplaced() async throws {
        let server = try await HubServer.start { _, _ in .file(Self.bytes, headers: ["ETag": "\"\(Self.sha)\""]) }
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        try scratch.write(payload(count: Self.bytes.count, seed: 11), to: "model.gguf")
        var events: [DownloadEvent] = []
        let result = try await downloader(server, scratch).download(Self.reference) { events.append($0) }
        await server.stop()

        #expect(result.outcome == .downloaded(resumedFrom: 0))
        #expect(scratch.read("model.gguf") == Self.bytes)
        #expect(events.contains { if case .replacingExisting = $0 { true } else { false } })
    }

    @Test("a connection cut mid-transfer is resumed automatically from what reached the disk")
    func resumesAfterCut() async throws {
        let server = try await HubServer.start { request, index in
            request.method == "GET" && index == 0
                ? .file(Self.bytes, headers: ["ETag": "\"\(Self.sha)\""], cutAfter: 1_000_000)
                : .file(Self.bytes, headers: ["ETag": "\"\(Self.sha)\""])
        }
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        var events: [DownloadEvent] = []
        let result = try await downloader(server, scratch, retries: 2).download(Self.reference) { events.append($0) }
        await server.stop()

        #expect(result.isChecksumVerified)
        #expect(scratch.read("model.gguf") == Self.bytes)
        let gets = server.requests.filter { $0.method == "GET" }
        #expect(gets.count == 2)
        let retry = try #require(events.compactMap { event -> Int64? in
            if case .retrying(attempt: 1, of: 2, _, let offset) = event { offset } else { nil }
        }.first)
        #expect(retry > 0 && retry <= 1_000_000)
        #expect(gets.last?.range == "bytes=\(retry)-")
        #expect(gets.last?.bytesSent == Self.bytes.count - Int(retry))
    }

    @Test("without retries a cut keeps the partial file, says how to resume, and the next run resumes")
    func cutKeepsPartialFile() async throws {
        let server = try await HubServer.start { request, index in
            request.method == "GET" && index == 0
                ? .file(Self.bytes, headers: ["ETag": "\"\(Self.sha)\""], cutAfter: 1_000_000)
                : .file(Self.bytes, headers: ["ETag": "\"\(Self.sha)\""])
        }
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let error = await #expect(throws: ModelHubError.self) {
            _ = try await downloader(server, scratch).download(Self.reference)
        }
        guard case .transferFailed(_, _, let partialFile, let partialBytes, let total) = error else {
            Issue.record("expected transferFailed, got \(String(describing: error))")
            await server.stop()
            return
        }
        #expect(partialFile == "\(scratch.path)/model.gguf.part")
        #expect(partialBytes > 0 && partialBytes <= 1_000_000)
        #expect(total == Int64(Self.bytes.count))
        #expect(error?.description.contains("run the same command again to resume") == true)
        #expect(scratch.read("model.gguf.part") == Array(Self.bytes[..<Int(partialBytes)]))

        let result = try await downloader(server, scratch).download(Self.reference)
        await server.stop()
        #expect(result.outcome == .downloaded(resumedFrom: partialBytes))
        #expect(scratch.read("model.gguf") == Self.bytes)
    }
}
