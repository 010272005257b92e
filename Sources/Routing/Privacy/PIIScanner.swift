import Foundation

/// Finds personal data and secrets in text with hand-written scanners over UTF-8 bytes (no regular
/// expressions for the built-ins): emails, phone numbers, payment cards (Luhn), IBANs (mod 97), US SSNs,
/// IPv4/IPv6 addresses, API keys (provider prefixes and high-entropy tokens); plus the policy's own patterns.
public struct PIIScanner: Sendable {
    /// A compiled policy pattern. NSRegularExpression is immutable after creation and documented thread-safe,
    /// which is the invariant behind `@unchecked Sendable`.
    final class CompiledPattern: @unchecked Sendable {
        let type: PIIType
        let expression: NSRegularExpression
        init(type: PIIType, expression: NSRegularExpression) {
            self.type = type
            self.expression = expression
        }
    }

    let custom: [CompiledPattern]

    /// Built-in scanners only.
    public init() {
        custom = []
    }

    /// Built-ins plus `patterns`; throws the first pattern that does not compile, naming it.
    public init(customPatterns patterns: [CustomPIIPattern]) throws(RoutingPolicyError) {
        var compiled: [CompiledPattern] = []
        for pattern in patterns {
            do {
                compiled.append(CompiledPattern(type: .custom(pattern.name), expression: try NSRegularExpression(pattern: pattern.pattern)))
            } catch {
                throw .invalidPattern(name: pattern.name, pattern: pattern.pattern)
            }
        }
        custom = compiled
    }

    /// Count of findings per type.
    public func counts(in text: String) -> [PIIType: Int] {
        var counts: [PIIType: Int] = [:]
        for f in findings(in: text) { counts[f.type, default: 0] += 1 }
        return counts
    }

    /// Non-overlapping findings, sorted by position (earlier scanners win overlaps: secrets, emails, IBANs,
    /// cards, SSNs, IP addresses, phones, then custom patterns).
    public func findings(in text: String) -> [PIIFinding] {
        let bytes = Array(text.utf8)
        var found: [PIIFinding] = []
        var taken = [Bool](repeating: false, count: bytes.count)
        func add(_ type: PIIType, _ range: Range<Int>) {
            guard !range.isEmpty, !taken[range].contains(true) else { return }
            for i in range { taken[i] = true }
            found.append(PIIFinding(type: type, range: range))
        }
        for r in Self.secrets(bytes) { add(.secret, r) }
        for r in Self.emails(bytes) { add(.email, r) }
        for r in Self.ibans(bytes) { add(.iban, r) }
        for r in Self.cards(bytes) { add(.paymentCard, r) }
        for r in Self.ssns(bytes) { add(.usSSN, r) }
        for r in Self.ipv4(bytes) { add(.ipAddress, r) }
        for r in Self.ipv6(bytes) { add(.ipAddress, r) }
        for r in Self.phones(bytes) { add(.phone, r) }
        if !custom.isEmpty {
            let ns = text as NSString
            for pattern in custom {
                for match in pattern.expression.matches(in: text, range: NSRange(location: 0, length: ns.length)) {
                    let prefix = ns.substring(to: match.range.location).utf8.count
                    let length = ns.substring(with: match.range).utf8.count
                    add(pattern.type, prefix..<(prefix + length))
                }
            }
        }
        return found.sorted { $0.range.lowerBound < $1.range.lowerBound }
    }

    // MARK: Byte classes

    @inline(__always) static func isDigit(_ b: UInt8) -> Bool { b >= 48 && b <= 57 }
    @inline(__always) static func isUpper(_ b: UInt8) -> Bool { b >= 65 && b <= 90 }
    @inline(__always) static func isLower(_ b: UInt8) -> Bool { b >= 97 && b <= 122 }
    @inline(__always) static func isAlpha(_ b: UInt8) -> Bool { isUpper(b) || isLower(b) }
    @inline(__always) static func isAlnum(_ b: UInt8) -> Bool { isAlpha(b) || isDigit(b) }
    @inline(__always) static func isHex(_ b: UInt8) -> Bool { isDigit(b) || (b | 0x20 >= 97 && b | 0x20 <= 102) }
    @inline(__always) static func isTokenByte(_ b: UInt8) -> Bool { isAlnum(b) || b == 95 || b == 45 }  // _ -

