import Testing
@testable import Routing

@Suite struct PIIScannerTests {
    let scanner = PIIScanner()

    func types(_ text: String) -> [PIIType] { scanner.findings(in: text).map(\.type) }

    @Test(arguments: [
        ("mail me at jane.doe+x@example.co.uk please", PIIType.email),
        ("card 4111 1111 1111 1111 exp 12/29", .paymentCard),
        ("card 5500-0000-0000-0004", .paymentCard),
        ("IBAN DE89 3704 0044 0532 0130 00 thanks", .iban),
        ("iban GB82WEST12345698765432", .iban),
        ("ssn 123-45-6789.", .usSSN),
        ("server at 192.168.1.20 down", .ipAddress),
        ("v6 2001:db8::8a2e:370:7334 here", .ipAddress),
        ("loopback ::1", .ipAddress),
        ("call +1 415 555 2671 now", .phone),
        ("call (415) 555-2671 now", .phone),
        ("key sk-proj-abcdefghijklmnopqrstuvwxyz123456", .secret),
        ("key sk-ant-api03-abcdefghijklmnopqrstuv", .secret),
        ("token ghp_abcdefghijklmnopqrstuvwxyz0123456789", .secret),
        ("aws AKIAIOSFODNN7EXAMPLE", .secret),
        ("slack xoxb-1234567890-abcdef", .secret),
        ("blob Zx9Qm2Lp8Rt4Vw7Ky1Hn5Bc3Df6Gj0Ss", .secret),
    ])
    func findsBuiltInTypes(text: String, type: PIIType) {
        #expect(types(text) == [type])
    }

    @Test(arguments: [
        "card 4111 1111 1111 1112",           // Luhn fails
        "IBAN GB82WEST12345698765433",        // mod 97 fails
        "ssn 000-12-3456 or 666-12-3456",     // invalid areas
        "version 1.2.3.4.5 and 300.1.1.1",
        "at 12:30:45 we met; std::vector",
        "the quick brown fox jumps over the lazy dog",
        "commit 3ad9802f1c7e4b2a9d0c5e6f7a8b9c0d1e2f3a4b",  // hex digest, not a secret
        "user@localhost is no email",
        "order 1234567890 shipped",
    ])
    func ignoresLookalikes(text: String) {
        #expect(types(text).isEmpty, "\(text)")
    }

    @Test func customPatternsAreReportedByName() throws {
        let s = try PIIScanner(customPatterns: [CustomPIIPattern(name: "employee_id", pattern: "EMP-[0-9]{6}")])
        #expect(s.counts(in: "ask EMP-123456 and EMP-654321") == [.custom("employee_id"): 2])
    }

    @Test func invalidCustomPatternNamesIt() {
        #expect(throws: RoutingPolicyError.invalidPattern(name: "bad", pattern: "([")) {
            _ = try PIIScanner(customPatterns: [CustomPIIPattern(name: "bad", pattern: "([")])
        }
    }

    @Test func redactionIsStableAndRestores() {
        var map = RedactionMap()
        let text = "write to a@b.io and a@b.io, card 4111111111111111, café ünïcode"
        let redacted = map.redact(text, scanner: scanner, types: Set(PIIType.builtIn))
        #expect(!redacted.contains("a@b.io"))
        #expect(!redacted.contains("4111111111111111"))
        #expect(redacted.components(separatedBy: "<<PHI:EMAIL:1>>").count == 3)
        #expect(redacted.contains("<<PHI:PAYMENT_CARD:1>>"))
        #expect(map.restore(redacted) == text)
    }

    @Test func streamedRestorationAcrossChunkBoundaries() {
        var map = RedactionMap()
        let original = "Reply to jane@example.com about card 4111 1111 1111 1111 < 5 <<not>> done"
        let redacted = map.redact(original, scanner: scanner, types: Set(PIIType.builtIn))
        // Every split into chunks of every size gives the original back, never showing a partial placeholder.
        for size in 1...12 {
            var restorer = PlaceholderRestorer(map: map)
            var out = ""
            var chunk = ""
            for ch in redacted {
                chunk.append(ch)
                if chunk.count == size {
                    let shown = restorer.feed(chunk)
                    #expect(!shown.contains("<<PHI"))
                    out += shown
                    chunk = ""
                }
            }
            out += restorer.feed(chunk) + restorer.finish()
            #expect(out == original, "chunk size \(size)")
        }
    }
}
