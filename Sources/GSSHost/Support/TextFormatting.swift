import Glibc

extension String {
    /// printf-style text, for numbers in messages: String(cFormat: "%.1f KiB", kib). Formatted
    /// by the C library in the "C" locale (a '.' decimal point, as String(format:) wrote it).
    init(cFormat format: String, _ arguments: any CVarArg...) {
        let length = withVaList(arguments) { vsnprintf(nil, 0, format, $0) }
        // Room for the terminating NUL that vsnprintf writes after the text.
        self = String(unsafeUninitializedCapacity: Swift.max(Int(length), 0) + 1) { bytes in
            withVaList(arguments) { list in
                bytes.withMemoryRebound(to: CChar.self) { Swift.max(Int(vsnprintf($0.baseAddress, $0.count, format, list)), 0) }
            }
        }
    }
}
