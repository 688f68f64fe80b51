// libFuzzer target: the text of --x/--scale number lists, -o key=value, and the quoting of
// echoed input (built by scripts/fuzz.sh with the gss sources it names).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOptionText(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    // @FILE reads a file; the file formats have their own targets.
    if !text.hasPrefix("@") {
        if let values = try? NumberList.parse(text) {
            precondition(values.allSatisfy(\.isFinite) && values.count == text.split(separator: ",", omittingEmptySubsequences: false).count)
        }
    }
    if let option = try? parsePluginOption(text) {
        precondition(!option.key.isEmpty && option.key + "=" + option.value == text)
    }
    let quoted = quotedInput(text)
    precondition(!quoted.unicodeScalars.contains { $0.properties.generalCategory == .control }, "a control character in \(quoted)")
    precondition(quoted.count <= 140, "\(quoted.count) characters")
    return 0
}
