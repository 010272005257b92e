/// A kind of personal or secret data. Built-ins have fixed names; policy patterns are `custom:<name>`.
public struct PIIType: RawRepresentable, Sendable, Hashable, Comparable, CustomStringConvertible {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    public static let email = PIIType(rawValue: "email")
    public static let phone = PIIType(rawValue: "phone")
    public static let paymentCard = PIIType(rawValue: "payment_card")
    public static let iban = PIIType(rawValue: "iban")
    public static let usSSN = PIIType(rawValue: "us_ssn")
    public static let ipAddress = PIIType(rawValue: "ip_address")
    public static let secret = PIIType(rawValue: "secret")

    public static let builtIn: [PIIType] = [.email, .phone, .paymentCard, .iban, .usSSN, .ipAddress, .secret]

    public static func custom(_ name: String) -> PIIType { PIIType(rawValue: "custom:\(name)") }

    /// A built-in or `custom:<name>` name as a policy writes it; nil for an unknown built-in.
    public init?(policyName: String) {
        if policyName.hasPrefix("custom:") && policyName.count > 7 {
            self.init(rawValue: policyName)
        } else if let known = Self.builtIn.first(where: { $0.rawValue == policyName }) {
            self = known
        } else {
            return nil
        }
    }

    public var description: String { rawValue }
    public static func < (a: PIIType, b: PIIType) -> Bool { a.rawValue < b.rawValue }
}

/// One match: its type and UTF-8 byte offsets in the scanned text (the value itself is never stored).
public struct PIIFinding: Sendable, Hashable {
    public var type: PIIType
    public var range: Range<Int>
    public init(type: PIIType, range: Range<Int>) {
        self.type = type
        self.range = range
    }
}
