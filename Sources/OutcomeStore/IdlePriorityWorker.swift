import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A dedicated thread the kernel runs only when a core would otherwise be idle (Linux `SCHED_IDLE`), for the
/// outcome log's SQLite work. At normal priority, the 20 ms batches of a lightly loaded gateway on two cores
/// took the core the event loop was about to wake on: 5 % of requests waited 0.3–1.5 ms (concurrency 1, p99
/// 1.9 → 1.1 ms with this thread; nice 10 and 19 did not help). Where the policy cannot be set it is an
/// ordinary thread. The recorder sends a backlog to normal-priority threads, so a busy machine cannot starve it.
final class IdlePriorityWorker: Sendable {
    private struct State {
        var jobs: [@Sendable () -> Void] = []
        var isStopping = false
    }

    private let state = Mutex(State())
    private let wakeUp = DispatchSemaphore(value: 0)
    /// Whether the thread runs at idle priority (set once it has started).
    private let idle = Atomic<Bool>(false)

    init(name: String) {
        let thread = Thread { [self] in
            #if os(Linux)
            // Otherwise it keeps the name of the thread that made it (an event loop's), which misleads `top -H`.
            try? String(name.prefix(15)).write(toFile: "/proc/thread-self/comm", atomically: false, encoding: .utf8)
            #endif
            idle.store(Self.lowerOwnPriority(), ordering: .relaxed)
            loop()
        }
        thread.start()
    }

    var isIdlePriority: Bool { idle.load(ordering: .relaxed) }

    /// Runs `body` on the thread and returns its result.
    func run<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            let accepted = state.withLock { state -> Bool in
                if state.isStopping { return false }
                state.jobs.append { continuation.resume(returning: body()) }
                return true
            }
            // Stopped already: run here rather than lose the work.
            if accepted { wakeUp.signal() } else { continuation.resume(returning: body()) }
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

    /// Puts the calling thread under `SCHED_IDLE` (Linux: the policy applies to the thread, pid 0 = caller).
    private static func lowerOwnPriority() -> Bool {
        #if os(Linux)
        var parameters = sched_param()
        parameters.sched_priority = 0
        let schedIdle: Int32 = 5  // SCHED_IDLE; Glibc's module does not export the GNU-only constant
        return sched_setscheduler(0, schedIdle, &parameters) == 0
        #else
        return false
        #endif
    }
}
