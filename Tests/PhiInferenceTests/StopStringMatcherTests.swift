import PhiInference
import Testing

@Suite("StopStringMatcher")
struct StopStringMatcherTests {
    @Test("a stop string split across pieces stops and is not emitted")
    func acrossPieces() {
        var matcher = StopStringMatcher(stopStrings: ["o w"])
        #expect(matcher.append("Hel") == .init(text: "Hel", isStopped: false))
        #expect(matcher.append("lo") == .init(text: "l", isStopped: false))  // "o" could begin "o w"
        #expect(matcher.append(" wo") == .init(text: "", isStopped: true))
    }

    @Test("text that could begin a stop string is held back, then released when it does not")
    func heldBack() {
        var matcher = StopStringMatcher(stopStrings: ["\n\nUser:"])
        #expect(matcher.append("ok\n") == .init(text: "ok", isStopped: false))
        #expect(matcher.append("\nUs") == .init(text: "", isStopped: false))
        #expect(matcher.append("ed") == .init(text: "\n\nUsed", isStopped: false))
        #expect(matcher.append("\n") == .init(text: "", isStopped: false))
        #expect(matcher.flush() == "\n")
    }

    @Test("the earliest of several stop strings wins; a stop string inside one piece")
    func severalStops() {
        var matcher = StopStringMatcher(stopStrings: ["END", "b"])
        #expect(matcher.append("a b END") == .init(text: "a ", isStopped: true))
        var other = StopStringMatcher(stopStrings: ["<|end|>"])
        #expect(other.append("done<|end|>tail") == .init(text: "done", isStopped: true))
    }

    @Test("without stop strings everything passes through")
    func none() {
        var matcher = StopStringMatcher(stopStrings: [])
        #expect(matcher.append("héllo 🚀") == .init(text: "héllo 🚀", isStopped: false))
        #expect(matcher.flush() == "")
    }
}
