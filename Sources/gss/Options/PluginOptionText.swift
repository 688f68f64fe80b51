/// One `-o key=value`, split at its first '=' (the value may hold more); the key must not be empty.
func parsePluginOption(_ text: String) throws(CommandError) -> (key: String, value: String) {
    guard let equals = text.firstIndex(of: "="), equals != text.startIndex else {
        throw .usage("-o expects key=value, got \(quotedInput(text))")
    }
    return (String(text[..<equals]), String(text[text.index(after: equals)...]))
}
