// Stop strings matched on streamed text across token boundaries (OpenAI `stop`): text that could still
// become a stop string is held back; the stop string itself is never emitted.

/// Feeds decoded text pieces and returns what can be emitted.
public struct StopStringMatcher: Sendable {
    public let stopStrings: [String]
    private let stops: [[Unicode.Scalar]]
    private var pending: [Unicode.Scalar] = []

    public init(stopStrings: [String]) {
        self.stopStrings = stopStrings
        self.stops = stopStrings.map { Array($0.unicodeScalars) }.filter { !$0.isEmpty }
    }

    /// The result of appending a piece: text safe to emit, and whether a stop string was found (everything
    /// from the stop string on is dropped).
    public struct Step: Sendable, Equatable {
        public var text: String
        public var isStopped: Bool

        public init(text: String, isStopped: Bool) {
            self.text = text
            self.isStopped = isStopped
        }
    }

    public mutating func append(_ piece: String) -> Step {
        pending.append(contentsOf: piece.unicodeScalars)
        // The earliest complete match wins.
        var earliest: Int?
        for stop in stops {
            if let index = Self.firstIndex(of: stop, in: pending), index < (earliest ?? .max) { earliest = index }
        }
        if let earliest {
            let text = Self.string(pending[..<earliest])
            pending.removeAll()
            return Step(text: text, isStopped: true)
        }
        // Hold back the longest suffix that is a prefix of some stop string.
        var held = 0
        for stop in stops {
            let limit = min(stop.count - 1, pending.count)
            if limit <= held { continue }
            for length in stride(from: limit, to: held, by: -1)
            where pending[(pending.count - length)...].elementsEqual(stop[..<length]) {
                held = length
                break
            }
        }
        let emitCount = pending.count - held
        let text = Self.string(pending[..<emitCount])
        pending.removeFirst(emitCount)
        return Step(text: text, isStopped: false)
    }

    /// Text held back at the end of generation (no stop string completed).
    public mutating func flush() -> String {
        defer { pending.removeAll() }
        return Self.string(pending[...])
    }

    private static func firstIndex(of needle: [Unicode.Scalar], in haystack: [Unicode.Scalar]) -> Int? {
        guard needle.count <= haystack.count else { return nil }
        for start in 0...(haystack.count - needle.count)
        where haystack[start..<(start + needle.count)].elementsEqual(needle) {
            return start
        }
        return nil
    }

    private static func string(_ scalars: ArraySlice<Unicode.Scalar>) -> String {
        var result = String.UnicodeScalarView()
        result.append(contentsOf: scalars)
        return String(result)
    }
}
