public import Foundation

extension UpstreamFault {
    /// Longest wait taken from a header (a day); longer values read as this.
    static let retryAfterLimit = Duration.seconds(86_400)

    /// The wait one response header asks for: `retry-after-ms` in milliseconds, or `Retry-After` as
    /// delay-seconds or an HTTP date (RFC 9110 §10.2.3) relative to `now`. A negative wait or a past date is
    /// zero; an unreadable value is nil.
    public static func retryAfter(header name: String, value: String, now: Date) -> Duration? {
        let text = value.trimmingCharacters(in: .whitespaces)
        guard !text.isEmpty else { return nil }
        if name.lowercased() == "retry-after-ms" {
            guard let ms = Double(text), ms.isFinite else { return nil }
            return clamped(seconds: ms / 1000)
        }
        if let seconds = Double(text), seconds.isFinite { return clamped(seconds: seconds) }
        guard let date = httpDate(text) else { return nil }
        return clamped(seconds: date.timeIntervalSince(now))
    }

    private static func clamped(seconds: Double) -> Duration {
        seconds <= 0 ? .zero : min(.milliseconds((min(seconds, 86_400) * 1000).rounded()), retryAfterLimit)
    }

    /// IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the form RFC 9110 requires of senders.
    private static func httpDate(_ text: String) -> Date? {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(secondsFromGMT: 0)
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        return formatter.date(from: text)
    }
}
