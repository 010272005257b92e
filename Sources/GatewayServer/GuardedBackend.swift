import Backends
import Logging
import OpenAIWire
import PhigateConfig
import Synchronization

/// In-flight requests per backend against `limits.backend_concurrency`. A full backend answers 429 at once (no
/// queue: the client or a routing fallback decides what to do).
final class BackendConcurrency: Sendable {
    let limits: [String: Int]
    private let inFlight = Mutex<[String: Int]>([:])

    init(limits: [String: Int]) {
        self.limits = limits
    }

    /// A slot on `backend`, or nil when it is full (or unlimited: then no slot is needed).
    func acquire(_ backend: String) throws(GatewayError) -> Slot? {
        guard let limit = limits[backend] else { return nil }
        let admitted = inFlight.withLock { counts in
            let current = counts[backend, default: 0]
            guard current < limit else { return false }
            counts[backend] = current + 1
            return true
        }
        guard admitted else { throw .backendBusy(backend, limit: limit) }
        return Slot(owner: self, backend: backend)
    }

    /// Requests in flight to `backend` now.
    func count(_ backend: String) -> Int { inFlight.withLock { $0[backend, default: 0] } }

    fileprivate func release(_ backend: String) {
        inFlight.withLock { $0[backend, default: 1] -= 1 }
    }

    /// One request's place; released once, explicitly or when the last reference goes (a dropped stream).
    final class Slot: Sendable {
        private let owner: BackendConcurrency
        private let backend: String
        private let isReleased = Mutex(false)

        fileprivate init(owner: BackendConcurrency, backend: String) {
            self.owner = owner
            self.backend = backend
        }

        func release() {
            guard !isReleased.withLock({ released in defer { released = true }; return released }) else { return }
            owner.release(backend)
        }

        deinit { release() }
    }
}

/// A real backend behind the gateway's per-backend guards: the key's allowed backends (routed requests too) and
/// the backend's concurrency limit.
struct GuardedBackend: ChatBackendWrapper {
    let base: any ChatBackend
    let concurrency: BackendConcurrency

    var name: String { base.name }
    var kind: BackendKind { base.kind }

    private func admit() throws(GatewayError) -> BackendConcurrency.Slot? {
        if let grant = KeyGrant.current, !grant.allowedBackends.isEmpty, !grant.allowedBackends.contains(base.name) {
            throw .backendNotAllowed(base.name)
        }
        return try concurrency.acquire(base.name)
    }

    func complete(_ request: ChatCompletionRequest, upstreamModel: String, logger: Logger) async throws -> ChatCompletionResponse {
        let slot = try admit()
        defer { slot?.release() }
        return try await base.complete(request, upstreamModel: upstreamModel, logger: logger)
    }

    func completeRaw(_ request: ChatCompletionRequest, upstreamModel: String, logger: Logger) async throws -> RawChatCompletion {
        let slot = try admit()
        defer { slot?.release() }
        return try await base.completeRaw(request, upstreamModel: upstreamModel, logger: logger)
    }

    func stream(_ request: ChatCompletionRequest, upstreamModel: String, logger: Logger) -> AsyncThrowingStream<ChatStreamEvent, any Error> {
        let slot: BackendConcurrency.Slot?
        do {
            slot = try admit()
        } catch {
            return AsyncThrowingStream { $0.finish(throwing: error) }
        }
        let upstream = base.stream(request, upstreamModel: upstreamModel, logger: logger)
        guard let slot else { return upstream }
        // The slot lives as long as the iterator: released at the end, on an error, or when the consumer drops it.
        let box = IteratorBox(upstream.makeAsyncIterator(), slot: slot)
        return AsyncThrowingStream(unfolding: { try await box.next() })
    }

    /// Invariant: `AsyncThrowingStream(unfolding:)` calls `next` once at a time, so the iterator is never used
    /// concurrently.
    private final class IteratorBox: @unchecked Sendable {
        private var iterator: AsyncThrowingStream<ChatStreamEvent, any Error>.Iterator
        private let slot: BackendConcurrency.Slot

        init(_ iterator: AsyncThrowingStream<ChatStreamEvent, any Error>.Iterator, slot: BackendConcurrency.Slot) {
            self.iterator = iterator
            self.slot = slot
        }

        func next() async throws -> ChatStreamEvent? {
            do {
                guard let event = try await iterator.next() else {
                    slot.release()
                    return nil
                }
                return event
            } catch {
                slot.release()
                throw error
            }
        }
    }
}

extension BackendRegistry {
    /// The same registry with every backend behind `GuardedBackend` (when any key has backend restrictions or
    /// any backend a concurrency limit).
    func guarded(config: GatewayConfig, resolved: ResolvedConfig, concurrency: BackendConcurrency) -> BackendRegistry {
        BackendRegistry(
            config: config,
            backends: backends.values.map { GuardedBackend(base: $0, concurrency: concurrency) },
            backendsMissingKey: Set(resolved.backendsMissingKey),
            unavailableBackends: resolved.disabledBackends)
    }
}
