@preconcurrency import Dispatch
import Foundation
import Synchronization

/// SIGHUP for every listener in the process: one signal source fans out to all of them (several sources for one
/// signal do not each get it).
enum HangupSignal {
    private struct State {
        var source: (any DispatchSourceSignal)?
        var listeners: [UInt64: AsyncStream<Void>.Continuation] = [:]
        var nextID: UInt64 = 0
    }

    private static let state = Mutex(State())

    /// Yields once per SIGHUP until the consumer goes away.
    static func stream() -> AsyncStream<Void> {
        let (stream, continuation) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        let id = state.withLock { state -> UInt64 in
            if state.source == nil {
                signal(SIGHUP, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global())
                source.setEventHandler { broadcast() }
                source.resume()
                state.source = source
            }
            state.nextID += 1
            state.listeners[state.nextID] = continuation
            return state.nextID
        }
        continuation.onTermination = { _ in _ = state.withLock { $0.listeners.removeValue(forKey: id) } }
        return stream
    }

    private static func broadcast() {
        let listeners = state.withLock { Array($0.listeners.values) }
        for listener in listeners { listener.yield() }
    }
}
