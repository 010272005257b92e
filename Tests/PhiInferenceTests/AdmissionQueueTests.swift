@testable import PhiInference
import Testing

@Suite("AdmissionQueue: slots, KV budget, FIFO")
struct AdmissionQueueTests {
    func admitted(_ outcome: AdmissionQueue<String>.SubmitOutcome) -> String? {
        if case .admitted(let request) = outcome { return request }
        return nil
    }

    @Test("requests run while slots and budget last, then wait; a full queue refuses")
    func slotsAndQueue() {
        var queue = AdmissionQueue<String>(maxActive: 2, queueCapacity: 1, budgetBytes: nil)
        #expect(admitted(queue.submit(id: 0, bytes: 10, request: "a")) == "a")
        #expect(admitted(queue.submit(id: 1, bytes: 10, request: "b")) == "b")
        guard case .queued = queue.submit(id: 2, bytes: 10, request: "c") else { Issue.record("c should wait"); return }
        guard case .full = queue.submit(id: 3, bytes: 10, request: "d") else { Issue.record("d should be refused"); return }
        #expect(queue.activeCount == 2 && queue.bytesInUse == 20)
        #expect(queue.release(bytes: 10) == ["c"])
        #expect(queue.activeCount == 2 && queue.waiting.isEmpty)
    }

    @Test("the head waits for budget and nobody overtakes it; a head that leaves lets the next in")
    func budgetFIFO() {
        var queue = AdmissionQueue<String>(maxActive: 4, queueCapacity: 4, budgetBytes: 100)
        #expect(!queue.canEverFit(bytes: 101))
        #expect(admitted(queue.submit(id: 0, bytes: 60, request: "a")) == "a")
        guard case .queued = queue.submit(id: 1, bytes: 50, request: "big") else { Issue.record(); return }
        // Fits the budget by itself, but "big" came first.
        guard case .queued = queue.submit(id: 2, bytes: 10, request: "small") else { Issue.record(); return }
        let (removed, next) = queue.removeWaiting(id: 1)
        #expect(removed == "big")
        #expect(next == ["small"])
        #expect(queue.bytesInUse == 70)
        guard case .queued = queue.submit(id: 3, bytes: 40, request: "c") else { Issue.record(); return }
        #expect(queue.release(bytes: 60) == ["c"])
        #expect(queue.bytesInUse == 50 && queue.activeCount == 2)
    }
}
