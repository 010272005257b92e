// Unicode general categories as the tokenizers' regexes use them (\p{L}, \p{N}, \p{M}, \s).

extension Unicode.Scalar {
    /// `\p{L}`: Lu, Ll, Lt, Lm, Lo.
    var isLetterCategory: Bool {
        if value < 0x80 {
            return (value >= 0x41 && value <= 0x5A) || (value >= 0x61 && value <= 0x7A)
        }
        switch properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return true
        default: return false
        }
    }

    /// `\p{N}`: Nd, Nl, No.
    var isNumberCategory: Bool {
        if value < 0x80 { return value >= 0x30 && value <= 0x39 }
        switch properties.generalCategory {
        case .decimalNumber, .letterNumber, .otherNumber: return true
        default: return false
        }
    }

    /// `\s`: the Unicode White_Space property (Oniguruma's and Rust's `char::is_whitespace`).
    var isWhitespaceClass: Bool {
        if value < 0x80 { return value == 0x20 || (value >= 0x09 && value <= 0x0D) }
        return properties.isWhitespace
    }

    /// `[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]`: o200k's "upper" class.
    var isO200kUpper: Bool {
        if value < 0x80 { return value >= 0x41 && value <= 0x5A }
        switch properties.generalCategory {
        case .uppercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter,
            .nonspacingMark, .spacingMark, .enclosingMark:
            return true
        default: return false
        }
    }

    /// `[\p{Ll}\p{Lm}\p{Lo}\p{M}]`: o200k's "lower" class.
    var isO200kLower: Bool {
        if value < 0x80 { return value >= 0x61 && value <= 0x7A }
        switch properties.generalCategory {
        case .lowercaseLetter, .modifierLetter, .otherLetter,
            .nonspacingMark, .spacingMark, .enclosingMark:
            return true
        default: return false
        }
    }

    var isNewline: Bool { value == 0x0A || value == 0x0D }
}
