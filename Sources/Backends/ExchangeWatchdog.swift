import NIOCore
import NIOPosix
import PhigateConfig
import Synchronization

/// A task that a deadline timer may cancel from another thread. Whoever holds it touches it only under a lock and
/// only while the task is still running its watched work (so still alive): that invariant is what makes handing it
/// to the timer's thread safe. Used by `ExchangeWatchdog` and by the server's request-body deadline.
package struct WatchedTask: @unchecked Sendable {
    package let task: UnsafeCurrentTask?

    package init(task: UnsafeCurrentTask?) {
        self.task = task
    }
}

/// Watches one upstream exchange for its three limits (no first byte within `firstByte`, the whole exchange past
/// `total`, an answer silent for `idle` since its latest piece) with one event-loop timer that re-arms itself
/// for the next instant a limit could be crossed, and cancels the exchange's task when one is.
final class ExchangeWatchdog: Sendable {
    private struct State {
        var running = true
        var expired: UpstreamFault.TimeoutPhase?
        var timer: Scheduled<Void>?
    }

    private let timeouts: BackendTimeouts
    private let signal: FirstByteSignal
    private let start = ContinuousClock.now
    private let eventLoop: any EventLoop
    private let state = Mutex(State())

    init(timeouts: BackendTimeouts, signal: FirstByteSignal, eventLoop: any EventLoop = NIOSingletons.posixEventLoopGroup.any()) {
        self.timeouts = timeouts
        self.signal = signal
        self.eventLoop = eventLoop
    }

    /// Starts watching `task` (the exchange's own task, cancelled when a limit is crossed).
    func arm(_ task: WatchedTask) {
        check(task)
    }

    /// Stops watching; the limit that fired, if one did.
    func disarm() -> UpstreamFault.TimeoutPhase? {
        let timer = state.withLock { state -> Scheduled<Void>? in
            state.running = false
            defer { state.timer = nil }
            return state.timer
        }
        timer?.cancel()
        return state.withLock { $0.expired }
    }

    private enum Verdict {
        case crossed(UpstreamFault.TimeoutPhase)
        case checkAgain(in: Duration)
    }

    /// Either the limit crossed now, or how long until the next one could be.
    private func verdict(at now: ContinuousClock.Instant) -> Verdict {
        let elapsed = start.duration(to: now)
        let left = timeouts.total - elapsed
        if left <= .zero { return .crossed(.total) }
        if let last = signal.lastArrival {
            let silent = last.duration(to: now)
            if silent >= timeouts.idle { return .crossed(.idle) }
            return .checkAgain(in: min(left, timeouts.idle - silent))
        }
        if elapsed >= timeouts.firstByte { return .crossed(.firstByte) }
        // Before the first byte, wake at least every `idle` so that an answer that started is then watched for silence.
        return .checkAgain(in: min(left, timeouts.firstByte - elapsed, timeouts.idle))
    }

    private func check(_ task: WatchedTask) {
        let verdict = verdict(at: ContinuousClock.now)
        state.withLock { state in
            guard state.running else { return }
            switch verdict {
            case .crossed(let phase):
                state.expired = phase
                state.running = false
                state.timer = nil
                task.task?.cancel()
            case .checkAgain(let wait):
                state.timer = eventLoop.scheduleTask(in: .nanoseconds(max(wait.nanoseconds, 1_000_000))) { [self] in
                    check(task)
                }
            }
        }
    }
}
