// `GET /readyz`: 200 when the gateway should get traffic; 503 while a local model is still loading or once
// graceful shutdown has begun (so a load balancer stops sending before the listener closes).

import LocalBackend
import NIOCore
import PhigateConfig
import ServiceLifecycle
import Synchronization

/// Process-level state shared by the runner and the application: whether the gateway is draining.
public final class GatewayLifecycle: Sendable {
    private let draining = Atomic<Bool>(false)

    public init() {}

    /// True once graceful shutdown has begun.
    public var isDraining: Bool { draining.load(ordering: .relaxed) }

    func beginDraining() { draining.store(true, ordering: .relaxed) }
}

/// Flips `GatewayLifecycle.isDraining` when graceful shutdown begins, then holds the server open for `delay` (it
/// keeps answering, `/readyz` with 503). The runner lists it after the application, so it hears the signal first
/// (services are shut down in reverse order).
struct DrainSignalService: Service {
    let lifecycle: GatewayLifecycle
    let delay: Duration

    func run() async throws {
        try? await gracefulShutdown()
        lifecycle.beginDraining()
        if delay > .zero { try? await Task.sleep(for: delay) }
    }
}

/// The `/readyz` answer: overall status and one word per backend.
struct GatewayReadiness: Sendable {
    let resolved: ResolvedConfig
    let localHosts: [String: LocalModelHost]
    let lifecycle: GatewayLifecycle
    /// The answer when nothing can change (no local backends, not draining).
    private let staticReady: ByteBuffer

    init(resolved: ResolvedConfig, localHosts: [LocalModelHost], lifecycle: GatewayLifecycle) {
        self.resolved = resolved
        self.localHosts = Dictionary(localHosts.map { ($0.backendName, $0) }, uniquingKeysWith: { first, _ in first })
        self.lifecycle = lifecycle
        self.staticReady = ByteBuffer(string: Self.render(status: "ready", backends: Self.words(resolved, hosts: [:])))
    }

    /// HTTP status code and JSON body.
    func answer() -> (status: Int, body: ByteBuffer) {
        if localHosts.isEmpty && !lifecycle.isDraining { return (200, staticReady) }
        let words = Self.words(resolved, hosts: localHosts)
        let loading = localHosts.values.contains { if case .loading = $0.status { true } else { false } }
        let status: String
        if lifecycle.isDraining {
            status = "draining"
        } else if loading {
            status = "loading"
        } else {
            status = words.contains { $0.1 == "down" } ? "degraded" : "ready"
        }
        let code = status == "ready" || status == "degraded" ? 200 : 503
        return (code, ByteBuffer(string: Self.render(status: status, backends: words)))
    }

    /// `{"status":"ready","backends":{"openai":"ok","anthropic":"missing_key","local":"loading"}}`
    private static func render(status: String, backends: [(String, String)]) -> String {
        let members = backends.map { "\(JSONEscaping.quoted($0.0)):\(JSONEscaping.quoted($0.1))" }
        return #"{"status":\#(JSONEscaping.quoted(status)),"backends":{\#(members.joined(separator: ","))}}"#
    }

    private static func words(_ resolved: ResolvedConfig, hosts: [String: LocalModelHost]) -> [(String, String)] {
        let missing = Set(resolved.backendsMissingKey)
        return resolved.config.backends.map { backend in
            if let host = hosts[backend.name] { return (backend.name, host.status.label) }
            if resolved.disabledBackends[backend.name] != nil { return (backend.name, "disabled") }
            return (backend.name, missing.contains(backend.name) ? "missing_key" : "ok")
        }
    }
}
