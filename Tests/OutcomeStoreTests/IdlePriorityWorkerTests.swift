import Foundation
import Synchronization
import Testing

@testable import OutcomeStore

/// The outcome writer's idle-priority thread: results come back, and a job it cannot start in time is given back
/// to the caller and never runs there afterwards (so a batch is not written twice).
@Suite struct IdlePriorityWorkerTests {
    final class Flag: Sendable {
        private let value = Mutex(false)
        func set() { value.withLock { $0 = true } }
        var isSet: Bool { value.withLock { $0 } }
    }

    @Test func returnsResults() async {
        let worker = IdlePriorityWorker(name: "test-idle")
        defer { worker.stop() }
        for i in 0..<20 {
            #expect(await worker.run(within: .seconds(30)) { i * 2 } == i * 2)
        }
    }

    @Test func abandonsAJobItDidNotStartInTime() async {
        let worker = IdlePriorityWorker(name: "test-idle")
        defer { worker.stop() }
        let gate = DispatchSemaphore(value: 0)
        let secondRan = Flag()
        async let blocker = worker.run(within: .seconds(30)) { () -> Int in
            gate.wait()
            return 1
        }
        try? await Task.sleep(for: .milliseconds(20))
        // Queued behind the blocked job, or not yet picked up: either way not started within 10 ms.
        let second = await worker.run(within: .milliseconds(10)) { () -> Int in
            secondRan.set()
            return 2
        }
        #expect(second == nil)
        gate.signal()
        #expect(await blocker == 1)
        #expect(await worker.run(within: .seconds(30)) { 3 } == 3)
        #expect(!secondRan.isSet)
    }

    @Test func stoppedWorkerRunsNothing() async {
        let worker = IdlePriorityWorker(name: "test-idle")
        worker.stop()
        let ran = Flag()
        #expect(await worker.run(within: .seconds(1)) { ran.set() } == nil)
        #expect(!ran.isSet)
    }
}