    // MARK: Emails

    static func emails(_ s: [UInt8]) -> [Range<Int>] {
        func isLocal(_ b: UInt8) -> Bool { isAlnum(b) || b == 46 || b == 95 || b == 37 || b == 43 || b == 45 }
        func isDomain(_ b: UInt8) -> Bool { isAlnum(b) || b == 46 || b == 45 }
        var out: [Range<Int>] = []
        var i = 0
        while i < s.count {
            guard s[i] == 64 else { i += 1; continue }  // @
            var start = i
            while start > 0 && isLocal(s[start - 1]) { start -= 1 }
            while start < i && s[start] == 46 { start += 1 }
            var end = i + 1
            while end < s.count && isDomain(s[end]) { end += 1 }
            while end > i + 1 && (s[end - 1] == 46 || s[end - 1] == 45) { end -= 1 }
            let domain = s[(i + 1)..<end]
            if start < i, let dot = domain.lastIndex(of: 46), dot > i + 1, end - dot - 1 >= 2,
               s[(dot + 1)..<end].allSatisfy(isAlpha) {
                out.append(start..<end)
                i = end
            } else {
                i += 1
            }
        }
        return out
    }

    // MARK: Digit groups: cards, SSNs, phones

    /// Runs of digits joined by single separators from `separators`, bounded by non-alphanumerics.
    static func digitRuns(_ s: [UInt8], separators: Set<UInt8>) -> [(range: Range<Int>, digits: [UInt8])] {
        var out: [(Range<Int>, [UInt8])] = []
        var i = 0
        while i < s.count {
            guard isDigit(s[i]), i == 0 || !isAlnum(s[i - 1]) else { i += 1; continue }
            var digits: [UInt8] = []
            var j = i
            var end = i
            while j < s.count {
                if isDigit(s[j]) {
                    digits.append(s[j] - 48); j += 1; end = j
                } else if separators.contains(s[j]) && j + 1 < s.count && isDigit(s[j + 1]) {
                    j += 1
                } else if separators.contains(s[j]) && j + 2 < s.count && separators.contains(s[j + 1]) && isDigit(s[j + 2]) {
                    j += 2
                } else {
                    break
                }
            }
            if end >= s.count || !isAlpha(s[end]) { out.append((i..<end, digits)) }
            i = max(j, i + 1)
        }
        return out
    }

    static func luhn(_ digits: [UInt8]) -> Bool {
        var sum = 0
        for (k, d) in digits.reversed().enumerated() {
            var v = Int(d)
            if k % 2 == 1 { v *= 2; if v > 9 { v -= 9 } }
            sum += v
        }
        return sum % 10 == 0
    }

    static func cards(_ s: [UInt8]) -> [Range<Int>] {
        digitRuns(s, separators: [32, 45]).compactMap { run in
            (13...19).contains(run.digits.count) && luhn(run.digits) && run.digits.contains { $0 != 0 } ? run.range : nil
        }
    }

