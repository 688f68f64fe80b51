// libFuzzer target: .npy files as @FILE reads them (built by scripts/fuzz.sh with the gss sources).
import Foundation

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzNumPyFile(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = Data(UnsafeBufferPointer(start: data, count: size))
    if let (values, shape) = try? NumberFile.parseArray(bytes, path: "fuzz.npy") {
        // A zero extent empties the array whatever the others claim (their product may overflow).
        let count = (shape ?? []).contains(0) ? 0 : (shape ?? []).reduce(1, *)
        precondition(values.allSatisfy(\.isFinite) && values.count == count)
    }
    return 0
}
