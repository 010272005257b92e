/// Expands `${NAME}` and `${NAME:-default}` in a scalar. `$$` is a literal `$`.
enum EnvironmentSubstitution {
    enum Failure: Error, Equatable {
        case unset(String)
        case malformed(String)
    }

    static func expand(_ input: String, environment: [String: String]) -> Result<String, Failure> {
        guard input.contains("$") else { return .success(input) }
        var output = ""
        var rest = Substring(input)
        while let dollar = rest.firstIndex(of: "$") {
            output += rest[..<dollar]
            let afterDollar = rest.index(after: dollar)
            guard afterDollar < rest.endIndex else {
                output += "$"
                rest = rest[afterDollar...]
                break
            }
            if rest[afterDollar] == "$" {
                output += "$"
                rest = rest[rest.index(after: afterDollar)...]
                continue
            }
            guard rest[afterDollar] == "{" else {
                output += "$"
                rest = rest[afterDollar...]
                continue
            }
            let bodyStart = rest.index(after: afterDollar)
            guard let close = rest[bodyStart...].firstIndex(of: "}") else {
                return .failure(.malformed("unclosed '${' in \"\(input)\""))
            }
            let body = rest[bodyStart..<close]
            let name: Substring
            let fallback: Substring?
            if let range = body.range(of: ":-") {
                name = body[..<range.lowerBound]
                fallback = body[range.upperBound...]
            } else {
                name = body
                fallback = nil
            }
            guard isValidName(name) else {
                return .failure(.malformed("'${\(body)}' is not a reference like ${NAME} or ${NAME:-default}"))
            }
            if let value = environment[String(name)], !(fallback != nil && value.isEmpty) {
                output += value
            } else if let fallback {
                output += fallback
            } else {
                return .failure(.unset(String(name)))
            }
            rest = rest[rest.index(after: close)...]
        }
        output += rest
        return .success(output)
    }

    static func isValidName(_ name: some StringProtocol) -> Bool {
        guard let first = name.unicodeScalars.first, first == "_" || (first.isASCII && first.properties.isAlphabetic)
        else { return false }
        return name.unicodeScalars.allSatisfy { $0 == "_" || ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) }
    }
}
