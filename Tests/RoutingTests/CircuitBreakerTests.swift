import Routing
import Testing

/// The circuit breaker, retry budget and backoff as values: events in, states and admissions out; time is
/// whatever instant the test passes.
@Suite struct CircuitBreakerTests {
    static let start = ContinuousClock.now
    static func at(_ seconds: Double) -> ContinuousClock.Instant { start.advanced(by: .milliseconds(seconds * 1000)) }

    static func breaker(consecutive: Int = 3, rate: Double = 1, window: Int = 10, cooldown: Duration = .seconds(30)) -> CircuitBreaker {
        CircuitBreaker(configuration: .init(consecutiveFailures: consecutive, failureRate: rate, window: window, cooldown: cooldown))
    }

    @Test func opensAfterConsecutiveFailuresAndFailsFastUntilTheCooldownEnds() {
        var breaker = Self.breaker()
        for second in 0..<3 {
            #expect(breaker.admit(at: Self.at(Double(second))) == .allowed)
            breaker.record(.failure, admission: .allowed, at: Self.at(Double(second)))
        }
        #expect(breaker.state == .open(until: Self.at(32)))
        #expect(breaker.kind(at: Self.at(10)) == .open)
        #expect(breaker.admit(at: Self.at(10)) == .rejected(retryAfter: .seconds(22)))
        #expect(breaker.kind(at: Self.at(32)) == .halfOpen)
    }

    @Test func aSuccessResetsTheStreak() {
        var breaker = Self.breaker()
        for result in [CircuitBreaker.CallResult.failure, .failure, .success, .failure, .failure] {
            breaker.record(result, admission: breaker.admit(at: Self.at(0)), at: Self.at(0))
        }
        #expect(breaker.state == .closed)
    }

    @Test func opensOnTheFailureRateOfAFullWindow() {
        var breaker = Self.breaker(consecutive: 0, rate: 0.5, window: 4)
        for result in [CircuitBreaker.CallResult.failure, .success, .failure, .success, .success] {
            breaker.record(result, admission: breaker.admit(at: Self.at(0)), at: Self.at(0))
        }
        #expect(breaker.state == .closed, "1 failure in the last 4")
        breaker.record(.failure, admission: breaker.admit(at: Self.at(1)), at: Self.at(1))
        #expect(breaker.state == .open(until: Self.at(31)))
    }

    @Test func ignoredResultsDoNotCount() {
        var breaker = Self.breaker(consecutive: 2)
        for _ in 0..<10 { breaker.record(.ignored, admission: breaker.admit(at: Self.at(0)), at: Self.at(0)) }
        #expect(breaker.state == .closed)
    }

    @Test func halfOpenLetsOneProbeThroughAndASuccessCloses() {
        var breaker = Self.breaker(consecutive: 1)
        breaker.record(.failure, admission: breaker.admit(at: Self.at(0)), at: Self.at(0))
        #expect(breaker.admit(at: Self.at(30)) == .probe)
        #expect(breaker.state == .halfOpen(isProbing: true))
        #expect(breaker.admit(at: Self.at(30.5)) == .rejected(retryAfter: .seconds(30)), "only one probe at a time")
        breaker.record(.success, admission: .probe, at: Self.at(31))
        #expect(breaker.state == .closed)
        #expect(breaker.admit(at: Self.at(31)) == .allowed)
    }

    @Test func aFailedProbeOpensForAnotherCooldown() {
        var breaker = Self.breaker(consecutive: 1)
        breaker.record(.failure, admission: breaker.admit(at: Self.at(0)), at: Self.at(0))
        #expect(breaker.admit(at: Self.at(40)) == .probe)
        breaker.record(.failure, admission: .probe, at: Self.at(41))
        #expect(breaker.state == .open(until: Self.at(71)))
    }

    @Test func anAbandonedProbeLetsTheNextCallProbe() {
        var breaker = Self.breaker(consecutive: 1)
        breaker.record(.failure, admission: breaker.admit(at: Self.at(0)), at: Self.at(0))
        #expect(breaker.admit(at: Self.at(30)) == .probe)
        breaker.record(.ignored, admission: .probe, at: Self.at(30))
        #expect(breaker.admit(at: Self.at(30)) == .probe)
    }

    @Test func lateResultsOfCallsAdmittedBeforeTheCircuitOpenedChangeNothing() {
        var breaker = Self.breaker(consecutive: 1)
        let early = breaker.admit(at: Self.at(0))
        breaker.record(.failure, admission: breaker.admit(at: Self.at(0)), at: Self.at(0))
        breaker.record(.success, admission: early, at: Self.at(1))
        #expect(breaker.state == .open(until: Self.at(30)))
    }

    @Test func retryBudgetStartsWithItsReserveAndRefillsByRatio() {
        var budget = RetryBudget(ratio: 0.5, reserve: 2)
        var granted: [Bool] = []
        granted.append(budget.withdraw())
        granted.append(budget.withdraw())
        granted.append(budget.withdraw())
        budget.deposit()
        granted.append(budget.withdraw())
        budget.deposit()
        granted.append(budget.withdraw())
        #expect(granted == [true, true, false, false, true])
        for _ in 0..<100 { budget.deposit() }
        #expect(budget.balance == 2, "capped at the reserve")
    }

    @Test(arguments: [(1, 0.5, 50), (2, 0.5, 100), (3, 1.0, 400), (4, 0.999, 499), (10, 1.0, 500), (3, 0.0, 0)])
    func backoffIsExponentialWithFullJitterUnderTheCap(retry: Int, unit: Double, milliseconds: Int) {
        let backoff = RetryBackoff(initial: .milliseconds(100), maximum: .milliseconds(500))
        let delay = backoff.delay(forRetry: retry, unit: unit)
        #expect(abs(Double(delay.components.attoseconds) / 1e15 + Double(delay.components.seconds) * 1000 - Double(milliseconds)) < 1)
    }
}