    static func ssns(_ s: [UInt8]) -> [Range<Int>] {
        var out: [Range<Int>] = []
        guard s.count >= 11 else { return out }
        var i = 0
        while i + 11 <= s.count {
            let w = s[i..<(i + 11)]
            let shape = w.enumerated().allSatisfy { k, b in k == 3 || k == 6 ? b == 45 : isDigit(b) }
            let boundedLeft = i == 0 || (!isAlnum(s[i - 1]) && s[i - 1] != 45)
            let boundedRight = i + 11 == s.count || (!isAlnum(s[i + 11]) && s[i + 11] != 45)
            if shape && boundedLeft && boundedRight {
                let area = Int(s[i] - 48) * 100 + Int(s[i + 1] - 48) * 10 + Int(s[i + 2] - 48)
                let group = Int(s[i + 4] - 48) * 10 + Int(s[i + 5] - 48)
                let serial = s[(i + 7)..<(i + 11)].reduce(0) { $0 * 10 + Int($1 - 48) }
                if area != 0 && area != 666 && area < 900 && group != 0 && serial != 0 {
                    out.append(i..<(i + 11)); i += 11; continue
                }
            }
            i += 1
        }
        return out
    }

    static func phones(_ s: [UInt8]) -> [Range<Int>] {
        var out: [Range<Int>] = []
        for run in digitRuns(s, separators: [32, 45, 46, 40, 41]) {
            var range = run.range
            var plus = false
            if range.lowerBound > 0 && s[range.lowerBound - 1] == 43 { range = (range.lowerBound - 1)..<range.upperBound; plus = true }
            if range.lowerBound > 0 && s[range.lowerBound - 1] == 40 { range = (range.lowerBound - 1)..<range.upperBound }
            let separated = run.range.count > run.digits.count
            let n = run.digits.count
            if (plus && (8...15).contains(n)) || (separated && (10...13).contains(n)) {
                out.append(range)
            }
        }
        return out
    }

    // MARK: IBAN

    static func ibans(_ s: [UInt8]) -> [Range<Int>] {
        var out: [Range<Int>] = []
        var i = 0
        while i + 15 <= s.count {
            guard isUpper(s[i]), isUpper(s[i + 1]), isDigit(s[i + 2]), isDigit(s[i + 3]), i == 0 || !isAlnum(s[i - 1]) else {
                i += 1; continue
            }
            var chars: [UInt8] = Array(s[i..<(i + 4)])
            var j = i + 4
            var end = j
            while j < s.count && chars.count < 34 {
                if isDigit(s[j]) || isUpper(s[j]) {
                    chars.append(s[j]); j += 1; end = j
                } else if s[j] == 32 && j + 1 < s.count && (isDigit(s[j + 1]) || isUpper(s[j + 1])) {
                    j += 1
                } else {
                    break
                }
            }
            if chars.count >= 15 && (end == s.count || !isAlnum(s[end])) && mod97(chars) == 1 {
                out.append(i..<end); i = end
            } else {
                i += 1
            }
        }
        return out
    }

    static func mod97(_ chars: [UInt8]) -> Int {
        var remainder = 0
        for c in chars[4...] + chars[..<4] {
            if isDigit(c) {
                remainder = (remainder * 10 + Int(c - 48)) % 97
            } else {
                remainder = (remainder * 100 + Int(c - 55)) % 97
            }
        }
        return remainder
    }

    // MARK: IP addresses

    static func ipv4(_ s: [UInt8]) -> [Range<Int>] {
        var out: [Range<Int>] = []
        var i = 0
        while i < s.count {
            guard isDigit(s[i]), i == 0 || (!isAlnum(s[i - 1]) && s[i - 1] != 46) else { i += 1; continue }
            var j = i
            var octets = 0
            var ok = true
            while octets < 4 {
                var value = 0
                var len = 0
                while j < s.count && isDigit(s[j]) && len < 4 { value = value * 10 + Int(s[j] - 48); j += 1; len += 1 }
                if len == 0 || len > 3 || value > 255 { ok = false; break }
                octets += 1
                if octets < 4 {
                    if j < s.count && s[j] == 46 { j += 1 } else { ok = false; break }
                }
            }
            if ok && octets == 4 && (j == s.count || (!isAlnum(s[j]) && !(s[j] == 46 && j + 1 < s.count && isDigit(s[j + 1])))) {
                out.append(i..<j); i = j
            } else {
                i += 1
            }
        }
        return out
    }

