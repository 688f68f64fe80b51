import Glibc

extension String {
    /// Numbers formatted as printf does (vsnprintf): `String(cFormat: "%.3g", x)`. For the
    /// numeric conversions gss uses (%d, %f, %e, %g) this is what Foundation's String(format:)
    /// gives; it is here so that the command, GSSStudy and this module need no more of Foundation
    /// than FoundationEssentials, which keeps the `gss` executable small and quick to start.
    public init(cFormat format: String, _ arguments: any CVarArg...) {
        let length = Int(withVaList(arguments) { vsnprintf(nil, 0, format, $0) })
        guard length > 0 else {
            self = ""
            return
        }
        // A va_list is consumed by one call, so the second call gets a fresh one.
        self = String(unsafeUninitializedCapacity: length + 1) { buffer in
            buffer.withMemoryRebound(to: CChar.self) { characters in
                _ = withVaList(arguments) { vsnprintf(characters.baseAddress, length + 1, format, $0) }
            }
            return length
        }
    }
}
