import Testing

@testable import ModelHub

@Suite("REPO/FILE, base URL, token and published digests")
struct ModelReferenceTests {
    @Test("the first two components are the repository, the rest the file")
    func parses() throws {
        let reference = try ModelReference(parsing: "microsoft/Phi-3-mini-4k-instruct-gguf/Phi-3-mini-4k-instruct-q4.gguf")
        #expect(reference.repository == "microsoft/Phi-3-mini-4k-instruct-gguf")
        #expect(reference.file == "Phi-3-mini-4k-instruct-q4.gguf")
        #expect(reference.revision == "main")
        #expect(
            try reference.url(base: "https://huggingface.co")
                == "https://huggingface.co/microsoft/Phi-3-mini-4k-instruct-gguf/resolve/main/Phi-3-mini-4k-instruct-q4.gguf")

        let nested = try ModelReference(parsing: "owner/name/quants/q 4.gguf", revision: "refs/pr/1")
        #expect(nested.fileName == "q 4.gguf")
        #expect(try nested.url(base: "http://127.0.0.1:8080/mirror/") == "http://127.0.0.1:8080/mirror/owner/name/resolve/refs%2Fpr%2F1/quants/q%204.gguf")
        #expect(nested.description == "owner/name/refs/pr/1/quants/q 4.gguf")
    }

    @Test(
        "specs that are not owner/name/path are refused with the expected shape",
        arguments: ["phi-2.Q4_0.gguf", "TheBloke/phi-2.Q4_0.gguf", "owner//file.gguf", "owner/name/", "/owner/name/f.gguf",
                    "owner/name/../f.gguf", "https://huggingface.co/owner/name/f.gguf"])
    func refusesBadSpecs(spec: String) {
        let error = #expect(throws: ModelHubError.self) { _ = try ModelReference(parsing: spec) }
        guard case .invalidReference(let found, _) = error else {
            Issue.record("expected invalidReference, got \(String(describing: error))")
            return
        }
        #expect(found == spec)
        #expect(error?.description.contains("owner/name/file.gguf") == true)
    }

    @Test("revisions with spaces or '..' and base URLs that are not http(s) are refused")
    func refusesBadRevisionAndBase() throws {
        #expect(throws: ModelHubError.invalidRevision("a b")) { _ = try ModelReference(parsing: "o/n/f.gguf", revision: "a b") }
        #expect(throws: ModelHubError.invalidRevision("")) { _ = try ModelReference(parsing: "o/n/f.gguf", revision: "") }
        let reference = try ModelReference(parsing: "o/n/f.gguf")
        #expect(throws: ModelHubError.invalidBaseURL("ftp://example.org")) { _ = try reference.url(base: "ftp://example.org") }
        #expect(throws: ModelHubError.invalidBaseURL("huggingface.co")) { _ = try reference.url(base: "huggingface.co") }
    }

    @Test("--base-url wins over HF_ENDPOINT, which wins over huggingface.co; HF_TOKEN is never printed")
    func endpointAndToken() {
        #expect(HubEndpoint.baseURL(option: "http://a", environment: ["HF_ENDPOINT": "http://b"]) == "http://a")
        #expect(HubEndpoint.baseURL(option: nil, environment: ["HF_ENDPOINT": "http://b"]) == "http://b")
        #expect(HubEndpoint.baseURL(option: nil, environment: [:]) == "https://huggingface.co")
        #expect(HubEndpoint.token(environment: ["HF_TOKEN": " "]) == nil)
        let token = HubEndpoint.token(environment: ["HF_TOKEN": "hf_secret\n"])
        #expect(token?.value == "hf_secret")
        #expect("\(String(describing: token))".contains("hf_secret") == false)
        #expect("\(ModelDownloadOptions(token: token))".contains("hf_secret") == false)
    }

    @Test(
        "a SHA-256 is read from quoted, weak or bare entity tags of 64 hex digits only",
        arguments: [
            ("\"\(String(repeating: "ab", count: 32))\"", String(repeating: "ab", count: 32)),
            ("W/\"\(String(repeating: "AB", count: 32))\"", String(repeating: "ab", count: 32)),
            (String(repeating: "0", count: 64), String(repeating: "0", count: 64)),
            ("\"\(String(repeating: "a", count: 40))\"", nil),  // a git blob id
            ("\"\(String(repeating: "g", count: 64))\"", nil),
            ("\"abc-12\"", nil),
        ] as [(String, String?)])
    func etags(tag: String, sha: String?) {
        #expect(RemoteFileInfo.sha256(fromETag: tag) == sha)
    }

    @Test("X-Linked-Size and X-Linked-Etag win; Content-Length and ETag only count on a 200")
    func linkedHeaders() {
        let sha = String(repeating: "c", count: 64)
        let other = String(repeating: "d", count: 64)
        let headers = [
            (name: "x-linked-size", value: "123"), (name: "X-Linked-Etag", value: "\"\(sha)\""),
            (name: "Content-Length", value: "7"), (name: "ETag", value: "\"\(other)\""), (name: "X-Repo-Commit", value: "abc"),
        ]
        #expect(RemoteFileInfo(headers: headers, includeEntityHeaders: true) == RemoteFileInfo(size: 123, sha256: sha, commit: "abc"))
        let plain = [(name: "Content-Length", value: "7"), (name: "ETag", value: "\"\(other)\"")]
        #expect(RemoteFileInfo(headers: plain, includeEntityHeaders: true) == RemoteFileInfo(size: 7, sha256: other))
        #expect(RemoteFileInfo(headers: plain, includeEntityHeaders: false) == RemoteFileInfo())
    }

    @Test("Content-Range and origins")
    func contentRangeAndOrigin() {
        #expect(ContentRange("bytes 100-199/200") == ContentRange(start: 100, end: 199, total: 200))
        #expect(ContentRange("bytes 100-199/*")?.total == nil)
        #expect(ContentRange("bytes */200") == nil)
        #expect(Origin("https://huggingface.co/a") == Origin("https://HuggingFace.co:443/b"))
        #expect(Origin("https://huggingface.co/a") != Origin("https://cdn-lfs.huggingface.co/a"))
        #expect(Origin("http://127.0.0.1:80/a") == Origin("http://127.0.0.1/b"))
        #expect(Origin("http://127.0.0.1:8080/a") != Origin("http://127.0.0.1:8081/a"))
    }
}

extension ContentRange {
    init(start: Int64, end: Int64, total: Int64?) {
        self.init("bytes \(start)-\(end)/\(total.map(String.init) ?? "*")")!
    }
}
