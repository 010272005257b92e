import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A dedicated thread the kernel runs only when a core would otherwise be idle (Linux `SCHED_IDLE`), for the
/// outcome log's SQLite work. At normal priority, the 20 ms batches of a lightly loaded gateway on two cores
/// took the core the event loop was about to wake on: 5 % of requests waited 0.3–1.5 ms (concurrency 1, p99
/// 1.6–2.0 → 0.7–0.9 ms with this thread; nice 10 and 19 did not help). Where the policy cannot be set it is an
/// ordinary thread. A machine with no idle time (a local model decoding on every core) would starve it, so a job
/// the thread has not started within its patience is abandoned and the caller writes elsewhere.
final class IdlePriorityWorker: Sendable {
    private struct State {
        var jobs: [@Sendable () -> Void] = []
        var isStopping = false
    }

    /// Taken once, by whichever of the thread and the patience timer comes first.
    private final class Claim: Sendable {
        private let taken = Atomic<Bool>(false)
        func take() -> Bool { !taken.exchange(true, ordering: .acquiringAndReleasing) }
    }

    private let state = Mutex(State())
    private let wakeUp = DispatchSemaphore(value: 0)

    init(name: String) {
        let thread = Thread { [self] in
            #if os(Linux)
            // Otherwise it keeps the name of the thread that made it (an event loop's), which misleads `top -H`.
            try? String(name.prefix(15)).write(toFile: "/proc/thread-self/comm", atomically: false, encoding: .utf8)
            #endif
            Self.lowerOwnPriority()
            loop()
        }
        thread.start()
    }

    /// Runs `body` on the thread and returns its result, or returns nil without running it when the thread has
    /// not started it within `patience` (or has stopped).
    func run<T: Sendable>(within patience: Duration, _ body: @escaping @Sendable () -> T) async -> T? {
        await withCheckedContinuation { (continuation: CheckedContinuation<T?, Never>) in
            let claim = Claim()
            let accepted = state.withLock { state -> Bool in
                if state.isStopping { return false }
                state.jobs.append {
                    if claim.take() { continuation.resume(returning: body()) }
                }
                return true
            }
            guard accepted else {
                continuation.resume(returning: nil)
                return
            }
            wakeUp.signal()
            let (seconds, attoseconds) = patience.components
            let wait = DispatchTimeInterval.nanoseconds(Int(seconds) * 1_000_000_000 + Int(attoseconds / 1_000_000_000))
            DispatchQueue.global().asyncAfter(deadline: .now() + wait) {
                if claim.take() { continuation.resume(returning: nil) }
            }
        }
    }

    /// Lets the thread finish the jobs it has and exit.
    func stop() {
        state.withLock { $0.isStopping = true }
        wakeUp.signal()
    }

    private func loop() {
        while true {
            wakeUp.wait()
            let (jobs, isStopping) = state.withLock { state in
                defer { state.jobs.removeAll() }
                return (state.jobs, state.isStopping)
            }
            for job in jobs { job() }
            if isStopping && jobs.isEmpty { return }
            if isStopping { wakeUp.signal() }
        }
    }

    /// Puts the calling thread under `SCHED_IDLE` (Linux: the policy applies to the thread, pid 0 = caller); where
    /// that fails it stays an ordinary thread.
    private static func lowerOwnPriority() {
        #if os(Linux)
        var parameters = sched_param()
        parameters.sched_priority = 0
        let schedIdle: Int32 = 5  // SCHED_IDLE; Glibc's module does not export the GNU-only constant
        _ = sched_setscheduler(0, schedIdle, &parameters)
        #endif
    }
}
