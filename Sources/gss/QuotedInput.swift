/// User input shown in a message, in single quotes: control characters escaped (a newline must
/// not end the sentence early, nor an escape sequence reach the terminal) and a long value
/// shortened to its first characters or comma-separated items with the full count:
/// `'0.1,0.2,…' (20,000 items)`. Every message that echoes what the user typed goes through it.
func quotedInput(_ text: some StringProtocol, limit: Int = 40) -> String {
    let escaped = escapingControlCharacters(String(text))
    // A little slack, so that a value just over the limit is shown whole rather than cut.
    if escaped.count <= limit + 20 { return "'\(escaped)'" }
    let items = text.split(separator: ",", omittingEmptySubsequences: false)
    if items.count > 2 {
        var shown: [String] = []
        var length = 0
        for item in items {
            let word = escapingControlCharacters(String(item))
            guard shown.isEmpty || length + word.count + 1 <= limit else { break }
            shown.append(word.count > limit ? String(word.prefix(limit)) + "…" : word)
            length += word.count + 1
        }
        return "'\(shown.joined(separator: ",")),…' (\(groupedDigits(items.count)) items)"
    }
    return "'\(escaped.prefix(limit))…' (\(groupedDigits(text.count)) characters)"
}

/// Newline, tab and carriage return as \n, \t, \r; other control characters (and the Unicode
/// line separators) as \u{…}, so that the text stays on one line and inert on a terminal.
func escapingControlCharacters(_ text: String) -> String {
    var result = ""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\n": result += "\\n"
        case "\r": result += "\\r"
        case "\t": result += "\\t"
        case "\u{2028}", "\u{2029}": result += "\\u{\(String(scalar.value, radix: 16))}"
        case _ where scalar.properties.generalCategory == .control:
            result += "\\u{\(String(scalar.value, radix: 16))}"
        default: result.unicodeScalars.append(scalar)
        }
    }
    return result
}

/// 20000 → "20,000".
func groupedDigits(_ value: Int) -> String {
    let digits = Array(String(value.magnitude))
    var grouped = ""
    for (index, digit) in digits.enumerated() {
        if index > 0 && (digits.count - index) % 3 == 0 { grouped += "," }
        grouped.append(digit)
    }
    return (value < 0 ? "-" : "") + grouped
}
