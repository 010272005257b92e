/// Typed reads from a `JSONValue` with OpenAI-style 400 errors naming the field (`messages[2].role: …`).
/// Paths are built only when an error is thrown.
enum JSONFields {
    static func fail(_ path: String, _ message: String) -> OpenAIError {
        .invalidRequest("\(path): \(message)", param: path)
    }

    static func object(_ value: JSONValue, _ path: @autoclosure () -> String) throws(OpenAIError) -> [String: JSONValue] {
        guard case .object(let members) = value else { throw fail(path(), "expected an object") }
        return members
    }

    static func array(_ value: JSONValue, _ path: @autoclosure () -> String) throws(OpenAIError) -> [JSONValue] {
        guard case .array(let elements) = value else { throw fail(path(), "expected an array") }
        return elements
    }

    static func string(_ value: JSONValue, _ path: @autoclosure () -> String) throws(OpenAIError) -> String {
        guard case .string(let text) = value else { throw fail(path(), "expected a string") }
        return text
    }

    static func bool(_ value: JSONValue, _ path: @autoclosure () -> String) throws(OpenAIError) -> Bool {
        guard case .bool(let flag) = value else { throw fail(path(), "expected a boolean") }
        return flag
    }

    static func int(_ value: JSONValue, _ path: @autoclosure () -> String) throws(OpenAIError) -> Int {
        switch value {
        case .integer(let number): return Int(number)
        case .number(let number) where number == number.rounded() && abs(number) < 1e15: return Int(number)
        default: throw fail(path(), "expected an integer")
        }
    }

    static func double(_ value: JSONValue, _ path: @autoclosure () -> String) throws(OpenAIError) -> Double {
        switch value {
        case .integer(let number): return Double(number)
        case .number(let number): return number
        default: throw fail(path(), "expected a number")
        }
    }

    static func required(_ members: [String: JSONValue], _ key: String, _ path: @autoclosure () -> String) throws(OpenAIError) -> JSONValue {
        guard let value = members[key], value != .null else {
            let base = path()
            throw fail(base.isEmpty ? key : "\(base).\(key)", "missing required field")
        }
        return value
    }
}
