import Foundation
import GRDB

/// A date as GRDB stores it ("yyyy-MM-dd HH:mm:ss.SSS", UTC, to the nearest millisecond), written without
/// `DateFormatter`: through ICU, formatting each outcome row's time cost more than inserting the row.
enum StoredDate {
    /// The same text as `date.databaseValue`; dates outside years 1600–9999 go through GRDB.
    static func databaseValue(_ date: Date) -> DatabaseValue {
        // CoreFoundation's formatter hands ICU `(reference-date seconds + 978307200) · 1000 + 0.5` and ICU floors
        // it: milliseconds rounded half up, computed in that order so the float rounding is the same too.
        let milliseconds = ((date.timeIntervalSinceReferenceDate + 978_307_200) * 1000 + 0.5).rounded(.down)
        guard milliseconds.isFinite, abs(milliseconds) < 2.5e14 else { return date.databaseValue }
        let total = Int64(milliseconds)
        let msPerDay: Int64 = 86_400_000
        let days = total >= 0 ? total / msPerDay : (total - msPerDay + 1) / msPerDay
        let inDay = total - days * msPerDay
        let (year, month, day) = civil(fromDays: days)
        // ICU switches to the Julian calendar before the 1582 Gregorian reform.
        guard (1600...9999).contains(year) else { return date.databaseValue }
        var bytes = [UInt8](repeating: 0, count: 23)
        func put(_ value: Int64, width: Int, at offset: Int) {
            var v = value
            for i in stride(from: offset + width - 1, through: offset, by: -1) {
                bytes[i] = UInt8(48 + v % 10)
                v /= 10
            }
        }
        put(year, width: 4, at: 0)
        bytes[4] = UInt8(ascii: "-")
        put(month, width: 2, at: 5)
        bytes[7] = UInt8(ascii: "-")
        put(day, width: 2, at: 8)
        bytes[10] = UInt8(ascii: " ")
        put(inDay / 3_600_000, width: 2, at: 11)
        bytes[13] = UInt8(ascii: ":")
        put(inDay / 60_000 % 60, width: 2, at: 14)
        bytes[16] = UInt8(ascii: ":")
        put(inDay / 1000 % 60, width: 2, at: 17)
        bytes[19] = UInt8(ascii: ".")
        put(inDay % 1000, width: 3, at: 20)
        return String(decoding: bytes, as: UTF8.self).databaseValue
    }

    /// Proleptic Gregorian year, month, day of a day count from 1970-01-01 (H. Hinnant's `civil_from_days`).
    static func civil(fromDays days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}
