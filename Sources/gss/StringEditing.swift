extension StringProtocol {
    /// Without leading and trailing spaces and tabs: Foundation's trimmingCharacters(in:
    /// .whitespaces) (Unicode category Zs and U+0009), which the command does not link.
    func trimmingSpaces() -> String {
        func isSpace(_ scalar: Unicode.Scalar) -> Bool { scalar == "\t" || scalar.properties.generalCategory == .spaceSeparator }
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { !isSpace($0) }), let last = scalars.lastIndex(where: { !isSpace($0) }) else {
            return ""
        }
        return String(String.UnicodeScalarView(scalars[first...last]))
    }

    /// Cut, or padded on the right with spaces, to `width` characters: Foundation's
    /// padding(toLength: width, withPad: " ", startingAt: 0).
    func padded(to width: Int) -> String {
        count >= width ? String(prefix(width)) : String(self) + String(repeating: " ", count: width - count)
    }
}
