// libFuzzer target: --signature (built by scripts/fuzz.sh with GSSHost's FunctionSignature.swift).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSignature(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    if let signature = try? FunctionSignature(parsing: text) {
        // What it prints reads back as the same signature.
        precondition((try? FunctionSignature(parsing: signature.description)) == signature)
    }
    return 0
}
