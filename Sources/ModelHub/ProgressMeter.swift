// Progress text for a download: an updating bar on a terminal, plain lines elsewhere (no clock inside).

/// Turns byte counts into progress text: an updating bar for a terminal (`\r`, no newline) or plain lines
/// for logs. Time comes in as elapsed `Duration`, so the meter is a value that tests drive directly.
public struct ProgressMeter: Sendable {
    public enum Style: Sendable, Equatable {
        /// One line redrawn in place, at most every `interval`.
        case terminal(barWidth: Int = 24, interval: Duration = .milliseconds(100))
        /// A line at every `percentStep` and at least every `interval` (for logs and pipes).
        case lines(percentStep: Int = 5, interval: Duration = .seconds(10))
    }

    public let style: Style
    public let total: Int64?
    /// Bytes that were there before this transfer (excluded from the rate).
    public let offset: Int64
    private var lastEmit: Duration?
    private var lastStep: Int64 = -1

    public init(style: Style, total: Int64?, offset: Int64 = 0) {
        self.style = style
        self.total = total
        self.offset = offset
    }

    /// The text to write now for `bytes` received after `elapsed`, or nil when it is not time yet.
    public mutating func update(bytes: Int64, elapsed: Duration) -> String? {
        switch style {
        case .terminal(_, let interval):
            let isDone = total.map { bytes >= $0 } ?? false
            if let lastEmit, elapsed - lastEmit < interval, !isDone { return nil }
            lastEmit = elapsed
            return "\r" + status(bytes: bytes, elapsed: elapsed) + "\u{1B}[K"
        case .lines(let percentStep, let interval):
            var isDue = lastEmit.map { elapsed - $0 >= interval } ?? (total == nil)
            if let total, total > 0 {
                let step = min(bytes, total) * 100 / total / Int64(max(percentStep, 1))
                if step > lastStep {
                    isDue = true
                    lastStep = step
                }
            }
            guard isDue else { return nil }
            lastEmit = elapsed
            return status(bytes: bytes, elapsed: elapsed) + "\n"
        }
    }

    /// The closing text: the terminal line completed with a newline, or a last plain line.
    public func finish(bytes: Int64, elapsed: Duration) -> String {
        switch style {
        case .terminal: return "\r" + status(bytes: bytes, elapsed: elapsed, isFinal: true) + "\u{1B}[K\n"
        case .lines: return status(bytes: bytes, elapsed: elapsed, isFinal: true) + "\n"
        }
    }

    /// ` 45% [#####-----]  123.4/2282.1 MiB  35.2 MiB/s  ETA 1:01`
    func status(bytes: Int64, elapsed: Duration, isFinal: Bool = false) -> String {
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let rate = seconds > 0 ? Double(max(bytes - offset, 0)) / seconds : 0
        let rateText = ByteCount.mib(Int64(rate)) + "/s"
        guard let total, total > 0 else {
            return "\(ByteCount.mib(bytes))  \(rateText)" + (isFinal ? "  \(Self.clock(seconds))" : "")
        }
        let fraction = min(Double(bytes) / Double(total), 1)
        let percent = Int64(fraction * 100)
        var text = percent < 10 ? "  \(percent)%" : percent < 100 ? " \(percent)%" : "\(percent)%"
        if case .terminal(let width, _) = style, width > 0 {
            let filled = Int(fraction * Double(width))
            text += " [" + String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled) + "]"
        }
        let sizes = "\(ByteCount.mib(bytes).dropLast(4))/\(ByteCount.mib(total))"
        text += "  \(sizes)  \(rateText)"
        if isFinal {
            text += "  in \(Self.clock(seconds))"
        } else if rate > 0 {
            text += "  ETA \(Self.clock(Double(max(total - bytes, 0)) / rate))"
        } else {
            text += "  ETA --:--"
        }
        return text
    }

    /// `m:ss` or `h:mm:ss`.
    static func clock(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0, seconds < 360_000_000 else { return "--:--" }
        let whole = Int(seconds.rounded(.up))
        let (hours, minutes, secs) = (whole / 3600, whole / 60 % 60, whole % 60)
        let twoDigits = { (value: Int) in value < 10 ? "0\(value)" : "\(value)" }
        return hours > 0 ? "\(hours):\(twoDigits(minutes)):\(twoDigits(secs))" : "\(minutes):\(twoDigits(secs))"
    }
}
