// libFuzzer target: the --exec line protocol, what gss reads back from a program's stdout: the
// bytes go through InputBuffer line by line into NumberText.parse (built by scripts/fuzz.sh with
// GSSHost's NumberText.swift and the SystemPackage module SwiftPM built).
import Glibc
import SystemPackage

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzExecLines(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard size > 0, let data else { return 0 }
    // The first byte picks m (1 to 8); the rest is what the program printed, through a pipe.
    let expected = Int(data[0] % 8) + 1
    var ends: [Int32] = [0, 0]
    guard pipe(&ends) == 0 else { return 0 }
    defer { close(ends[0]) }
    // Within a pipe's capacity, since nothing reads while this writes.
    let payload = min(size - 1, 60_000)
    var written = 0
    while written < payload {
        let count = write(ends[1], data + 1 + written, payload - written)
        if count <= 0 { break }
        written += count
    }
    close(ends[1])
    var buffer = InputBuffer()
    var outputs = [Double](repeating: 0, count: expected)
    while case .read = try! buffer.read(from: FileDescriptor(rawValue: ends[0])) {
        while let outcome = buffer.withNextLine({ line in
            outputs.withUnsafeMutableBufferPointer { NumberText.parse(line, expecting: expected, into: $0.baseAddress!) }
        }) {
            if outcome == .parsed { precondition(outputs.allSatisfy(\.isFinite)) }
        }
    }
    _ = buffer.nextLineText
    return 0
}
