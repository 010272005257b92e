import Foundation
import GRDB
import Testing

@testable import OutcomeStore

/// The hand-written date text must be exactly what GRDB writes (`Date.databaseValue`, ICU's "yyyy-MM-dd
/// HH:mm:ss.SSS" in UTC), or rows written before and after it would sort and filter differently.
@Suite struct StoredDateTests {
    @Test func matchesGRDBForRandomDates() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<5_000 {
            // 1900 to 2200, with sub-millisecond fractions.
            let seconds = Double.random(in: -2_208_988_800...7_258_118_400, using: &generator)
            let date = Date(timeIntervalSince1970: seconds)
            #expect(StoredDate.databaseValue(date) == date.databaseValue, "\(seconds)")
        }
    }

    @Test(arguments: [
        0, -0.0005, -1, 0.9999, 59.9995, 86_399.999, 86_400, 951_782_400, 951_868_799.999_9, 4_107_542_400,
        1_700_000_000.123_456, 1_764_547_200.5, -62_135_596_800, 253_402_300_799.999,
    ])
    func matchesGRDBAtBoundaries(seconds: Double) {
        let date = Date(timeIntervalSince1970: seconds)
        #expect(StoredDate.databaseValue(date) == date.databaseValue)
    }

    @Test func civilDates() {
        #expect(StoredDate.civil(fromDays: 0) == (1970, 1, 1))
        #expect(StoredDate.civil(fromDays: 11_016) == (2000, 2, 29))
        #expect(StoredDate.civil(fromDays: 47_541) == (2100, 3, 1))
        #expect(StoredDate.civil(fromDays: -1) == (1969, 12, 31))
    }
}