    static func ipv6(_ s: [UInt8]) -> [Range<Int>] {
        var out: [Range<Int>] = []
        var i = 0
        while i < s.count {
            guard isHex(s[i]) || s[i] == 58, i == 0 || !(isHex(s[i - 1]) || s[i - 1] == 58 || isAlnum(s[i - 1])) else { i += 1; continue }
            var j = i
            while j < s.count && (isHex(s[j]) || s[j] == 58) { j += 1 }
            let candidate = s[i..<j]
            if j == s.count || !isAlnum(s[j]), validIPv6(Array(candidate)) {
                out.append(i..<j)
            }
            i = j + 1
        }
        return out
    }

    static func validIPv6(_ c: [UInt8]) -> Bool {
        guard c.count >= 3, c.count <= 39 else { return false }
        let text = String(decoding: c, as: UTF8.self)
        let doubles = text.components(separatedBy: "::").count - 1
        guard doubles <= 1 else { return false }
        let groups = text.split(separator: ":", omittingEmptySubsequences: true)
        guard groups.allSatisfy({ (1...4).contains($0.count) }) else { return false }
        if doubles == 1 {
            guard groups.count <= 7 else { return false }
            // "::1", "fe80::1", "2001:db8::8a2e:370:7334"; a bare "::" is not an address.
            return groups.count >= 2 || (text.hasPrefix("::") && groups.count == 1)
        }
        guard groups.count == 8, !text.hasPrefix(":"), !text.hasSuffix(":") else { return false }
        return true
    }

    // MARK: Secrets

    static let prefixes: [(prefix: [UInt8], minTail: Int)] = [
        ("sk-ant-", 20), ("sk-proj-", 20), ("sk-", 20), ("ghp_", 30), ("gho_", 30), ("ghs_", 30), ("ghu_", 30),
        ("github_pat_", 30), ("xoxb-", 10), ("xoxp-", 10), ("xoxa-", 10), ("xoxs-", 10), ("AIza", 30),
        ("glpat-", 20),
    ].map { (Array($0.0.utf8), $0.1) }

    static func secrets(_ s: [UInt8]) -> [Range<Int>] {
        var out: [Range<Int>] = []
        var i = 0
        while i < s.count {
            guard isTokenByte(s[i]), i == 0 || !isTokenByte(s[i - 1]) else { i += 1; continue }
            var j = i
            while j < s.count && isTokenByte(s[j]) { j += 1 }
            let token = s[i..<j]
            if isSecret(token) { out.append(i..<j) }
            i = j
        }
        return out
    }

    static func isSecret(_ t: ArraySlice<UInt8>) -> Bool {
        for (prefix, minTail) in prefixes where t.count >= prefix.count + minTail && t.starts(with: prefix) {
            return true
        }
        // AWS access key ids: AKIA/ASIA + 16 upper-case letters or digits.
        if t.count == 20, t.starts(with: Array("AKIA".utf8)) || t.starts(with: Array("ASIA".utf8)),
           t.dropFirst(4).allSatisfy({ isUpper($0) || isDigit($0) }) {
            return true
        }
        // High-entropy tokens: 32+ characters mixing letters and digits with ≥ 4 bits/char of entropy
        // (random base62/base64 keys; hex digests and words stay below).
        guard t.count >= 32 else { return false }
        var hasDigit = false, hasUpper = false, hasLower = false
        var histogram = [Int](repeating: 0, count: 128)
        for b in t {
            if isDigit(b) { hasDigit = true } else if isUpper(b) { hasUpper = true } else if isLower(b) { hasLower = true }
            histogram[Int(b & 0x7f)] += 1
        }
        guard hasDigit && hasUpper && hasLower else { return false }
        let n = Double(t.count)
        var entropy = 0.0
        for c in histogram where c > 0 {
            let p = Double(c) / n
            entropy -= p * log2(p)
        }
        return entropy >= 4.0
    }
}
