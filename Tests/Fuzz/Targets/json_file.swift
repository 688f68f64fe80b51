// libFuzzer target: JSON files as @FILE reads them (built by scripts/fuzz.sh with the gss sources).
import Foundation

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJSONFile(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = Data(UnsafeBufferPointer(start: data, count: size))
    if let (values, shape) = try? NumberFile.parseArray(bytes, path: "fuzz.json") {
        precondition(values.allSatisfy(\.isFinite))
        if let shape { precondition(values.count == (shape.contains(0) ? 0 : shape.reduce(1, *))) }
    }
    return 0
}
