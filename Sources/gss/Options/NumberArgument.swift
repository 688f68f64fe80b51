/// Numeric option values, parsed so that a bad one says what was expected (argument-parser alone
/// says only that the value is invalid). The options using these also take `parsing:
/// .unconditional`, so that `--samples -5` is read as the value -5 and refused by its range check.
enum NumberArgument {
    static func wholeNumber(_ text: String) throws(CommandError) -> Int {
        guard let value = Int(text) else {
            let isWholeButLarge = !text.isEmpty && text.dropFirst(text.first == "-" || text.first == "+" ? 1 : 0).allSatisfy(\.isASCIIDigit)
            throw .usage(isWholeButLarge ? "expected a whole number from \(Int.min) to \(Int.max)" : "expected a whole number such as 8")
        }
        return value
    }

    static func number(_ text: String) throws(CommandError) -> Double {
        guard let value = Double(text) else { throw .usage("expected a number such as 0.5 or 1e-3") }
        return value
    }

    static func seed(_ text: String) throws(CommandError) -> UInt64 {
        guard let value = UInt64(text) else { throw .usage("expected a whole number from 0 to \(UInt64.max)") }
        return value
    }
}

extension Character {
    var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}
